package bench

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/sim"
)

// besideRequests is the workload BenchmarkBesideTimeWait measures: long
// enough that a garbage collection over the sitting TIME-WAITs (a gVisor
// TIME-WAIT is a whole endpoint: 250,000 are 1.8 GB) counts at its
// share, not all or nothing.
// (-short: 2,000.)
var besideRequests = 20_000

// BenchmarkBesideTimeWait runs the same 20,000 lifecycles (16 at a time, to
// the server's port 80) beside 1,000 and 250,000 TIME-WAITs the client
// holds toward other ports of the server: a client of a busy service, its
// connections of the last minute sitting in TIME-WAIT. One op is the
// workload; cpu-ns/request should not grow with the TIME-WAITs (issue 13:
// the ratio of rates at 250,000 and 1,000 at least 0.8). With -short the
// large population is 25,000 and the workload 2,000 (CI runs every
// benchmark once).
func BenchmarkBesideTimeWait(b *testing.B) {
	large := 250_000
	if testing.Short() {
		large, besideRequests = 25_000, 2_000
	}
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		for _, n := range []int{1000, large} {
			b.Run(fmt.Sprintf("%v/tw=%d", p, n), func(b *testing.B) {
				var wall, cpu time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					w, c := pair(b, p, 0, 0)
					fillTimeWaits(b, w, c, n)
					runtime.GC() // the garbage of the fill is not the workload's
					b.StartTimer()
					start, cpu0 := time.Now(), cpuTime()
					done := startLifecycles(b, w, c, besideRequests)
					if err := w.RunUntil(func() bool { return *done == besideRequests }); err != nil {
						b.Fatal(err)
					}
					wall += time.Since(start)
					cpu += cpuTime() - cpu0
					b.StopTimer()
					if got := c.StateCount(sim.TimeWait); got < n {
						b.Fatalf("%d TIME-WAITs after the workload, want at least the %d sitting ones", got, n)
					}
					w.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*besideRequests), "ns/request")
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*besideRequests), "cpu-ns/request")
			})
		}
	}
}

// twPortsPerDest is how many TIME-WAITs fillTimeWaits puts toward one
// server port: under the 28,232 ports a destination has.
const twPortsPerDest = 28_000

// fillTimeWaits leaves n TIME-WAITs on c, toward the server's ports 90 and
// up (28,000 to each), by lifecycles 256 at a time (so that 250,000 take
// a few virtual seconds, well within TIME-WAIT's 60).
func fillTimeWaits(tb testing.TB, w *sim.World, c *sim.Host, n int) {
	tb.Helper()
	dests := (n + twPortsPerDest - 1) / twPortsPerDest
	srv := serverHost(tb, w)
	for d := 0; d < dests; d++ {
		serveLifecycles(tb, srv, uint16(90+d))
	}
	started, done := 0, 0
	var next func()
	next = func() {
		if started == n {
			return
		}
		port := uint16(90 + started/twPortsPerDest)
		started++
		if err := lifecycleTo(c, netip.AddrPortFrom(serverIP, port), func() { done++; next() }); err != nil {
			tb.Errorf("connect %d: %v", started, err)
		}
	}
	for i := 0; i < 256; i++ {
		w.At(w.Now(), next)
	}
	if err := w.RunUntil(func() bool { return done == n }); err != nil {
		tb.Fatal(err)
	}
	if err := w.RunFor(100 * time.Millisecond); err != nil {
		tb.Fatal(err)
	}
	if got := c.StateCount(sim.TimeWait); got != n {
		tb.Fatalf("%d TIME-WAITs, want %d", got, n)
	}
}

// serverHost returns the World's host named server.
func serverHost(tb testing.TB, w *sim.World) *sim.Host {
	tb.Helper()
	for _, h := range w.Hosts() {
		if h.Name() == "server" {
			return h
		}
	}
	tb.Fatal("no host named server")
	return nil
}
