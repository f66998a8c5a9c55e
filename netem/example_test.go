package netem_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// A rule that loses the final ACK of a close: the client's first pure ACK
// after the server's FIN. The retransmitted FIN's ACK gets through.
func ExampleRule_finalACK() {
	link, err := netem.New(netem.Options{
		AtoB: netem.Path{Delay: 10 * time.Millisecond}, // client to server
		BtoA: netem.Path{Delay: 10 * time.Millisecond},
		Rules: []netem.Rule{{
			Name:   "final ACK",
			Match:  netem.PureACK(netem.AtoB),
			After:  &netem.Match{Dir: netem.BtoA, Flags: netem.FIN},
			Action: netem.Action{Kind: netem.Drop},
		}},
	})
	if err != nil {
		panic(err)
	}
	c, s := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80")
	send := func(at time.Duration, dir netem.Dir, src, dst netip.AddrPort, f netem.Flags) {
		pkt, _ := netem.Segment{Src: src, Dst: dst, Flags: f}.Marshal()
		out := link.Send(at, dir, pkt)[0]
		fmt.Printf("%v %-2v %v at %v", at, f, out.Fate, out.At)
		if out.Rule != "" {
			fmt.Printf(" by %q", out.Rule)
		}
		fmt.Println()
	}
	send(0, netem.BtoA, s, c, netem.FIN|netem.ACK)
	send(10*time.Millisecond, netem.AtoB, c, s, netem.ACK)
	send(250*time.Millisecond, netem.BtoA, s, c, netem.FIN|netem.ACK)
	send(260*time.Millisecond, netem.AtoB, c, s, netem.ACK)
	// Output:
	// 0s F. delivered at 10ms
	// 10ms .  dropped at -1ns by "final ACK"
	// 250ms F. delivered at 260ms
	// 260ms .  delivered at 270ms
}

// Build a segment to inject, then decode it back.
func ExampleSegment_Marshal() {
	pkt, err := netem.Segment{
		Src:     netip.MustParseAddrPort("10.0.0.2:80"),
		Dst:     netip.MustParseAddrPort("10.0.0.1:40000"),
		Seq:     1000,
		Flags:   netem.RST,
		TS:      &netem.Timestamp{Val: 5, Ecr: 7},
		Payload: []byte("x"),
	}.Marshal()
	if err != nil {
		panic(err)
	}
	h, _ := netem.Decode(pkt)
	fmt.Println(len(pkt), h.Src, ">", h.Dst, h.Flags.Names(), h.Seq, h.TS, h.PayloadLen)
	// Output:
	// 53 10.0.0.2:80 > 10.0.0.1:40000 [RST] 1000 {5 7} 1
}
