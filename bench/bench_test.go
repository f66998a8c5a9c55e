package bench

import (
	"context"
	"io"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
)

// lifecycles is how many open-request-response-close lifecycles one
// iteration of the throughput benchmarks runs.
const lifecycles = 20_000

// chains is how many lifecycles run at once.
const chains = 16

var (
	clientIP = netip.MustParseAddr("10.0.0.1")
	serverIP = netip.MustParseAddr("10.0.0.2")
	request  = make([]byte, 100)
	response = make([]byte, 100)
)

func BenchmarkLostFinalACK(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res, err := scenarios.Run("lost-final-ack", scenarios.Config{Seed: scenarios.Seed(uint64(i))})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Passed() {
			b.Fatal("lost-final-ack's checks failed")
		}
		res.Close()
	}
}

// world builds a client and a server 1 ms apart, with a server that answers
// each 100-byte request with 100 bytes and closes on EOF. The client has
// the given profile.
func world(tb testing.TB, profile ...sim.Profile) (*sim.World, *sim.Host) {
	tb.Helper()
	w := sim.New(sim.Options{DiscardTrace: true})
	co := sim.HostOptions{Name: "client", Addr: clientIP}
	if len(profile) > 0 {
		co.Profile = profile[0]
	}
	c, err := w.AddHost(co)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.AddLink(c, s, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}}); err != nil {
		tb.Fatal(err)
	}
	serveLifecycles(tb, s, 80)
	return w, c
}

// serveLifecycles listens on port of s: each connection gets the response
// once it has sent the request, and is closed when the client closes.
func serveLifecycles(tb testing.TB, s *sim.Host, port uint16) {
	tb.Helper()
	l, err := s.Listen(port, sim.SocketOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	l.OnAccept = func(a *sim.Socket) {
		got := 0
		a.OnData = func(a *sim.Socket, p []byte) {
			if got += len(p); got == len(request) {
				_, _ = a.Send(response)
			}
		}
		a.OnEOF = func(a *sim.Socket) { _ = a.Close() }
	}
}

// lifecycle starts one client lifecycle to the server's port 80: connect,
// send the request, read the response, close first; then done runs.
func lifecycle(c *sim.Host, done func()) error {
	return lifecycleTo(c, netip.AddrPortFrom(serverIP, 80), done)
}

// lifecycleTo is lifecycle toward dst.
func lifecycleTo(c *sim.Host, dst netip.AddrPort, done func()) error {
	cs, err := c.Connect(dst, sim.SocketOptions{})
	if err != nil {
		return err
	}
	cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send(request) }
	got := 0
	cs.OnData = func(cs *sim.Socket, p []byte) {
		if got += len(p); got == len(response) {
			_ = cs.Close()
			done()
		}
	}
	return nil
}

// runLifecycles runs n lifecycles in chains concurrent chains, as a
// service with a bounded number of connections at a time does, to the end
// of the run (every TIME-WAIT expired), and returns how many completed.
func runLifecycles(tb testing.TB, w *sim.World, c *sim.Host, n int) int {
	tb.Helper()
	done := startLifecycles(tb, w, c, n)
	if err := w.Run(); err != nil {
		tb.Fatal(err)
	}
	return *done
}

// startLifecycles schedules n lifecycles in chains concurrent chains; the
// count of completed ones is at the returned address.
func startLifecycles(tb testing.TB, w *sim.World, c *sim.Host, n int) *int {
	tb.Helper()
	started, done := 0, new(int)
	var next func()
	next = func() {
		if started == n {
			return
		}
		started++
		if err := lifecycle(c, func() { *done++; next() }); err != nil {
			tb.Errorf("connect %d: %v", started, err)
		}
	}
	for i := 0; i < chains; i++ {
		w.At(w.Now(), next)
	}
	return done
}

// BenchmarkLifecycles runs lifecycles with a client of each profile: the
// linux client keeps its TIME-WAITs in timewait sockets and searches ports
// as Linux does.
func BenchmarkLifecycles(b *testing.B) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		b.Run(p.String(), func(b *testing.B) { benchLifecycles(b, p) })
	}
}

func benchLifecycles(b *testing.B, p sim.Profile) {
	var elapsed, cpu time.Duration
	var packets int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w, c := world(b, p)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		if got := runLifecycles(b, w, c, lifecycles); got != lifecycles {
			b.Fatalf("%d of %d lifecycles completed", got, lifecycles)
		}
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		packets += w.PacketCount()
		if w.AsyncOps() != 0 {
			b.Fatal("a stack worked outside an event")
		}
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(lifecycles*b.N)/elapsed.Seconds(), "lifecycles/s")
	b.ReportMetric(float64(lifecycles*b.N)/cpu.Seconds(), "lifecycles/cpu-s")
	b.ReportMetric(float64(packets)/elapsed.Seconds(), "packets/s")
}

// BenchmarkTimeWaitMemory reports the heap that stays allocated per
// connection while the client holds it in TIME-WAIT (our records and
// sockets included; the trace is discarded): a gVisor TIME-WAIT endpoint
// under the gvisor profile, a timewait socket under the linux profile.
func BenchmarkTimeWaitMemory(b *testing.B) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		b.Run(p.String(), func(b *testing.B) { timeWaitMemory(b, p) })
	}
}

func timeWaitMemory(b *testing.B, p sim.Profile) {
	const n = 5000
	var perTW float64
	for i := 0; i < b.N; i++ {
		w, c := world(b, p)
		before := heapInUse()
		if got := runLifecyclesFor(b, w, c, n); got != n {
			b.Fatalf("%d of %d lifecycles completed", got, n)
		}
		if tw := c.StateCount(sim.TimeWait); tw != n {
			b.Fatalf("%d endpoints in TIME-WAIT, want %d", tw, n)
		}
		perTW = float64(heapInUse()-before) / n
		w.Close()
	}
	b.ReportMetric(perTW, "B/tw-endpoint")
}

// heapInUse is the live heap after two collections (the second empties
// the sync.Pool victim caches the first leaves).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// runLifecyclesFor runs n lifecycles as runLifecycles does and stops once
// they are done, before any TIME-WAIT has expired.
func runLifecyclesFor(tb testing.TB, w *sim.World, c *sim.Host, n int) int {
	tb.Helper()
	done := startLifecycles(tb, w, c, n)
	if err := w.RunUntil(func() bool { return *done == n }); err != nil {
		tb.Fatal(err)
	}
	if err := w.RunFor(100 * time.Millisecond); err != nil { // the last closes complete
		tb.Fatal(err)
	}
	if w.Now() >= 2*sim.DefaultMSL {
		tb.Fatalf("the lifecycles took until %v: TIME-WAITs began to expire", w.Now())
	}
	return *done
}

// freeStack is a gVisor stack on real time with a channel link endpoint.
func freeStack(tb testing.TB, addr netip.Addr) (*stack.Stack, *channel.Endpoint) {
	tb.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	ep := channel.New(4096, 1500, "")
	if err := s.CreateNIC(1, ep); err != nil {
		tb.Fatal(err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddrFrom4(addr.As4()).WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		tb.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: 1}})
	return s, ep
}

// forward moves packets from one channel endpoint into another until ctx
// ends: a goroutine-driven link with no delay.
func forward(ctx context.Context, from, to *channel.Endpoint, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		pkt := from.ReadContext(ctx)
		if pkt == nil {
			return
		}
		buf := pkt.ToBuffer()
		in := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buf.Clone()})
		buf.Release()
		pkt.DecRef()
		to.InjectInbound(ipv4.ProtocolNumber, in)
		in.DecRef()
	}
}

// BenchmarkFreeRunning is the baseline: the same lifecycle between two
// gVisor stacks on real time, with the links driven by goroutines, and
// chains client goroutines at once. No simulator, no determinism.
func BenchmarkFreeRunning(b *testing.B) {
	var elapsed, cpu time.Duration
	for i := 0; i < b.N; i++ {
		cs, cep := freeStack(b, clientIP)
		ss, sep := freeStack(b, serverIP)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		go forward(ctx, cep, sep, &wg)
		go forward(ctx, sep, cep, &wg)
		ln, err := gonet.ListenTCP(ss, tcpip.FullAddress{Addr: tcpip.AddrFrom4(serverIP.As4()), Port: 80}, ipv4.ProtocolNumber)
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, len(request))
					if _, err := io.ReadFull(conn, buf); err == nil {
						_, _ = conn.Write(response)
						_, _ = io.Copy(io.Discard, conn) // until the client's FIN
					}
					conn.Close()
				}()
			}
		}()

		var left atomic.Int64
		left.Store(lifecycles)
		start, cpu0 := time.Now(), cpuTime()
		var workers sync.WaitGroup
		for k := 0; k < chains; k++ {
			workers.Add(1)
			go func() {
				defer workers.Done()
				buf := make([]byte, len(response))
				for left.Add(-1) >= 0 {
					conn, err := gonet.DialTCP(cs, tcpip.FullAddress{Addr: tcpip.AddrFrom4(serverIP.As4()), Port: 80}, ipv4.ProtocolNumber)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := conn.Write(request); err != nil {
						b.Error(err)
					}
					if _, err := io.ReadFull(conn, buf); err != nil {
						b.Error(err)
					}
					conn.Close()
				}
			}()
		}
		workers.Wait()
		elapsed += time.Since(start)
		cpu += cpuTime() - cpu0
		ln.Close()
		cancel()
		wg.Wait()
		cs.Destroy()
		ss.Destroy()
	}
	b.ReportMetric(float64(lifecycles*b.N)/elapsed.Seconds(), "lifecycles/s")
	b.ReportMetric(float64(lifecycles*b.N)/cpu.Seconds(), "lifecycles/cpu-s")
}
