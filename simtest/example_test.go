package simtest_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/simtest"
)

// reporter stands in for *testing.T in the example, printing what a test
// would report.
type reporter struct {
	testing.TB
	cleanups []func()
}

func (r *reporter) Helper()                           {}
func (r *reporter) Cleanup(f func())                  { r.cleanups = append(r.cleanups, f) }
func (r *reporter) Errorf(format string, args ...any) { fmt.Printf("FAIL: "+format+"\n", args...) }
func (r *reporter) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (r *reporter) done() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// A claim as a Go test: after the final ACK is lost, the server retransmits
// its FIN and the client is still in TIME-WAIT 60 s after the first FIN
// arrived, because the retransmission restarted it.
func Example() {
	t := &reporter{}
	defer t.done()
	w, client, server := simtest.Pair(t, simtest.PairOptions{
		Link: netem.Options{
			AtoB: netem.Path{Delay: 10 * time.Millisecond},
			BtoA: netem.Path{Delay: 10 * time.Millisecond},
			Rules: []netem.Rule{{Match: netem.PureACK(netem.AtoB),
				After: &netem.Match{Dir: netem.BtoA, Flags: netem.FIN}, Action: netem.Action{Kind: netem.Drop}}},
		},
	})
	l, _ := server.Listen(80, sim.SocketOptions{})
	l.OnAccept = func(c *sim.Socket) { c.OnEOF = func(c *sim.Socket) { _ = c.Close() } }
	c, _ := client.Connect(netip.MustParseAddrPort("10.0.0.2:80"), sim.SocketOptions{LocalPort: 40000})
	w.At(100*time.Millisecond, func() { _ = c.Close() })
	_ = w.Run()

	local, remote := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	fmt.Println(simtest.AssertPackets(t, w, "server", "client", netem.FIN, 2))
	fmt.Println(simtest.AssertState(t, w, "client", local, remote, sim.TimeWait, 60120*time.Millisecond))
	fmt.Println(simtest.AssertState(t, w, "client", local, remote, sim.TimeWait, 61*time.Second))
	// Output:
	// true
	// true
	// FAIL: client 10.0.0.1:40000 > 10.0.0.2:80 at 61.000000 s: got CLOSED, want TIME-WAIT
	// its transitions:
	//   0.000000 CLOSED -> SYN-SENT
	//   0.020000 SYN-SENT -> ESTABLISHED
	//   0.100000 ESTABLISHED -> FIN-WAIT-1
	//   0.120000 FIN-WAIT-1 -> FIN-WAIT-2
	//   0.120000 FIN-WAIT-2 -> TIME-WAIT
	//   60.360000 TIME-WAIT -> CLOSED
	// false
}

// recording is a reporter that keeps the errors instead of printing them.
type recording struct {
	*reporter
	errs *[]string
}

func (r *recording) Errorf(format string, args ...any) {
	*r.errs = append(*r.errs, fmt.Sprintf(format, args...))
}
