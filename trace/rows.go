package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// Row is a packet of the trace with its decoded header and tcpdump-style
// relative sequence numbers (relative to the ISN of the last SYN seen in
// each direction of the tuple; absolute when none was seen).
type Row struct {
	sim.Packet
	H              netem.Header
	TCP            bool // false when the packet could not be decoded
	RelSeq, RelAck uint32
}

// Rows decodes a packet trace.
func Rows(pkts []sim.Packet) []Row {
	var d rowDecoder
	rows := make([]Row, 0, len(pkts))
	for _, p := range pkts {
		rows = append(rows, d.row(p))
	}
	return rows
}

// rowDecoder decodes a trace one packet after the other, remembering each
// direction's ISN for the relative numbers.
type rowDecoder struct {
	isn map[[2]netip.AddrPort]uint32 // lookups only
}

func (d *rowDecoder) row(p sim.Packet) Row {
	if d.isn == nil {
		d.isn = make(map[[2]netip.AddrPort]uint32)
	}
	r := Row{Packet: p}
	r.H, r.TCP = netem.Decode(p.Data)
	if r.TCP {
		key := [2]netip.AddrPort{r.H.Src, r.H.Dst}
		if r.H.Flags&netem.SYN != 0 {
			d.isn[key] = r.H.Seq
		}
		r.RelSeq = r.H.Seq - d.isn[key]
		if r.H.Flags&netem.ACK != 0 {
			r.RelAck = r.H.Ack - d.isn[[2]netip.AddrPort{r.H.Dst, r.H.Src}]
		}
	}
	return r
}

// Seconds formats a virtual time as seconds with microsecond precision.
func Seconds(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	return fmt.Sprintf("%s%d.%06d", neg, d/time.Second, (d%time.Second)/time.Microsecond)
}

// Summary is the short form of a segment used in ladders and checks:
// "[F.] seq 1 ack 6 len 0".
func (r Row) Summary() string {
	if !r.TCP {
		return fmt.Sprintf("#%d (%d bytes, not TCP)", r.ID, len(r.Data))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#%d [%v] seq %d", r.ID, r.H.Flags, r.RelSeq)
	if r.H.Flags&netem.ACK != 0 {
		fmt.Fprintf(&b, " ack %d", r.RelAck)
	}
	if r.H.PayloadLen > 0 {
		fmt.Fprintf(&b, " len %d", r.H.PayloadLen)
	}
	return b.String()
}

// FateText describes what happened to the packet: "-> 0.020000",
// "dropped by rule \"final ACK\"", "held until 275.377907".
func (r Row) FateText() string {
	by := ""
	if r.Rule != "" {
		by = fmt.Sprintf(" by %s", ruleLabel(r.Rule))
	}
	if r.Discarded != "" {
		return fmt.Sprintf("arrives %s, discarded by %s", Seconds(r.Delivered), r.Discarded)
	}
	if r.Handled != "" {
		return fmt.Sprintf("arrives %s, to %s", Seconds(r.Delivered), r.Handled)
	}
	switch r.Fate {
	case netem.Dropped:
		return "dropped" + by
	case netem.Held:
		if r.Delivered < 0 {
			return "held" + by + ", never released"
		}
		return fmt.Sprintf("held%s, arrives %s", by, Seconds(r.Delivered))
	case netem.Duplicated:
		return fmt.Sprintf("duplicate of #%d%s, arrives %s", r.Orig, by, Seconds(r.Delivered))
	case netem.Injected:
		return "injected, arrives " + Seconds(r.Delivered)
	}
	text := "arrives " + Seconds(r.Delivered)
	if r.Rule != "" {
		text = fmt.Sprintf("delayed%s, arrives %s", by, Seconds(r.Delivered))
	}
	if r.Corrupted {
		text += " corrupted (a bit flipped on the link)"
	}
	return text
}

func ruleLabel(rule string) string {
	switch {
	case rule == "loss" || rule == "no route" || rule == "ttl exceeded" || strings.HasPrefix(rule, "nat:"),
		strings.HasPrefix(rule, "bad IPv4 header") || rule == "truncated IPv4 packet":
		return rule
	}
	return fmt.Sprintf("rule %q", rule)
}

// addr formats an address port as tcpdump does (10.0.0.1.80), or "*" when
// unset.
func addr(a netip.AddrPort) string {
	if !a.IsValid() {
		return "*"
	}
	return fmt.Sprintf("%v.%d", a.Addr(), a.Port())
}
