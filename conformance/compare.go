package conformance

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// Aspect is one thing two runs are compared on.
type Aspect int

// The aspects, in the order they are reported.
const (
	States Aspect = iota
	Segments
	Counters
	Timings
	numAspects
)

var aspectNames = [numAspects]string{"states", "segments", "counters", "timings"}

func (a Aspect) String() string { return aspectNames[a] }

// Diff is one difference: where, and what each side has there.
type Diff struct {
	Aspect Aspect
	// Where names the socket, connection or host.
	Where string
	// Index is the segment's or state's place (from 1), 0 when the
	// difference is about the whole (a socket only one side has).
	Index       int
	Left, Right string
	// Known is why the difference is understood (see Known), if it is.
	Known string
}

// Result is the comparison of two runs.
type Result struct {
	// Count is how many items of each aspect were compared.
	Count [numAspects]int
	// Diffs are the differences nobody explained; Explained those a Known
	// explains.
	Diffs     []Diff
	Explained []Diff
}

// Agree reports whether nothing differs.
func (r Result) Agree() bool { return len(r.Diffs) == 0 }

// AspectAgrees reports whether aspect a has no difference.
func (r Result) AspectAgrees(a Aspect) bool {
	for _, d := range r.Diffs {
		if d.Aspect == a {
			return false
		}
	}
	return true
}

// Options says how to compare.
type Options struct {
	// Tolerance is how far the right side's stay in a state may be from
	// the left side's of length d; nil compares no timings.
	Tolerance func(d time.Duration) time.Duration
	// IgnoreCounter, when set, leaves a counter out; it is given "HOST
	// NAME" ("client TcpInSegs").
	IgnoreCounter func(name string) bool
	// IgnoreLoopback leaves out the segments of connections over a
	// host's loopback interface, which a kernel's run cannot capture, and
	// the segment counters of the hosts that have such connections.
	IgnoreLoopback bool
}

// Compare compares two runs' structures: the left is the model, the right
// the kernel.
func Compare(left, right Structure, o Options) Result {
	var r Result
	compareSockets(&r, left.Sockets, right.Sockets, o)
	lf, rf := folded{}, folded{}
	compareConns(&r, left.Conns, right.Conns, o, lf, rf)
	if o.IgnoreLoopback {
		o.IgnoreCounter = skipLoopbackSegs(o.IgnoreCounter, left.Conns, right.Conns)
	}
	compareCounters(&r, lf.adjust(left.Counters), rf.adjust(right.Counters), o)
	return r
}

func compareSockets(r *Result, left, right []Socket, o Options) {
	rm := map[string]Socket{}
	for _, s := range right {
		rm[s.Name] = s
	}
	seen := map[string]bool{}
	for _, l := range left {
		seen[l.Name] = true
		r.Count[States]++
		rs, ok := rm[l.Name]
		if !ok {
			r.Diffs = append(r.Diffs, Diff{Aspect: States, Where: l.Name, Left: statesText(l.States), Right: "(no such socket)"})
			continue
		}
		if !slices.Equal(l.States, rs.States) && o.Tolerance != nil {
			// A state the left side passed through at one instant may
			// show on the right for less than its tolerance (a kernel's
			// application closes microseconds after the FIN, not at the
			// same instant).
			rs = withoutShort(rs, l.States, o.Tolerance(0))
		}
		if !slices.Equal(l.States, rs.States) {
			r.Diffs = append(r.Diffs, Diff{Aspect: States, Where: l.Name, Left: statesText(l.States), Right: statesText(rs.States)})
			continue
		}
		if o.Tolerance == nil {
			continue
		}
		for i, d := range l.Stays {
			r.Count[Timings]++
			got := rs.Stays[i]
			if tol := o.Tolerance(d); got < d-tol || got > d+tol {
				r.Diffs = append(r.Diffs, Diff{Aspect: Timings, Where: l.Name, Index: i + 1,
					Left:  fmt.Sprintf("%v for %v", l.States[i], d.Round(time.Millisecond)),
					Right: fmt.Sprintf("%v for %v (tolerance ±%v)", rs.States[i], got.Round(time.Millisecond), o.Tolerance(d).Round(time.Millisecond))})
			}
		}
	}
	for _, s := range right {
		if !seen[s.Name] {
			r.Diffs = append(r.Diffs, Diff{Aspect: States, Where: s.Name, Left: "(no such socket)", Right: statesText(s.States)})
		}
	}
}

// withoutShort drops from s the stays shorter than short that want does
// not have, giving their time to the state before.
func withoutShort(s Socket, want []sim.State, short time.Duration) Socket {
	out := Socket{Name: s.Name}
	j := 0
	for i, st := range s.States {
		if i > 0 && i < len(s.Stays) && s.Stays[i] < short && (j >= len(want) || want[j] != st) {
			out.Stays[len(out.Stays)-1] += s.Stays[i]
			continue
		}
		out.States = append(out.States, st)
		if i < len(s.Stays) {
			out.Stays = append(out.Stays, s.Stays[i])
		}
		j++
	}
	return out
}

// independent reports whether b, sent after a in the other direction,
// left before a arrived, so that it cannot answer a.
func independent(a, b Segment) bool {
	return a.Dir != b.Dir && (a.Arrived < 0 || b.Sent < a.Arrived)
}

func statesText(s []sim.State) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = x.String()
	}
	return strings.Join(parts, " → ")
}

func compareConns(r *Result, left, right []Conn, o Options, lf, rf folded) {
	rm := map[string]Conn{}
	for _, c := range right {
		rm[c.Name] = c
	}
	seen := map[string]bool{}
	for _, l := range left {
		if l.Loopback != "" && o.IgnoreLoopback {
			continue
		}
		seen[l.Name] = true
		r.Count[Segments] += len(l.Segments)
		rc, ok := rm[l.Name]
		if !ok {
			r.Diffs = append(r.Diffs, Diff{Aspect: Segments, Where: l.Name, Left: fmt.Sprintf("%d segments", len(l.Segments)), Right: "(no such connection)"})
			continue
		}
		ls, rs := l.Segments, rc.Segments
		var instant time.Duration
		if o.Tolerance != nil {
			instant = o.Tolerance(0)
			ls, rs = canonical(ls, instant, lf), canonical(rs, instant, rf)
		}
		for i := 0; i < max(len(ls), len(rs)); i++ {
			a, b := at(ls, i, instant), at(rs, i, instant)
			if a != b {
				r.Diffs = append(r.Diffs, Diff{Aspect: Segments, Where: l.Name, Index: i + 1, Left: a, Right: b})
				break // what follows a first difference is its consequence
			}
		}
	}
	for _, c := range right {
		if !seen[c.Name] && !(c.Loopback != "" && o.IgnoreLoopback) {
			r.Diffs = append(r.Diffs, Diff{Aspect: Segments, Where: c.Name, Left: "(no such connection)", Right: fmt.Sprintf("%d segments", len(c.Segments))})
		}
	}
}

func at(s []Segment, i int, instant time.Duration) string {
	if i < len(s) {
		return s[i].text(instant)
	}
	return "(none)"
}

// canonical puts what one instant cannot order into one order, so that a
// run where two things happen at one instant and a run where they happen
// microseconds apart compare equal:
//
//   - of two segments in opposite directions, one sent before the other
//     arrived, neither answers the other (a simultaneous close): they are
//     ordered by direction;
//   - a pure ACK followed within instant by a FIN from the same side with
//     the same numbers is the FIN alone: the ACK of the peer's FIN raced
//     the application's close (the delayed-ACK timer fired first: it is
//     due at the next tick), and the close lost by less than instant.
func canonical(s []Segment, instant time.Duration, f folded) []Segment {
	out := make([]Segment, 0, len(s))
	for i, g := range s {
		if g.Flags == netem.ACK && i+1 < len(s) {
			n := s[i+1]
			if n.Dir == g.Dir && n.Flags == netem.FIN|netem.ACK && n.Core == g.Core && n.Sent-g.Sent <= instant {
				from, to, _ := strings.Cut(g.Dir, ">")
				f[from+" TcpOutSegs"]++
				f[to+" TcpInSegs"]++
				continue
			}
		}
		out = append(out, g)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && independent(out[j-1], out[j]) && out[j].Dir < out[j-1].Dir; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// folded counts the pure ACKs canonical folded into a FIN, by host and
// the counter they moved ("client TcpOutSegs"), so that the counters are
// compared as the segments are.
type folded map[string]uint64

// adjust takes the folded segments out of the counters.
func (f folded) adjust(counters map[string][]sim.Counter) map[string][]sim.Counter {
	if len(f) == 0 {
		return counters
	}
	out := make(map[string][]sim.Counter, len(counters))
	for h, cs := range counters {
		cs = slices.Clone(cs)
		for i := range cs {
			cs[i].Value -= min(cs[i].Value, f[h+" "+cs[i].Name])
		}
		out[h] = cs
	}
	return out
}

// skipLoopbackSegs extends ignore to the segment counters of hosts with a
// loopback connection ("host TcpInSegs"): what moves them is not all
// captured.
func skipLoopbackSegs(ignore func(string) bool, conns ...[]Conn) func(string) bool {
	hosts := map[string]bool{}
	for _, cs := range conns {
		for _, c := range cs {
			if c.Loopback != "" {
				hosts[c.Loopback] = true
			}
		}
	}
	if len(hosts) == 0 {
		return ignore
	}
	return func(name string) bool {
		h, counter, _ := strings.Cut(name, " ")
		if hosts[h] && slices.Contains([]string{"TcpInSegs", "TcpOutSegs", "TcpRetransSegs", "TcpOutRsts"}, counter) {
			return true
		}
		return ignore != nil && ignore(name)
	}
}

// compareCounters compares the counters both sides have, on every host.
func compareCounters(r *Result, left, right map[string][]sim.Counter, o Options) {
	hosts := make([]string, 0, len(left))
	for h := range left {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	for _, h := range hosts {
		rv := map[string]uint64{}
		for _, c := range right[h] {
			rv[c.Name] = c.Value
		}
		for _, c := range left[h] {
			v, ok := rv[c.Name]
			if !ok || (o.IgnoreCounter != nil && o.IgnoreCounter(h+" "+c.Name)) {
				continue
			}
			r.Count[Counters]++
			if v != c.Value {
				r.Diffs = append(r.Diffs, Diff{Aspect: Counters, Where: h + " " + c.Name, Left: fmt.Sprint(c.Value), Right: fmt.Sprint(v)})
			}
		}
	}
}

// Write prints the result side by side under the two sides' titles.
func (r Result) Write(w io.Writer, leftTitle, rightTitle string) error {
	for a := Aspect(0); a < numAspects; a++ {
		var ds []Diff
		known := 0
		for _, d := range append(r.Diffs, r.Explained...) {
			if d.Aspect == a {
				ds = append(ds, d)
				if d.Known != "" {
					known++
				}
			}
		}
		switch {
		case len(ds) == 0:
			fmt.Fprintf(w, "%-9s agree (%d compared)\n", a, r.Count[a])
			continue
		case known == len(ds):
			fmt.Fprintf(w, "%-9s known differences (%d of %d)\n", a, len(ds), r.Count[a])
		default:
			fmt.Fprintf(w, "%-9s DIFFER (%d of %d, %d known)\n", a, len(ds), r.Count[a], known)
		}
		width := max(len(leftTitle), 10)
		for _, d := range ds {
			width = max(width, len([]rune(d.Left)))
		}
		width = min(width, 60)
		for _, d := range ds {
			where := d.Where
			if d.Index > 0 {
				where = fmt.Sprintf("%s, #%d", where, d.Index)
			}
			fmt.Fprintf(w, "  %s\n", where)
			fmt.Fprintf(w, "    %-*s | %s\n", width, leftTitle, rightTitle)
			fmt.Fprintf(w, "    %-*s | %s\n", width, d.Left, d.Right)
			if d.Known != "" {
				fmt.Fprintf(w, "    known: %s\n", d.Known)
			}
		}
	}
	verdict := "agree"
	if !r.Agree() {
		verdict = "DIFFER"
	}
	_, err := fmt.Fprintf(w, "verdict   %s\n", verdict)
	return err
}
