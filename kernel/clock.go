package kernel

import (
	"sync"
	"time"
)

// Clock is wall-clock time since the start of a run: the sim.Clock of a
// World whose hosts are kernels. It is the one clock of tcpsim that reads
// the machine's time.
//
// Its zero is the first time anyone asks it the time: creating the hosts'
// namespaces takes milliseconds, and a notebook's setup (hosts, links, a
// listen and a connect at time 0) should not see them. Clocks made
// together by NewClocks start together.
type Clock struct {
	once  sync.Once
	start time.Time
	gate  *gate
}

// NewClock returns a clock that starts when it is first read.
func NewClock() *Clock { return &Clock{} }

// gateWait bounds how long a clock waits for the others of its group.
const gateWait = 5 * time.Second

// gate starts a group of clocks at one instant, once each has been read
// (its run has set up its hosts) or let go.
type gate struct {
	mu      sync.Mutex
	waiting int
	open    chan struct{}
	start   time.Time // the instant open was closed; read only after it is
}

func (g *gate) arrive() {
	g.mu.Lock()
	g.waiting--
	if g.waiting == 0 {
		g.start = time.Now()
		close(g.open)
	}
	g.mu.Unlock()
}

// wait returns the instant the group starts: the one at which the gate
// opened, shared by every clock of the group (each taking its own
// time.Now after waking would put its waker's scheduling delay between
// them, a millisecond on a loaded machine), or the clock's own instant
// if the gate did not open within gateWait.
func (g *gate) wait() time.Time {
	g.arrive()
	select {
	case <-g.open:
		return g.start
	case <-time.After(gateWait):
		return time.Now()
	}
}

// NewClocks returns n clocks that start at one instant: when every one of
// them has been read or let go (Release), or gateWait after the first was
// read. Runs that share the machine set up their namespaces first and then
// run, instead of one run's first packets waiting behind another's setup.
func NewClocks(n int) []*Clock {
	g := &gate{waiting: n, open: make(chan struct{})}
	out := make([]*Clock, n)
	for i := range out {
		out[i] = &Clock{gate: g}
	}
	return out
}

// Release lets the clock's group start without it (its run ended before
// reading the clock, for example on an error).
func (c *Clock) Release() { c.Now() }

// Now implements sim.Clock.
func (c *Clock) Now() time.Duration {
	c.once.Do(func() {
		if c.gate != nil {
			c.start = c.gate.wait()
			return
		}
		c.start = time.Now()
	})
	return time.Since(c.start)
}

// Sleep implements sim.Clock.
func (c *Clock) Sleep(until time.Duration, wake <-chan struct{}) {
	d := until - c.Now()
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	}
}
