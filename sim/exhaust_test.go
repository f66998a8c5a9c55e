package sim_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// exhaustRun fills a 10-port range with TIME-WAITs toward the server,
// fails connects (unbound, and bound to an address), closes and reopens a
// listener on a port of the range, lets the TIME-WAITs expire and connects
// again, all while a second client address is used; it returns what a
// program and a capture would see: errnos, local ports, the packets' bytes,
// the transitions and the counters.
func exhaustRun(t *testing.T, p sim.Profile, reuse string) []string {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: p, FirstPort: 40000, LastPort: 40009, Sysctls: []string{"tcp_tw_reuse=" + reuse}},
		sim.HostOptions{Profile: p}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	var out []string
	connect := func(o sim.SocketOptions, closeAfter time.Duration) {
		cs, err := c.Connect(server80, o)
		if err != nil {
			out = append(out, fmt.Sprintf("%v connect: %s", w.Now(), sim.Errno(err)))
			return
		}
		out = append(out, fmt.Sprintf("%v connect: %v", w.Now(), cs.Local()))
		w.After(closeAfter, func() { _ = cs.Close() })
	}
	for i := 0; i < 10; i++ {
		connect(sim.SocketOptions{}, 5*time.Millisecond)
		require.NoError(t, w.RunFor(20*time.Millisecond))
	}
	for i := 0; i < 4; i++ {
		connect(sim.SocketOptions{}, 0)
		connect(sim.SocketOptions{LocalAddr: clientIP}, 0)
	}
	require.NoError(t, w.RunFor(2*time.Second))
	connect(sim.SocketOptions{}, 0)
	require.NoError(t, w.RunFor(30*time.Second))
	for i := 0; i < 3; i++ {
		connect(sim.SocketOptions{}, time.Millisecond)
		require.NoError(t, w.RunFor(10*time.Second))
	}
	require.NoError(t, w.RunFor(30*time.Second))
	for i := 0; i < 12; i++ {
		connect(sim.SocketOptions{}, time.Millisecond)
		require.NoError(t, w.RunFor(time.Millisecond))
	}
	require.NoError(t, w.RunFor(70*time.Second))
	return append(out, seen(w, c)...)
}

// seen is what a program and a capture saw of a run: its packets' bytes,
// its transitions and c's counters, for comparing two runs.
func seen(w *sim.World, c *sim.Host) []string {
	var out []string
	for _, pk := range w.Packets() {
		out = append(out, fmt.Sprintf("%v %s>%s %x", pk.Sent, pk.From, pk.To, pk.Data))
	}
	for _, tr := range w.Transitions() {
		out = append(out, fmt.Sprint(tr))
	}
	return append(out, fmt.Sprint(c.Counters(), c.Stack().Stats().TCP.FailedConnectionAttempts.Value(), c.Stack().Stats().TCP.FailedPortReservations.Value()))
}

// TestKnownFullSameRun checks that a connect() failing at once because its
// search failed before and no port came free since is the connect() that
// searched: same errnos, same ports chosen later, same bytes on the wire
// (the secure RNG drawn as the search draws it), same counters.
func TestKnownFullSameRun(t *testing.T) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		for _, reuse := range []string{"0", "1", "2"} {
			t.Run(fmt.Sprintf("%v/tw_reuse=%s", p, reuse), func(t *testing.T) {
				sim.SetSkipKnownFull(false)
				want := exhaustRun(t, p, reuse)
				sim.SetSkipKnownFull(true)
				got := exhaustRun(t, p, reuse)
				require.Equal(t, want, got)
				n := 0
				for _, l := range got {
					if len(l) > 0 && l[len(l)-len("EADDRNOTAVAIL"):] == "EADDRNOTAVAIL" {
						n++
					}
				}
				if n == 0 {
					t.Fatal("no connect failed: the test does not reach exhaustion")
				}
			})
		}
	}
}
