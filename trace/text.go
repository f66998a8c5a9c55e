package trace

import (
	"bufio"
	"fmt"
	"io"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// WriteText writes the packet trace, one tcpdump-like line per packet with
// its fate:
//
//	#9   0.140000 client>server 10.0.0.1.40000 > 10.0.0.2.80: Flags [.], seq 1, ack 1, win 1024, options [TS val 5 ecr 9], length 0 | dropped by rule "final ACK"
func WriteText(out io.Writer, pkts []sim.Packet) error { return WriteRows(out, Rows(pkts)) }

// WriteRows writes decoded rows as WriteText does; decode the whole trace
// with Rows and pass a tail of it to print only recent packets with their
// sequence numbers still relative to the ISNs.
func WriteRows(out io.Writer, rows []Row) error {
	w := bufio.NewWriter(out)
	for _, r := range rows {
		from := r.From
		if from == "" {
			from = "(injector)"
		}
		fmt.Fprintf(w, "#%-3d %10s %s>%s ", r.ID, Seconds(r.Sent), from, r.To)
		if !r.TCP {
			fmt.Fprintf(w, "%d bytes, not TCP/IPv4 | %s\n", len(r.Data), r.FateText())
			continue
		}
		h := r.H
		// Like tcpdump, a SYN shows absolute numbers (it sets the base).
		seq, ack := r.RelSeq, r.RelAck
		if h.Flags&netem.SYN != 0 {
			seq, ack = h.Seq, h.Ack
		}
		fmt.Fprintf(w, "%s > %s: Flags [%v], seq %d", addr(h.Src), addr(h.Dst), h.Flags, seq)
		if h.PayloadLen > 0 {
			fmt.Fprintf(w, ":%d", seq+uint32(h.PayloadLen))
		}
		if h.Flags&netem.ACK != 0 {
			fmt.Fprintf(w, ", ack %d", ack)
		}
		fmt.Fprintf(w, ", win %d", h.Window)
		if h.HasTS {
			fmt.Fprintf(w, ", options [TS val %d ecr %d]", h.TS.Val, h.TS.Ecr)
		}
		fmt.Fprintf(w, ", length %d | %s\n", h.PayloadLen, r.FateText())
	}
	return w.Flush()
}

// WriteTransitions writes the state timeline, one transition per line.
func WriteTransitions(out io.Writer, ts []sim.Transition) error {
	w := bufio.NewWriter(out)
	for _, t := range ts {
		inf := ""
		if t.Inferred {
			inf = "  (passed through within one event)"
		}
		if t.Cause != "" {
			inf += "  (" + t.Cause + ")"
		}
		fmt.Fprintf(w, "%10s %-8s %s > %s  %s -> %s%s\n", Seconds(t.At), t.Host, addr(t.Local), addr(t.Remote), t.From, t.To, inf)
	}
	return w.Flush()
}
