package main

import (
	"os"
	"runtime"
	"sync"
)

// cores counts the commands running on one core (tests run several at
// once in one process); the first sets GOMAXPROCS to 1, the last puts
// back what it was.
var cores struct {
	sync.Mutex
	n    int
	prev int
}

// oneCore runs the process on one core (GOMAXPROCS=1) while a command runs
// one simulated World at a time, and returns what undoes it. A World is
// sequential by construction: its stacks' TCP processors work only while
// the simulation goroutine waits for them at a barrier, so a second core
// buys nothing but hand-offs between threads (a futex wake and a sleep per
// delivered packet). On one core those hand-offs are goroutine switches:
// BenchmarkLifecycles runs 1.3 to 1.5 times as many lifecycles a second,
// in wall time, with -cpu 1 as with -cpu 2 (docs/performance.md). A kernel
// run (real time, its TUN readers must keep up) and a GOMAXPROCS the user
// set are left alone; outputs are the same either way (TestDeterminism).
func oneCore(kernel bool) func() {
	if kernel || os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	cores.Lock()
	if cores.n++; cores.n == 1 {
		cores.prev = runtime.GOMAXPROCS(1)
	}
	cores.Unlock()
	return func() {
		cores.Lock()
		if cores.n--; cores.n == 0 {
			runtime.GOMAXPROCS(cores.prev)
		}
		cores.Unlock()
	}
}

// moreCores gives the process up to n cores (at most the machine's) while
// commands hold it on one: a parallel notebook's lanes run at once, one
// core each (scenarios.Config.Lanes). The last command to end puts back
// what GOMAXPROCS was. A GOMAXPROCS the user set is left alone.
func moreCores(n int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	cores.Lock()
	defer cores.Unlock()
	if want := min(n, runtime.NumCPU()); cores.n > 0 && runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
}

// fewerCores puts the process back on one core after a parallel notebook,
// while commands hold it there.
func fewerCores() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	cores.Lock()
	defer cores.Unlock()
	if cores.n > 0 {
		runtime.GOMAXPROCS(1)
	}
}
