package kernel

import (
	"bufio"
	"compress/gzip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

// This file is how late the kernel may do what a notebook says it does at
// an exact time, so that kernel-mode expectations are judged with a
// tolerance that comes from the mechanism, not from a fitted number.

// Latency is the fixed part of the tolerance: a transition a timer makes
// without a packet is seen up to sim.KernelTick late, and the run loop,
// the TUN device and the scheduler add more: about 1 ms a packet on an
// idle machine, up to 30 ms seen with ten kernel runs and the Go runtime
// sharing two cores.
const Latency = sim.KernelTick + 40*time.Millisecond

// HZ is the running kernel's timer frequency (CONFIG_HZ from
// /proc/config.gz), and whether it was read; when it cannot be read it is
// 1000, the value with the widest slack for long timers.
func HZ() (hz int, known bool) {
	hzOnce.Do(func() { hzValue, hzKnown = readHZ() })
	return hzValue, hzKnown
}

var (
	hzOnce  sync.Once
	hzValue int
	hzKnown bool
)

func readHZ() (int, bool) {
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return 1000, false
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return 1000, false
	}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_HZ="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n, true
			}
		}
	}
	return 1000, false
}

// TimerSlack is how late a kernel timer armed d ahead may fire at hz: the
// granularity of the timer wheel level it lands in (timewait.WheelFire:
// calc_wheel_index in kernel/time/timer.c rounds the expiry up to the end
// of its level's bucket, 8^n jiffies at level n). A 60 s TIME-WAIT at
// HZ=250 lands in level 3: up to 2.048 s late; at HZ=1000 in level 4: up
// to 4.096 s.
func TimerSlack(d time.Duration, hz int) time.Duration {
	if d <= 0 || hz <= 0 {
		return 0
	}
	// In whole jiffies, rounded up, as msecs_to_jiffies arms a timer.
	jiffies := uint64((int64(d)*int64(hz) + int64(time.Second) - 1) / int64(time.Second))
	return time.Duration(timewait.WheelGranularity(jiffies)) * time.Second / time.Duration(hz)
}

// Tolerance is how far from a time a notebook states the kernel may be,
// when the time is offset d from an event the run saw (a timer of length
// d): Latency plus TimerSlack(d).
func Tolerance(d time.Duration) time.Duration {
	hz, _ := HZ()
	if d < 0 {
		d = -d
	}
	return Latency + TimerSlack(d, hz)
}
