package bench

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// The benchmarks in this file show what a simulated event costs beside
// state that sits still: idle ESTABLISHED connections, a port range held in
// TIME-WAIT, TIME-WAITs that tcp_tw_reuse may take over. An event's cost
// should follow what the event touched, not how much sits beside it.

// pair builds a client and a server of profile p, 1 ms apart, with the
// server of world() on port 80 (answers 100 bytes, closes on EOF) and a
// server on port 81 that accepts and never speaks: its connections stay
// ESTABLISHED. first and last bound the client's ephemeral ports (0, 0:
// Linux's default); sysctls are set on the client.
func pair(tb testing.TB, p sim.Profile, first, last uint16, sysctls ...string) (*sim.World, *sim.Host) {
	tb.Helper()
	w := sim.New(sim.Options{DiscardTrace: true})
	c, err := w.AddHost(sim.HostOptions{Name: "client", Addr: clientIP, Profile: p, FirstPort: first, LastPort: last, Sysctls: sysctls})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP, Profile: p})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := w.AddLink(c, s, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}}); err != nil {
		tb.Fatal(err)
	}
	serveLifecycles(tb, s, 80)
	if _, err := s.Listen(81, sim.SocketOptions{}); err != nil {
		tb.Fatal(err)
	}
	return w, c
}

// openIdle opens n connections from c to the server's port 81 and runs
// until they are established; they then sit idle.
func openIdle(tb testing.TB, w *sim.World, c *sim.Host, n int) {
	tb.Helper()
	for i := 0; i < n; i++ {
		if _, err := c.Connect(netip.AddrPortFrom(serverIP, 81), sim.SocketOptions{}); err != nil {
			tb.Fatalf("idle connection %d: %v", i, err)
		}
	}
	if err := w.RunFor(50 * time.Millisecond); err != nil {
		tb.Fatal(err)
	}
	if got := c.StateCount(sim.Established); got != n {
		tb.Fatalf("%d idle connections established, want %d", got, n)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// idleRequests is the fixed workload BenchmarkIdleEstablished runs beside
// the idle connections.
const idleRequests = 2000

// BenchmarkIdleEstablished runs the same 2,000 lifecycles (16 at a time)
// beside 0, 2,000 and 8,000 idle ESTABLISHED connections between the same
// hosts. One op is the whole workload; ns/request and cpu-ns/request are
// its wall and CPU time per request, which should not grow with the idle
// connections.
func BenchmarkIdleEstablished(b *testing.B) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		for _, n := range []int{0, 2000, 8000} {
			b.Run(fmt.Sprintf("%v/idle=%d", p, n), func(b *testing.B) {
				var wall, cpu time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					w, c := pair(b, p, 0, 0)
					openIdle(b, w, c, n)
					b.StartTimer()
					start, cpu0 := time.Now(), cpuTime()
					done := startLifecycles(b, w, c, idleRequests)
					if err := w.RunUntil(func() bool { return *done == idleRequests }); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(start)
					cpu += cpuTime() - cpu0
					b.StopTimer()
					if got := c.StateCount(sim.Established); got != n {
						b.Fatalf("%d connections established after the workload, want the %d idle ones", got, n)
					}
					w.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*idleRequests), "ns/request")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*idleRequests), "cpu-ns/request")
			})
		}
	}
}

// exhausted runs lifecycles from c to the server's port 80 until every
// port of c's range of size ports is in TIME-WAIT toward it.
func exhausted(tb testing.TB, p sim.Profile, ports int) (*sim.World, *sim.Host) {
	tb.Helper()
	w, c := pair(tb, p, sim.DefaultFirstPort, uint16(sim.DefaultFirstPort+ports-1))
	if got := runLifecyclesFor(tb, w, c, ports); got != ports {
		tb.Fatalf("%d of %d lifecycles completed", got, ports)
	}
	if tw := c.StateCount(sim.TimeWait); tw != ports {
		tb.Fatalf("%d ports in TIME-WAIT, want %d", tw, ports)
	}
	return w, c
}

// BenchmarkConnectExhausted is the cost of one connect() that fails with
// EADDRNOTAVAIL because every port of the client's range is in TIME-WAIT
// toward the destination, for a range of 1,000 and of 28,232 ports (Linux's
// default). One op is one failed connect; it should not grow with the
// range.
func BenchmarkConnectExhausted(b *testing.B) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		for _, ports := range []int{1000, sim.DefaultLastPort - sim.DefaultFirstPort + 1} {
			var w *sim.World
			var c *sim.Host
			b.Run(fmt.Sprintf("%v/ports=%d", p, ports), func(b *testing.B) {
				if w == nil {
					w, c = exhausted(b, p, ports)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					_, err := c.Connect(netip.AddrPortFrom(serverIP, 80), sim.SocketOptions{})
					if sim.Errno(err) != "EADDRNOTAVAIL" {
						b.Fatalf("connect at exhaustion: %v, want EADDRNOTAVAIL", err)
					}
				}
			})
			if w != nil {
				w.Close()
			}
		}
	}
}

// BenchmarkTWReuse runs a client at 100 new connections per virtual second
// for 120 virtual seconds to one server:port (12,000 lifecycles; some 6,000
// TIME-WAITs sit at any time) with net.ipv4.tcp_tw_reuse 0, 1 and 2, each
// profile. One op is the whole run; ns/lifecycle should not depend on the
// knob by much, nor grow with the TIME-WAITs sitting.
func BenchmarkTWReuse(b *testing.B) {
	const rate, secs = 100, 120
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		for _, reuse := range []int{0, 1, 2} {
			b.Run(fmt.Sprintf("%v/tw_reuse=%d", p, reuse), func(b *testing.B) {
				var wall time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					w, c := pair(b, p, 0, 0, fmt.Sprintf("net.ipv4.tcp_tw_reuse=%d", reuse))
					done, failed := 0, 0
					for k := 0; k < rate*secs; k++ {
						w.At(time.Duration(k)*time.Second/rate, func() {
							if err := lifecycle(c, func() { done++ }); err != nil {
								failed++
							}
						})
					}
					b.StartTimer()
					start := time.Now()
					if err := w.RunFor(secs*time.Second + time.Second); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(start)
					b.StopTimer()
					if done+failed != rate*secs || done == 0 {
						b.Fatalf("%d lifecycles done and %d connects failed of %d", done, failed, rate*secs)
					}
					w.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*rate*secs), "ns/lifecycle")
			})
		}
	}
}
