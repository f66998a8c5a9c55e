// Package simtest helps a Go test state claims about TCP with tcpsim: build
// a World that is closed (and checked) when the test ends, run a notebook as
// a test, and assert states and packets with got/want messages.
//
//	func TestMyClaim(t *testing.T) {
//		w, client, server := simtest.Pair(t, simtest.PairOptions{})
//		...
//		simtest.AssertState(t, w, "client", local, remote, sim.TimeWait, 1200*time.Millisecond)
//	}
package simtest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// World returns a new World that is closed when the test ends; the test
// fails if a stack did work outside an event (a broken determinism
// guarantee).
func World(tb testing.TB, opts sim.Options) *sim.World {
	tb.Helper()
	w := sim.New(opts)
	tb.Cleanup(func() {
		if n := w.AsyncOps(); n != 0 {
			tb.Errorf("simtest: %d stack operations outside an event: the run may not be deterministic", n)
		}
		w.Close()
	})
	return w
}

// PairOptions configures Pair. The zero value gives a client 10.0.0.1 and
// a server 10.0.0.2, 10 ms apart, with Linux's defaults.
type PairOptions struct {
	World          sim.Options
	Client, Server sim.HostOptions
	Link           netem.Options
}

// Pair builds a World with two linked hosts named client and server.
func Pair(tb testing.TB, o PairOptions) (*sim.World, *sim.Host, *sim.Host) {
	tb.Helper()
	w := World(tb, o.World)
	if o.Client.Name == "" {
		o.Client.Name = "client"
	}
	if !o.Client.Addr.IsValid() {
		o.Client.Addr = netip.MustParseAddr("10.0.0.1")
	}
	if o.Server.Name == "" {
		o.Server.Name = "server"
	}
	if !o.Server.Addr.IsValid() {
		o.Server.Addr = netip.MustParseAddr("10.0.0.2")
	}
	if o.Link.AtoB.Delay == 0 && o.Link.BtoA.Delay == 0 {
		o.Link.AtoB.Delay, o.Link.BtoA.Delay = 10*time.Millisecond, 10*time.Millisecond
	}
	c, err := w.AddHost(o.Client)
	if err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	s, err := w.AddHost(o.Server)
	if err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	if _, err := w.AddLink(c, s, o.Link); err != nil {
		tb.Fatalf("simtest: %v", err)
	}
	return w, c, s
}

// RunNotebook runs the notebook at path as `tcpsim check` does: the test
// fails for each expectation that does not hold and, with a diff, when an
// output block differs from what the run writes. It returns the result
// (closed when the test ends) for further assertions.
func RunNotebook(tb testing.TB, path string, cfg scenarios.Config) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.RunFile(path, cfg)
	if err != nil {
		tb.Fatalf("simtest: %v", err)
		return nil
	}
	tb.Cleanup(res.Close)
	for _, f := range res.Failures() {
		tb.Errorf("%s", f)
	}
	if d := res.Diff(); d != "" {
		tb.Errorf("%s: outputs differ from the file (tcpsim run %s --update rewrites them):\n%s", path, path, d)
	}
	return res
}

// StateAt returns the state the endpoint of host with that local and
// remote address was in at virtual time at (transitions at that instant
// count), as the World recorded it. With several incarnations of the tuple
// the latest one that existed at that time answers.
func StateAt(w *sim.World, host string, local, remote netip.AddrPort, at time.Duration) sim.State {
	state := sim.Closed
	for _, t := range w.Transitions() {
		if t.At > at {
			break
		}
		if t.Host == host && t.Local == local && t.Remote == remote {
			state = t.To
		}
	}
	return state
}

// AssertState fails the test unless the endpoint was in state want at
// virtual time at.
func AssertState(tb testing.TB, w *sim.World, host string, local, remote netip.AddrPort, want sim.State, at time.Duration) bool {
	tb.Helper()
	got := StateAt(w, host, local, remote, at)
	if got == want {
		return true
	}
	tb.Errorf("%s %v > %v at %s s: got %v, want %v\n%s", host, local, remote, trace.Seconds(at), got, want, history(w, host, local, remote))
	return false
}

func history(w *sim.World, host string, local, remote netip.AddrPort) string {
	var b strings.Builder
	b.WriteString("its transitions:")
	n := 0
	for _, t := range w.Transitions() {
		if t.Host == host && t.Local == local && t.Remote == remote {
			fmt.Fprintf(&b, "\n  %s %v -> %v", trace.Seconds(t.At), t.From, t.To)
			n++
		}
	}
	if n == 0 {
		b.WriteString(" none")
	}
	return b.String()
}

// Packets returns the packets from host from to host to that carry all of
// flags, in sending order.
func Packets(w *sim.World, from, to string, flags netem.Flags) []trace.Row {
	var out []trace.Row
	for _, r := range trace.Rows(w.Packets()) {
		if r.From == from && r.To == to && r.TCP && r.H.Flags&flags == flags {
			out = append(out, r)
		}
	}
	return out
}

// AssertPackets fails the test unless exactly want packets from host from
// to host to carry all of flags.
func AssertPackets(tb testing.TB, w *sim.World, from, to string, flags netem.Flags, want int) bool {
	tb.Helper()
	got := Packets(w, from, to, flags)
	if len(got) == want {
		return true
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.Summary())
	}
	tb.Errorf("packets %s>%s with [%v]: got %d, want %d: %s", from, to, flags, len(got), want, strings.Join(ids, "; "))
	return false
}

// ReadPcap reads a pcap tcpsim wrote (--pcap, trace.WritePcap): each
// packet's bytes and its time, in file order.
func ReadPcap(tb testing.TB, raw []byte) (data [][]byte, at []time.Time) {
	tb.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatalf("reading the pcap: %v", err)
	}
	for {
		d, ci, err := r.ReadPacketData()
		if err != nil {
			return data, at
		}
		data, at = append(data, d), append(at, ci.Timestamp.UTC())
	}
}
