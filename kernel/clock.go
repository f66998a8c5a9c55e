package kernel

import "time"

// Clock is wall-clock time since the start of a run: the sim.Clock of a
// World whose hosts are kernels. It is the one clock of tcpsim that reads
// the machine's time.
type Clock struct{ start time.Time }

// NewClock returns a clock whose zero is now.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now implements sim.Clock.
func (c *Clock) Now() time.Duration { return time.Since(c.start) }

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
