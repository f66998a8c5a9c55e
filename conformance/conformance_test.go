package conformance_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/conformance"
	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
)

// structure runs a notebook text and extracts its structure.
func structure(tb testing.TB, text string, cfg scenarios.Config) conformance.Structure {
	tb.Helper()
	res, err := scenarios.RunText("t.md", text, cfg)
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	return conformance.Extract(res.World, res.SocketName)
}

// inTimeWait is a notebook's start: the client closes first and holds
// TIME-WAIT after 1 s.
const inTimeWait = `host client 10.0.0.1
host server 10.0.0.2
link client server delay=10ms
listen server 80
connect client server:80 as c
+0.1 close c
run 1s
`

// notebook wraps cell lines into a notebook.
func notebook(lines string) string { return "# t\n\n```tcpsim\n" + lines + "```\n" }

// rstInTimeWait: the server's RST reaches the client's TIME-WAIT; under
// tcp_rfc1337=0 (Linux's default) it kills it, under 1 it is ignored.
var rstInTimeWait = notebook(inTimeWait + "inject c RST\nrun 70s\n")

// Two seeds choose other ports, ISNs and timestamp offsets: the structure
// is the same, so a comparison of the two agrees.
func TestSeedsAgree(t *testing.T) {
	linux := []string{"*:linux"}
	a := structure(t, rstInTimeWait, scenarios.Config{Seed: scenarios.Seed(1), Profiles: linux})
	b := structure(t, rstInTimeWait, scenarios.Config{Seed: scenarios.Seed(2), Profiles: linux})
	r := conformance.Compare(a, b, conformance.Options{Tolerance: func(time.Duration) time.Duration { return 0 }})
	var out strings.Builder
	require.NoError(t, r.Write(&out, "seed 1", "seed 2"))
	assert.True(t, r.Agree(), "got differences, want none:\n%s", out.String())
	assert.Positive(t, r.Count[conformance.States])
	assert.Positive(t, r.Count[conformance.Segments])
	assert.Positive(t, r.Count[conformance.Timings])
}

// A model that ignores an RST in TIME-WAIT (tcp_rfc1337=1) against one
// that does not: the comparison names the client's socket, whose
// TIME-WAIT ends early on one side only, and the timing.
func TestWrongRFC1337Differs(t *testing.T) {
	right := structure(t, rstInTimeWait, scenarios.Config{Profiles: []string{"*:linux"}})
	wrong := structure(t, rstInTimeWait, scenarios.Config{Profiles: []string{"*:linux"}, Sysctls: []string{"client:tcp_rfc1337=1"}})
	r := conformance.Compare(wrong, right, conformance.Options{Tolerance: func(time.Duration) time.Duration { return time.Second }})
	var out strings.Builder
	require.NoError(t, r.Write(&out, "wrong model", "right"))
	require.False(t, r.Agree(), "got agreement, want a difference")
	assert.False(t, r.AspectAgrees(conformance.Timings), "TIME-WAIT lasts 60 s on one side, ~1 s on the other:\n%s", out.String())
	assert.Contains(t, out.String(), "client c")
	// 60 s and the timer wheel's rounding, up to 2.048 s (timewait.WheelFire).
	assert.Regexp(t, `TIME-WAIT for 1m([01](\.\d+)?|2(\.0[0-4]\d*)?)s `, out.String())
	assert.Contains(t, out.String(), "verdict   DIFFER")
}

// A different segment is named with its connection and its place, and
// what follows it is not reported again.
func TestSegmentDiffNamesTheSegment(t *testing.T) {
	seg := func(dir string, f netem.Flags, core string, sent time.Duration) conformance.Segment {
		return conformance.Segment{Dir: dir, Flags: f, Core: core, Sent: sent, Arrived: sent + time.Millisecond}
	}
	a := conformance.Structure{Conns: []conformance.Conn{{Name: "a-b: a c", Segments: []conformance.Segment{
		seg("a>b", netem.SYN, " seq 0", 0), seg("b>a", netem.SYN|netem.ACK, " seq 0 ack 1", 2*time.Millisecond), seg("a>b", netem.ACK, " seq 1 ack 1", 4*time.Millisecond)}}}}
	b := conformance.Structure{Conns: []conformance.Conn{{Name: "a-b: a c", Segments: []conformance.Segment{
		seg("a>b", netem.SYN, " seq 0", 0), seg("b>a", netem.RST|netem.ACK, " seq 0 ack 1", 2*time.Millisecond)}}}}
	r := conformance.Compare(a, b, conformance.Options{})
	require.Len(t, r.Diffs, 1)
	assert.Equal(t, conformance.Diff{Aspect: conformance.Segments, Where: "a-b: a c", Index: 2,
		Left: "b>a [S.] seq 0 ack 1", Right: "b>a [R.] seq 0 ack 1"}, r.Diffs[0])
}

// What one instant cannot order compares equal: two FINs that crossed,
// in either order, and a pure ACK of the peer's FIN that raced the
// application's close and left a moment before the FIN.
func TestCanonicalOrder(t *testing.T) {
	seg := func(dir string, f netem.Flags, core string, sent, arrived time.Duration) conformance.Segment {
		return conformance.Segment{Dir: dir, Flags: f, Core: core, Sent: sent, Arrived: arrived}
	}
	ms := time.Millisecond
	conns := func(s ...conformance.Segment) conformance.Structure {
		return conformance.Structure{Conns: []conformance.Conn{{Name: "x", Segments: s}}}
	}
	opt := conformance.Options{Tolerance: func(time.Duration) time.Duration { return 20 * ms }}
	crossed := conns(seg("a>b", netem.FIN|netem.ACK, " seq 1 ack 1", 0, 10*ms), seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 1", ms, 11*ms))
	crossedOther := conns(seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 1", 0, 10*ms), seg("a>b", netem.FIN|netem.ACK, " seq 1 ack 1", ms, 11*ms))
	assert.True(t, conformance.Compare(crossed, crossedOther, opt).Agree(), "FINs that crossed, in either order")
	answered := conns(seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 1", 0, 10*ms), seg("a>b", netem.ACK, " seq 1 ack 2", 11*ms, 21*ms))
	answeredOther := conns(seg("a>b", netem.ACK, " seq 1 ack 2", 0, 10*ms), seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 1", 11*ms, 21*ms))
	assert.False(t, conformance.Compare(answered, answeredOther, opt).Agree(), "an answer is not reordered before what it answers")
	folded := conns(seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 2", 0, 10*ms))
	raced := conns(seg("b>a", netem.ACK, " seq 1 ack 2", 0, 10*ms), seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 2", 2*ms, 12*ms))
	late := conns(seg("b>a", netem.ACK, " seq 1 ack 2", 0, 10*ms), seg("b>a", netem.FIN|netem.ACK, " seq 1 ack 2", 200*ms, 210*ms))
	assert.True(t, conformance.Compare(folded, raced, opt).Agree(), "the ACK that raced the close by 2 ms")
	folded.Counters = map[string][]sim.Counter{"b": {{Name: "TcpOutSegs", Value: 1}}, "a": {{Name: "TcpInSegs", Value: 1}}}
	raced.Counters = map[string][]sim.Counter{"b": {{Name: "TcpOutSegs", Value: 2}}, "a": {{Name: "TcpInSegs", Value: 2}}}
	assert.True(t, conformance.Compare(folded, raced, opt).Agree(), "nor in the counters it moved")
	raced.Counters["b"][0].Value = 3
	assert.False(t, conformance.Compare(folded, raced, opt).Agree(), "a segment more than the race explains")
	assert.False(t, conformance.Compare(folded, late, opt).Agree(), "a close 200 ms after the ACK is a separate ACK")
}

// A state the model passed through at one instant and the kernel rested in
// for less than the tolerance is not a difference; one it rested in longer
// is.
func TestShortStaysOnTheRight(t *testing.T) {
	model := conformance.Structure{Sockets: []conformance.Socket{{Name: "c", States: []sim.State{sim.Established, sim.LastAck, sim.Closed},
		Stays: []time.Duration{time.Second, 10 * time.Millisecond}}}}
	kern := func(closeWait time.Duration) conformance.Structure {
		return conformance.Structure{Sockets: []conformance.Socket{{Name: "c", States: []sim.State{sim.Established, sim.CloseWait, sim.LastAck, sim.Closed},
			Stays: []time.Duration{time.Second, closeWait, 10 * time.Millisecond}}}}
	}
	tol := conformance.Options{Tolerance: func(time.Duration) time.Duration { return 20 * time.Millisecond }}
	r := conformance.Compare(model, kern(3*time.Millisecond), tol)
	assert.True(t, r.Agree(), "CLOSE-WAIT for 3 ms: %+v", r.Diffs)
	r = conformance.Compare(model, kern(300*time.Millisecond), tol)
	require.False(t, r.Agree(), "CLOSE-WAIT for 300 ms is a state the model never rested in")
	assert.Equal(t, conformance.States, r.Diffs[0].Aspect)
}

// A known difference is reported with its reason and does not fail the
// comparison; one nobody explained does.
func TestKnownDifferences(t *testing.T) {
	r := conformance.Result{Diffs: []conformance.Diff{
		{Aspect: conformance.Timings, Where: "client c", Left: "a", Right: "b"},
		{Aspect: conformance.Segments, Where: "client-server: client c", Left: "x", Right: "y"},
	}}
	known := []conformance.Known{{Notebook: "nb", Aspect: conformance.Timings, Where: "client", Why: "the RTO is gVisor's"}}
	e := r.Explain("nb", known)
	assert.False(t, e.Agree(), "the segment nobody explained")
	require.Len(t, e.Explained, 1)
	assert.Equal(t, "the RTO is gVisor's", e.Explained[0].Known)
	assert.True(t, r.Explain("other", known).Diffs[0].Known == "", "another notebook's difference is not explained")
	e = conformance.Result{Diffs: r.Diffs[:1]}.Explain("nb", known)
	assert.True(t, e.Agree())
	var out strings.Builder
	require.NoError(t, e.Write(&out, "model", "kernel"))
	assert.Contains(t, out.String(), "known: the RTO is gVisor's")
	assert.Contains(t, out.String(), "verdict   agree")
}

// A TSval that reached the sender less than the tolerance before it sent
// may not have been seen yet: echoing the one before it is "last".
func TestEchoWithinAnInstant(t *testing.T) {
	ms := time.Millisecond
	g := conformance.Segment{Dir: "a>b", Flags: netem.ACK, Core: " seq 3 ack 4", TS: "echo", EchoedAt: 0, NewerAt: 9 * ms, Sent: 10 * ms}
	assert.Equal(t, "a>b [.] seq 3 ack 4 ts echo older", g.String(), "exact: a newer TSval arrived 1 ms before")
	left := conformance.Structure{Conns: []conformance.Conn{{Name: "x", Segments: []conformance.Segment{{Dir: "a>b", Flags: netem.ACK, Core: " seq 3 ack 4", TS: "echo", NewerAt: -1, Sent: 10 * ms}}}}}
	right := conformance.Structure{Conns: []conformance.Conn{{Name: "x", Segments: []conformance.Segment{g}}}}
	opt := conformance.Options{Tolerance: func(time.Duration) time.Duration { return 20 * ms }}
	assert.True(t, conformance.Compare(left, right, opt).Agree())
	g.EchoedAt, g.NewerAt, g.Sent = 100*ms, 190*ms, 300*ms
	right.Conns[0].Segments[0] = g
	assert.False(t, conformance.Compare(left, right, opt).Agree(), "a newer TSval 110 ms before the send was seen")
}

// A host with a loopback connection: its segment counters are left out
// with the loopback segments, its other counters are not.
func TestLoopbackCounters(t *testing.T) {
	left := conformance.Structure{Conns: []conformance.Conn{{Name: "lo-lo: lo c", Loopback: "lo"}},
		Counters: map[string][]sim.Counter{"lo": {{Name: "TcpInSegs", Value: 11}, {Name: "TcpExtTW", Value: 1}}}}
	right := conformance.Structure{Counters: map[string][]sim.Counter{"lo": {{Name: "TcpInSegs", Value: 12}, {Name: "TcpExtTW", Value: 1}}}}
	r := conformance.Compare(left, right, conformance.Options{IgnoreLoopback: true})
	assert.True(t, r.Agree(), "%+v", r.Diffs)
	right.Counters["lo"][1].Value = 2
	assert.False(t, conformance.Compare(left, right, conformance.Options{IgnoreLoopback: true}).Agree())
}
