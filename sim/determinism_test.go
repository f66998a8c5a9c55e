package sim_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

// TraceHash hashes everything a run observed: every packet's times, bytes
// and fate, and every transition.
func traceHash(w *sim.World) string {
	h := sha256.New()
	var b [8]byte
	for _, p := range w.Packets() {
		binary.LittleEndian.PutUint64(b[:], uint64(p.Sent))
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(p.Delivered))
		h.Write(b[:])
		fmt.Fprintf(h, "%s>%s %v %s %d|", p.From, p.To, p.Fate, p.Rule, p.Orig)
		h.Write(p.Data)
	}
	for _, t := range w.Transitions() {
		fmt.Fprintf(h, "%v %s\n", t, t.Cause)
	}
	for _, p := range w.Packets() {
		fmt.Fprintf(h, "%s|%s\n", p.Discarded, p.Handled)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// stress runs 8 concurrent chains of short connections from 4 clients over
// lossy, asymmetric links: the workload that gave 10 traces in 10 runs
// without the barrier.
func stress(tb testing.TB, seed uint64) string {
	tb.Helper()
	w := sim.New(sim.Options{Seed: seed})
	defer w.Close()
	srv, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP, MSL: 2 * time.Second})
	require.NoError(tb, err)
	l, err := srv.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, b []byte) { _, _ = a.Send(b) }
		a.OnEOF = func(a *sim.Socket) { _ = a.Close() }
	}
	for i := 0; i < 4; i++ {
		c, err := w.AddHost(sim.HostOptions{Name: fmt.Sprintf("c%d", i), Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), MSL: 2 * time.Second})
		require.NoError(tb, err)
		_, err = w.AddLink(c, srv, netem.Options{
			AtoB: netem.Path{Delay: time.Duration(i+1) * time.Millisecond, Loss: 0.05},
			BtoA: netem.Path{Delay: 2 * time.Millisecond, Loss: 0.05},
		})
		require.NoError(tb, err)
		for chain := 0; chain < 2; chain++ {
			left := 6
			var next func()
			next = func() {
				if left == 0 {
					return
				}
				left--
				cs, err := c.Connect(netip.AddrPortFrom(serverIP, 80), sim.SocketOptions{})
				if err != nil {
					return
				}
				cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("ping")) }
				cs.OnData = func(cs *sim.Socket, _ []byte) { _ = cs.Close(); next() }
				cs.OnError = func(*sim.Socket, error) { next() }
			}
			w.At(time.Duration(chain)*time.Millisecond, next)
		}
	}
	require.NoError(tb, w.Run())
	require.Zero(tb, w.AsyncOps(), "a stack worked outside an event")
	return traceHash(w)
}

// linuxStress runs the linux profile's paths: three clients behind a NAT
// over lossy links to a server with tcp_tw_recycle=1, a small
// tcp_max_tw_buckets and tcp_rfc1337=0, each client making short
// connections that the server closes first.
func linuxStress(tb testing.TB, seed uint64) string {
	tb.Helper()
	w := sim.New(sim.Options{Seed: seed})
	defer w.Close()
	srv, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP, Profile: sim.Linux, Kernel: timewait.Linux49,
		Sysctls: []string{"tcp_tw_recycle=1", "tcp_max_tw_buckets=1", "tcp_rfc1337=0"}})
	require.NoError(tb, err)
	l, err := srv.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, b []byte) { _, _ = a.Send(b); _ = a.Close() }
	}
	gw, err := w.AddHop(sim.HopOptions{Name: "gw", NAT: &netem.NATOptions{Addr: netip.MustParseAddr("10.0.9.1")}, Outside: "server"})
	require.NoError(tb, err)
	_, err = w.AddLink(gw, srv, netem.Options{AtoB: netem.Path{Delay: time.Millisecond, Loss: 0.02}, BtoA: netem.Path{Delay: time.Millisecond, Loss: 0.02}})
	require.NoError(tb, err)
	var clients []*sim.Host
	for i := 0; i < 3; i++ {
		c, err := w.AddHost(sim.HostOptions{Name: fmt.Sprintf("c%d", i), Addr: netip.AddrFrom4([4]byte{10, 0, 2, byte(i + 1)}),
			Profile: sim.Linux, Sysctls: []string{"tcp_tw_reuse=1"}})
		require.NoError(tb, err)
		_, err = w.AddLink(c, gw, netem.Options{
			AtoB: netem.Path{Delay: time.Duration(i+1) * time.Millisecond, Loss: 0.05},
			BtoA: netem.Path{Delay: 2 * time.Millisecond, Loss: 0.05},
		})
		require.NoError(tb, err)
		clients = append(clients, c)
	}
	for i, c := range clients {
		for k := 0; k < 4; k++ {
			w.At(time.Duration(k)*700*time.Millisecond+time.Duration(i)*time.Millisecond, func() {
				cs, err := c.Connect(netip.AddrPortFrom(serverIP, 80), sim.SocketOptions{})
				if err != nil {
					return
				}
				cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("ping")) }
				cs.OnEOF = func(cs *sim.Socket) { _ = cs.Close() }
			})
		}
	}
	// A 6.18 client that closes first, with two ports and tcp_tw_reuse=1,
	// to a 6.18 server over a lossy link: its connects take TIME-WAIT
	// tuples over (the port search, tcp_twsk_unique, the sequence shift,
	// the timewait timer heap).
	r, err := w.AddHost(sim.HostOptions{Name: "r", Addr: netip.MustParseAddr("10.0.3.1"), Profile: sim.Linux,
		Sysctls: []string{"tcp_tw_reuse=1", "ip_local_port_range=40000 40001"}})
	require.NoError(tb, err)
	srv2, err := w.AddHost(sim.HostOptions{Name: "server2", Addr: netip.MustParseAddr("10.0.3.2"), Profile: sim.Linux})
	require.NoError(tb, err)
	_, err = w.AddLink(r, srv2, netem.Options{AtoB: netem.Path{Delay: time.Millisecond, Loss: 0.05}, BtoA: netem.Path{Delay: time.Millisecond, Loss: 0.05}})
	require.NoError(tb, err)
	l2, err := srv2.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l2.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, b []byte) { _, _ = a.Send(b) }
		a.OnEOF = func(a *sim.Socket) { _ = a.Close() }
	}
	for k := 0; k < 10; k++ {
		w.At(time.Duration(k)*1200*time.Millisecond, func() {
			cs, err := r.Connect(netip.AddrPortFrom(srv2.Addr(), 80), sim.SocketOptions{})
			if err != nil {
				return
			}
			cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("ping")) }
			cs.OnData = func(cs *sim.Socket, _ []byte) { _ = cs.Close() }
		})
	}
	require.NoError(tb, w.RunFor(3*time.Minute))
	require.Zero(tb, w.AsyncOps(), "a stack worked outside an event")
	if recycled, _ := r.CounterValue("TcpExtTWRecycled"); recycled == 0 {
		tb.Errorf("r TcpExtTWRecycled = 0, want > 0: the reuse paths were not run")
	}
	if testing.Verbose() {
		for _, h := range w.Hosts() {
			tb.Logf("%s: %v", h.Name(), h.Counters())
		}
	}
	return traceHash(w)
}

// TestDeterminism runs the stress workload 20 times under GOMAXPROCS 1, 2
// and 8 and asserts one trace hash per seed.
func TestDeterminism(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 3
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, seed := range []uint64{1, 2} {
		want := ""
		for _, procs := range []int{1, 2, 8} {
			runtime.GOMAXPROCS(procs)
			for i := 0; i < runs; i++ {
				got := stress(t, seed)
				if want == "" {
					want = got
				}
				require.Equal(t, want, got, "seed %d, GOMAXPROCS %d, run %d: trace hash differs", seed, procs, i)
			}
		}
		if seed == 2 {
			require.NotEqual(t, stress(t, 1), want, "seeds 1 and 2 gave the same trace")
		}
	}
	want := ""
	for _, procs := range []int{1, 2, 8} {
		runtime.GOMAXPROCS(procs)
		for i := 0; i < runs; i++ {
			got := linuxStress(t, 7)
			if want == "" {
				want = got
			}
			require.Equal(t, want, got, "linux stress, GOMAXPROCS %d, run %d: trace hash differs", procs, i)
		}
	}
}
