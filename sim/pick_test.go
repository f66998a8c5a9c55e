package sim_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// pickRun keeps a 64-port range nearly full of connections to two
// destinations: connections every 250 ms toward port 80 that the client
// closes first (a TIME-WAIT of 60 s each) and some toward port 81, a few
// with SO_REUSEADDR, a few bound to a port of the range, a listener on
// another, connects that fail at exhaustion; it returns what a program
// and a capture would see (errnos, local ports, bytes, transitions,
// counters).
func pickRun(t *testing.T, reuse string) []string {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{FirstPort: 40000, LastPort: 40063, Sysctls: []string{"tcp_tw_reuse=" + reuse}},
		sim.HostOptions{}, netem.Options{})
	for _, port := range []uint16{80, 81} {
		l, err := s.Listen(port, sim.SocketOptions{})
		require.NoError(t, err)
		l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	}
	var out []string
	connect := func(to netip.AddrPort, o sim.SocketOptions, closeAfter time.Duration) {
		cs, err := c.Connect(to, o)
		if err != nil {
			out = append(out, fmt.Sprintf("%v connect: %s", w.Now(), sim.Errno(err)))
			return
		}
		out = append(out, fmt.Sprintf("%v connect: %v", w.Now(), cs.Local()))
		w.After(closeAfter, func() { _ = cs.Close() })
	}
	server81 := netip.AddrPortFrom(server80.Addr(), 81)
	cl, err := c.Listen(40010, sim.SocketOptions{})
	require.NoError(t, err)
	for i := 0; i < 400; i++ {
		switch {
		case i%17 == 5:
			connect(server80, sim.SocketOptions{ReuseAddr: true}, 3*time.Millisecond)
		case i%23 == 7:
			connect(server80, sim.SocketOptions{LocalPort: uint16(40020 + i%5)}, 3*time.Millisecond)
		case i%5 == 2:
			connect(server81, sim.SocketOptions{}, 2*time.Second)
		default:
			connect(server80, sim.SocketOptions{}, 3*time.Millisecond)
		}
		if i == 200 {
			_ = cl.Close()
		}
		require.NoError(t, w.RunFor(250*time.Millisecond))
	}
	require.NoError(t, w.RunFor(70*time.Second))
	return append(out, seen(w, c)...)
}

// TestPickedSameRun checks that starting gVisor's port search past the
// ports the host knows are taken (pick.go) picks the port the whole
// search picks: same ports, same errnos, same bytes (the RNG stream goes
// on as it did), same transitions and counters.
func TestPickedSameRun(t *testing.T) {
	for _, reuse := range []string{"0", "1"} {
		t.Run("tw_reuse="+reuse, func(t *testing.T) {
			sim.SetSkipPicked(false)
			want := pickRun(t, reuse)
			sim.SetSkipPicked(true)
			got := pickRun(t, reuse)
			require.Equal(t, want, got)
			var failed, ok int
			for _, l := range got {
				switch {
				case len(l) > 13 && l[len(l)-13:] == "EADDRNOTAVAIL":
					failed++
				case strings.Contains(l, "connect: 10.0.0.1:"):
					ok++
				}
			}
			if reuse == "0" && (failed < 50 || ok < 150) {
				t.Fatalf("got %d connects and %d EADDRNOTAVAIL, want over 150 and 50: the test does not keep the range nearly full", ok, failed)
			}
		})
	}
}
