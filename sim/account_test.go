//go:build !race

// The race detector changes what is allocated (sync.Pool keeps nothing),
// so the heap is measured only without it.

package sim_test

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// TestHeapAccount: Host.HeapBytes, an account of what the World holds for
// a host's connections, agrees within 15 % with the heap the runtime
// measures (after two collections) for 2,000 connections of each kind:
// gVisor TIME-WAITs (the client closed first and keeps its socket while
// the endpoint waits), ESTABLISHED pairs under each profile, linux
// TIME-WAITs (timewait sockets), and refused connects whose sockets the
// application never closed (each still holds its ended endpoint). The account is counts times measured
// sizes; this test is what says the sizes are still right.
func TestHeapAccount(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name    string
		profile sim.Profile
		close   bool
		port    uint16
		want    sim.State
	}{
		{"gvisor TIME-WAIT", sim.GVisor, true, 80, sim.TimeWait},
		{"gvisor ESTABLISHED", sim.GVisor, false, 80, sim.Established},
		{"linux ESTABLISHED", sim.Linux, false, 80, sim.Established},
		{"linux TIME-WAIT", sim.Linux, true, 80, sim.TimeWait},
		{"refused, not closed", sim.GVisor, false, 81, sim.Closed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, c, s := pair(t, sim.Options{DiscardTrace: true}, sim.HostOptions{Profile: tc.profile}, sim.HostOptions{Profile: tc.profile}, netem.Options{})
			l, err := s.Listen(80, sim.SocketOptions{})
			require.NoError(t, err)
			l.OnAccept = func(a *sim.Socket) {
				a.OnData = func(a *sim.Socket, _ []byte) { _, _ = a.Send([]byte("response")) }
				a.OnEOF = func(a *sim.Socket) { _ = a.Close() }
			}
			require.NoError(t, w.RunFor(time.Millisecond))
			account := func() int64 { return c.HeapBytes() + s.HeapBytes() }
			heap0, account0 := heapInUse(), account()
			var keep []*sim.Socket
			for range n {
				cs, err := c.Connect(netip.AddrPortFrom(serverIP, tc.port), sim.SocketOptions{})
				require.NoError(t, err)
				cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("request")) }
				if tc.close {
					cs.OnData = func(cs *sim.Socket, _ []byte) { _ = cs.Close() }
				}
				keep = append(keep, cs)
				require.NoError(t, w.RunFor(10*time.Millisecond))
			}
			require.NoError(t, w.RunFor(time.Second))
			if tc.close {
				keep = nil // the World holds what it holds
			}
			for _, cs := range keep {
				require.Equal(t, tc.want, cs.State())
			}
			if tc.want != sim.Closed {
				require.Equal(t, n, c.StateCount(tc.want), "client endpoints in %v", tc.want)
			}
			measured := float64(heapInUse()-heap0) / n
			accounted := float64(account()-account0) / n
			t.Logf("%s: measured %.0f B, accounted %.0f B per connection", tc.name, measured, accounted)
			if accounted < 0.85*measured || accounted > 1.15*measured {
				t.Errorf("%s: the account gives %.0f B per connection, the heap grew by %.0f: want within 15%%", tc.name, accounted, measured)
			}
			runtime.KeepAlive(keep)
		})
	}
}

// heapInUse is the live heap after two collections (the second empties
// the sync.Pool victim caches the first leaves).
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
