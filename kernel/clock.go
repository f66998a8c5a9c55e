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
// listen and a connect at time 0) should not see them.
type Clock struct {
	once  sync.Once
	start time.Time
}

// NewClock returns a clock that starts when it is first read.
func NewClock() *Clock { return &Clock{} }

// Now implements sim.Clock.
func (c *Clock) Now() time.Duration {
	c.once.Do(func() { c.start = time.Now() })
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
