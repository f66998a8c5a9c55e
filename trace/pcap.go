package trace

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tcpsim/tcpsim/sim"
)

// Capture says at which instant a pcap holds each packet.
type Capture int

const (
	// CaptureSend writes a packet as it left its sender (a capture at the
	// sender, or at each hop that sent it on): dropped ones too, injected
	// ones at the time they were injected. The file is in send order.
	CaptureSend Capture = iota
	// CaptureArrival writes a packet as it reached the other end of its
	// link (a capture at the receiver), so a packet held on the link sits
	// where it landed. The file is in arrival order (stable: packets that
	// arrive at one instant keep the trace's order). A packet that never
	// arrived (dropped, or held and never released) is written at its send
	// time; pcapng's comment says so, plain pcap has no comments.
	CaptureArrival
)

// ParseCapture reads "send" or "arrival".
func ParseCapture(s string) (Capture, error) {
	switch s {
	case "send":
		return CaptureSend, nil
	case "arrival":
		return CaptureArrival, nil
	}
	return 0, fmt.Errorf("capture %q: want send or arrival", s)
}

func (c Capture) String() string {
	if c == CaptureArrival {
		return "arrival"
	}
	return "send"
}

// at is when c writes packet p.
func (c Capture) at(p sim.Packet) time.Duration {
	if c == CaptureArrival && p.Delivered >= 0 {
		return p.Delivered
	}
	return p.Sent
}

// WritePcap writes every packet as it left its sender (dropped ones too, as
// a capture at the sender would show them; injected ones at the time they
// were injected) to a nanosecond pcap with LINKTYPE_RAW. Timestamps are
// sim.Epoch() plus virtual time. A packet that crosses middle hops is in
// the file once per link, as each hop sent it on (tcpdump -i any on every
// node); WritePcapNG keeps the links apart.
func WritePcap(out io.Writer, pkts []sim.Packet) error { return WritePcapAt(out, pkts, CaptureSend) }

// WritePcapAt is WritePcap with the packets written at the instant c says.
func WritePcapAt(out io.Writer, pkts []sim.Packet, c Capture) error {
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	sorted := slices.Clone(pkts)
	slices.SortStableFunc(sorted, func(a, b sim.Packet) int { return cmp.Compare(c.at(a), c.at(b)) })
	for _, p := range sorted {
		ci := gopacket.CaptureInfo{
			Timestamp:     sim.Epoch().Add(c.at(p)),
			CaptureLength: len(p.Data),
			Length:        len(p.Data),
		}
		if err := w.WritePacket(ci, p.Data); err != nil {
			return fmt.Errorf("pcap: packet #%d: %w", p.ID, err)
		}
	}
	return nil
}

// WritePcapNG writes the run as a pcapng file with one interface per link,
// named A-B after its ends (in the order the links were added), one named
// "injected" for crafted segments, and one HOST-lo per host that talked to
// itself over 127.0.0.1: a capture on every link at once.
// Wireshark shows the interface of each packet (frame.interface_name), so
// one link's packets can be picked out when a packet crosses several. Each
// packet carries a comment with its trace ID, direction and fate ("#7
// client>server dropped by rule ..."; Wireshark's display filter
// frame.comment contains "dropped" shows the drops). A packet
// a middle hop refuses never reaches a link; its fate is told in the
// comment of the packet as it arrived at the hop. The file is the same on
// every machine: the section and interfaces name tcpsim and no host OS.
// Packets are written as they were sent (CaptureSend).
func WritePcapNG(out io.Writer, w *sim.World) error { return WritePcapNGAt(out, w, CaptureSend) }

// WritePcapNGAt is WritePcapNG with the packets written at the instant c
// says. With CaptureArrival, the comment of a packet that never arrived
// ends "; written at its send time: it never arrived".
func WritePcapNGAt(out io.Writer, w *sim.World, c Capture) error {
	links := w.Links()
	iface := map[[2]string]int{} // lookups only
	var intfs []pcapgo.NgInterface
	for i, l := range links {
		a, b := l.A().Name(), l.B().Name()
		iface[[2]string{a, b}], iface[[2]string{b, a}] = i, i
		intfs = append(intfs, ngInterface(a+"-"+b, fmt.Sprintf("link between %s and %s", a, b)))
	}
	pkts := w.Packets()
	injected := -1
	refused := map[int]string{} // lookups only: prev ID -> what the hop did
	for _, p := range pkts {
		if p.From == "" && injected < 0 {
			injected = len(intfs)
			intfs = append(intfs, ngInterface("injected", "segments crafted by inject"))
		}
		if k := [2]string{p.From, p.To}; p.From != "" && p.From == p.To {
			if _, ok := iface[k]; !ok {
				iface[k] = len(intfs)
				intfs = append(intfs, ngInterface(p.From+"-lo", "loopback interface of "+p.From))
			}
		}
		if _, ok := iface[[2]string{p.From, p.To}]; !ok && p.From != "" && p.Prev > 0 {
			refused[p.Prev] = fmt.Sprintf("; then dropped at %s by %s", p.From, p.Rule)
		}
	}
	if len(intfs) == 0 {
		intfs = append(intfs, ngInterface("none", "no links"))
	}
	nw, err := pcapgo.NewNgWriterInterface(out, intfs[0], pcapgo.NgWriterOptions{
		SectionInfo: pcapgo.NgSectionInfo{Application: "tcpsim " + sim.StackVersion(), Comment: "virtual time from " + sim.Epoch().Format("2006-01-02T15:04:05Z")},
	})
	if err != nil {
		return fmt.Errorf("pcapng: %w", err)
	}
	for _, in := range intfs[1:] {
		if _, err := nw.AddInterface(in); err != nil {
			return fmt.Errorf("pcapng: %w", err)
		}
	}
	rows := Rows(pkts)
	slices.SortStableFunc(rows, func(a, b Row) int { return cmp.Compare(c.at(a.Packet), c.at(b.Packet)) })
	for _, r := range rows {
		idx, ok := iface[[2]string{r.From, r.To}]
		switch {
		case r.From == "":
			idx = injected
		case !ok:
			continue // refused inside a hop: see refused
		}
		ci := gopacket.CaptureInfo{Timestamp: sim.Epoch().Add(c.at(r.Packet)), CaptureLength: len(r.Data), Length: len(r.Data), InterfaceIndex: idx}
		comment := fmt.Sprintf("#%d %s>%s %s%s", r.ID, r.From, r.To, r.FateText(), refused[r.ID])
		if c == CaptureArrival && r.Delivered < 0 {
			comment += "; written at its send time: it never arrived"
		}
		if r.From == "" {
			comment = fmt.Sprintf("#%d injected to %s, arrives %s", r.ID, r.To, Seconds(r.Delivered))
		}
		if err := nw.WritePacketWithOptions(ci, r.Data, pcapgo.NgPacketOptions{Comments: []string{comment}}); err != nil {
			return fmt.Errorf("pcapng: packet #%d: %w", r.ID, err)
		}
	}
	return nw.Flush()
}

func ngInterface(name, desc string) pcapgo.NgInterface {
	return pcapgo.NgInterface{Name: name, Description: desc, OS: "tcpsim", LinkType: layers.LinkTypeRaw, TimestampResolution: 9}
}
