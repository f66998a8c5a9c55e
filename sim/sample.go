package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// sampler calls fn at every multiple of every, counted from when it was
// added, that the run passes, until fn returns false.
type sampler struct {
	every, next time.Duration
	fn          func(at time.Duration) bool
}

// Every calls fn at now+d, now+2d, ... as the run passes those times, with
// the World's clock at that time: fn sees every event at or before it and
// none after. It adds no event, so it never keeps the World busy: Run
// still ends when the last event has run, and no call is made after it.
// When fn returns false it is called no more (a series that is full: the
// calls are outside the event budget, so a short interval over a long run
// would cost without bound). fn must not schedule events or call the
// stacks.
func (w *World) Every(d time.Duration, fn func(at time.Duration) bool) error {
	if d <= 0 {
		return fmt.Errorf("sim: Every needs a positive interval, got %v", d)
	}
	w.samplers = append(w.samplers, &sampler{every: d, next: w.Now() + d, fn: fn})
	return nil
}

// sampleBefore runs, in time order, the samplers due before t (and at t
// when inclusive): the run has reached t and nothing at a due time is left
// to run.
func (w *World) sampleBefore(t time.Duration, inclusive bool) {
	for {
		var s *sampler
		for _, x := range w.samplers { // in the order added: ties go to the first
			if (x.next < t || inclusive && x.next == t) && (s == nil || x.next < s.next) {
				s = x
			}
		}
		if s == nil {
			return
		}
		if s.next > w.Now() {
			w.setNow(s.next)
		}
		if !s.fn(s.next) {
			w.samplers = slices.DeleteFunc(w.samplers, func(x *sampler) bool { return x == s })
			continue
		}
		s.next += s.every
	}
}

// Connects returns how the host's connect calls ended so far: "ok" for a
// connection established, else the errno of the call or of the connection
// attempt (EADDRNOTAVAIL, ECONNREFUSED, ETIMEDOUT, ...), by name.
func (h *Host) Connects() []Counter {
	var out []Counter
	for name, n := range h.connects { // sorted below
		out = append(out, Counter{Name: name, Value: n})
	}
	slices.SortFunc(out, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// countConnect notes how a connect ended.
func (h *Host) countConnect(err error) {
	if h.connects == nil {
		h.connects = map[string]uint64{}
	}
	name := "ok"
	if err != nil {
		if name = Errno(err); name == "" {
			name = "other"
		}
	}
	h.connects[name]++
}
