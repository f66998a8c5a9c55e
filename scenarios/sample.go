package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// maxSamples bounds the samples of one sample statement per host, and
// maxSampleRows its rows (a sample of each host; each row holds the host's
// counters, over a kilobyte): a series past either stops, and says so.
// Samples are taken outside any event, so the event budget does not bound
// them.
const (
	maxSamples    = 100_000
	maxSampleRows = 200_000
)

// perHost is how many samples of each host the series keeps.
func (se *series) perHost() int {
	return max(1, min(maxSamples, maxSampleRows/max(1, len(se.hosts))))
}

// series is one sample statement's samples.
type series struct {
	n       int // the statement's number, from 1
	every   time.Duration
	hosts   []*sim.Host
	samples []trace.Sample
	full    bool // perHost reached
	// list counts each host's endpoints from its list of them (kernel
	// mode, where the list is what the kernel reported), not from the
	// observer's counts.
	list bool
	// last are each host's connect tallies at the previous sample.
	last map[string][]sim.Counter // lookups only
}

// cmdSample: sample every=D [HOST...] counts, at every D from now until
// the run's last event, each host's endpoints by state, its connect calls
// that ended in the interval, and its counters. The table is written where
// the statement stands, once the notebook has run; --series writes CSV.
func (in *interp) cmdSample(st stmt, args []token) error {
	o, err := in.options(st, args, "every")
	if err != nil {
		return err
	}
	t, ok := o.kv["every"]
	if !ok {
		return in.errEnd(st, "sample needs every=D, e.g. sample every=1s [HOST...]")
	}
	d, err := in.duration(st, t, "every")
	if err != nil {
		return err
	}
	if d < time.Millisecond {
		return in.errAt(st, t, "every %q: want at least 1ms", t.text)
	}
	se := &series{n: len(in.series) + 1, every: d, last: map[string][]sim.Counter{}, list: in.cfg.Kernel}
	for _, w := range o.words {
		hs, err := in.hostList(st, w)
		if err != nil {
			return err
		}
		se.hosts = append(se.hosts, hs...)
	}
	if len(se.hosts) == 0 {
		se.hosts = in.w.Hosts()
	}
	for _, h := range se.hosts {
		se.last[h.Name()] = h.Connects()
	}
	if err := in.w.Every(d, se.take); err != nil {
		return in.errAt(st, t, "%v", err)
	}
	in.series = append(in.series, se)
	in.parts = append(in.parts, part{series: se})
	return nil
}

// take samples every host of the series at at; false once it is full.
func (se *series) take(at time.Duration) bool {
	if len(se.samples) >= se.perHost()*len(se.hosts) {
		se.full = true
		return false
	}
	for _, h := range se.hosts {
		s := trace.Sample{Series: se.n, At: at, Host: h.Name(), Counters: h.Counters(), Heap: h.HeapBytes()}
		if se.list {
			for _, e := range h.Endpoints() {
				for i, st := range trace.SampledStates {
					if e.State == st {
						s.States[i]++
					}
				}
			}
		} else {
			// The observer's counts: a sample costs the states, not the
			// endpoints (262,144 TIME-WAITs cost what 1 does).
			for i, st := range trace.SampledStates {
				s.States[i] = h.StateCount(st)
			}
		}
		now := h.Connects()
		s.Connects = delta(se.last[h.Name()], now)
		se.last[h.Name()] = now
		se.samples = append(se.samples, s)
	}
	return true
}

// delta is now less before, counter by counter, leaving out zeros.
func delta(before, now []sim.Counter) []sim.Counter {
	var out []sim.Counter
	for _, c := range now {
		prev, _ := sim.CounterOf(before, c.Name)
		if v := c.Value - prev; v > 0 {
			out = append(out, sim.Counter{Name: c.Name, Value: v})
		}
	}
	return out
}

// table prints the series: a row per sample, a column per state that any
// sample has, then the connects of each interval.
func (se *series) table() string {
	var b strings.Builder
	var states []int
	for i := range trace.SampledStates {
		for _, s := range se.samples {
			if s.States[i] > 0 {
				states = append(states, i)
				break
			}
		}
	}
	var errnos []string
	for _, s := range se.samples {
		for _, c := range s.Connects {
			if c.Name != "ok" && !slices.Contains(errnos, c.Name) {
				errnos = append(errnos, c.Name)
			}
		}
	}
	fmt.Fprintf(&b, "sample every %v:\n%12s  %-10s", se.every, "t (s)", "host")
	for _, i := range states {
		fmt.Fprintf(&b, " %11s", trace.SampledStates[i])
	}
	fmt.Fprintf(&b, " %11s", "connects ok")
	for _, e := range errnos {
		fmt.Fprintf(&b, " %13s", e)
	}
	fmt.Fprintf(&b, " %10s", "heap KiB")
	b.WriteString("\n")
	for _, s := range se.samples {
		fmt.Fprintf(&b, "%12s  %-10s", trace.Seconds(s.At), s.Host)
		for _, i := range states {
			fmt.Fprintf(&b, " %11d", s.States[i])
		}
		ok, _ := sim.CounterOf(s.Connects, "ok")
		fmt.Fprintf(&b, " %11d", ok)
		for _, e := range errnos {
			n, _ := sim.CounterOf(s.Connects, e)
			fmt.Fprintf(&b, " %13d", n)
		}
		if s.Heap < 0 {
			fmt.Fprintf(&b, " %10s", "-") // a kernel host's memory is the kernel's
		} else {
			fmt.Fprintf(&b, " %10d", (s.Heap+512)/1024)
		}
		b.WriteString("\n")
	}
	if len(se.samples) == 0 {
		b.WriteString("(no samples: the run ended before the first)\n")
	}
	if se.full {
		fmt.Fprintf(&b, "(sampling stopped after %d samples per host)\n", se.perHost())
	}
	return b.String()
}
