package sim_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

var (
	clientIP = netip.MustParseAddr("10.0.0.1")
	serverIP = netip.MustParseAddr("10.0.0.2")
	server80 = netip.AddrPortFrom(serverIP, 80)
)

// pair builds a World with a client and a server joined by a link with 1 ms
// each way, unless lo says otherwise. It closes the World when the test
// ends and checks that no stack worked outside an event.
func pair(tb testing.TB, o sim.Options, co, so sim.HostOptions, lo netem.Options) (*sim.World, *sim.Host, *sim.Host) {
	tb.Helper()
	w := sim.New(o)
	co.Name, co.Addr = "client", clientIP
	so.Name, so.Addr = "server", serverIP
	c, err := w.AddHost(co)
	require.NoError(tb, err)
	s, err := w.AddHost(so)
	require.NoError(tb, err)
	if lo.AtoB.Delay == 0 && lo.BtoA.Delay == 0 {
		lo.AtoB.Delay, lo.BtoA.Delay = time.Millisecond, time.Millisecond
	}
	_, err = w.AddLink(c, s, lo)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		if n := w.AsyncOps(); n != 0 {
			tb.Errorf("AsyncOps = %d, want 0: a stack worked outside an event", n)
		}
		w.Close()
	})
	return w, c, s
}

// states returns the sequence of states one host's connection endpoints
// entered (listeners excluded).
func states(w *sim.World, host string) []sim.State {
	var out []sim.State
	for _, t := range w.Transitions() {
		if t.Host == host && t.To != sim.Listen && t.From != sim.Listen {
			out = append(out, t.To)
		}
	}
	return out
}

// flagsFrom lists the flags of the packets host sent, in order.
func flagsFrom(w *sim.World, host string) []string {
	var out []string
	for _, p := range w.Packets() {
		if p.From == host {
			h, _ := netem.Decode(p.Data)
			out = append(out, h.Flags.String())
		}
	}
	return out
}

// inTimeWait builds a pair with client options co, opens one connection
// that the client closes first, and returns once the client holds it in
// TIME-WAIT, with an RST the server could send at the client's RCV.NXT.
func inTimeWait(tb testing.TB, co sim.HostOptions) (w *sim.World, c *sim.Host, cs *sim.Socket, rst []byte) {
	tb.Helper()
	w, c, s := pair(tb, sim.Options{}, co, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	cs, err = c.Connect(server80, sim.SocketOptions{})
	require.NoError(tb, err)
	require.NoError(tb, w.RunFor(10*time.Millisecond))
	require.NoError(tb, cs.Close())
	require.NoError(tb, w.RunFor(10*time.Millisecond))
	require.Equal(tb, sim.TimeWait, cs.State())
	var fin netem.Header
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); p.From == "server" && h.Flags&netem.FIN != 0 {
			fin = h
		}
	}
	rst, err = netem.Segment{Src: server80, Dst: cs.Local(), Seq: fin.Seq + 1, Flags: netem.RST}.Marshal()
	require.NoError(tb, err)
	return w, c, cs, rst
}

// clientCloses opens a connection from c to a listener on s's port 80,
// runs for before, closes the client's socket first and runs for after.
func clientCloses(tb testing.TB, w *sim.World, c, s *sim.Host, before, after time.Duration) *sim.Socket {
	tb.Helper()
	_, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(tb, err)
	require.NoError(tb, w.RunFor(before))
	require.NoError(tb, cs.Close())
	require.NoError(tb, w.RunFor(after))
	return cs
}

// onTheWheel asserts that a linux-profile kernel timer armed at armed to
// run d later fired at got as the kernel's timer wheel fires it: strictly
// after armed + d (calc_index never lets a timer fire early), at most one
// bucket of its wheel level after it (timewait.WheelGranularity), at the
// tick the wheel gives.
func onTheWheel(tb testing.TB, armed, d, got time.Duration, what string) {
	tb.Helper()
	gran := time.Duration(timewait.WheelGranularity(uint64(d/timewait.Jiffy))) * timewait.Jiffy
	if lo, hi := armed+d, armed+d+gran; got <= lo || got > hi {
		tb.Errorf("%s: fired at %v, want within (%v, %v]: a %v timer armed at %v", what, got, lo, hi, d, armed)
	}
	if want := sim.KernelTimerFires(armed, d); got != want {
		tb.Errorf("%s: fired at %v, want %v, the wheel's tick for a %v timer armed at %v", what, got, want, d, armed)
	}
}

// connections builds a pair (client options co, server options so) whose
// server listens on port 80, closing each accepted connection when it
// reads EOF if closeOnEOF, and has the client open n connections to it;
// it returns when they are established.
func connections(tb testing.TB, n int, co, so sim.HostOptions, closeOnEOF bool) (*sim.World, []*sim.Socket) {
	tb.Helper()
	w, c, s := pair(tb, sim.Options{}, co, so, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	if closeOnEOF {
		l.OnAccept = func(a *sim.Socket) {
			a.OnEOF = func(a *sim.Socket) { require.NoError(tb, a.Close()) }
		}
	}
	var socks []*sim.Socket
	for range n {
		cs, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(tb, err)
		socks = append(socks, cs)
	}
	require.NoError(tb, w.RunFor(100*time.Millisecond))
	return w, socks
}
