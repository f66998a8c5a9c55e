package scenarios

import (
	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// facts are a finished run's records, with the queries the checks ask.
type facts struct {
	rows []trace.Row
	ts   []sim.Transition
}

func (e *env) facts() facts {
	return facts{rows: trace.Rows(e.w.Packets()), ts: e.w.Transitions()}
}

// entered returns the transitions of host into state s, in order.
func (f facts) entered(host string, s sim.State) []sim.Transition {
	return f.transitions(host, func(t sim.Transition) bool { return t.To == s })
}

// left returns the transitions of host out of state s, in order.
func (f facts) left(host string, s sim.State) []sim.Transition {
	return f.transitions(host, func(t sim.Transition) bool { return t.From == s })
}

func (f facts) transitions(host string, keep func(sim.Transition) bool) []sim.Transition {
	var out []sim.Transition
	for _, t := range f.ts {
		if t.Host == host && keep(t) {
			out = append(out, t)
		}
	}
	return out
}

// visited lists the states host's connection endpoints (not listeners)
// passed through, in order, without repeats.
func (f facts) visited(host string) []sim.State {
	var out []sim.State
	seen := map[sim.State]bool{} // membership only
	for _, t := range f.ts {
		if t.Host != host || t.To == sim.Listen || t.From == sim.Listen || seen[t.To] {
			continue
		}
		seen[t.To] = true
		out = append(out, t.To)
	}
	return out
}

// packets returns the rows sent by from that match m.
func (f facts) packets(from string, pred func(trace.Row) bool) []trace.Row {
	var out []trace.Row
	for _, r := range f.rows {
		if r.From == from && r.TCP && pred(r) {
			out = append(out, r)
		}
	}
	return out
}

func hasFlags(fl netem.Flags) func(trace.Row) bool {
	return func(r trace.Row) bool { return r.H.Flags&fl == fl }
}

func pureACK(r trace.Row) bool { return r.H.Flags == netem.ACK && r.H.PayloadLen == 0 }

func firstOr[T any](xs []T) (T, bool) {
	var zero T
	if len(xs) == 0 {
		return zero, false
	}
	return xs[0], true
}
