package trace

import (
	"cmp"
	"fmt"
	"io"
	"slices"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/tcpsim/tcpsim/sim"
)

// WritePcap writes every packet as it left its sender (dropped ones too, as
// a capture at the sender would show them; injected ones at the time they
// were injected) to a nanosecond pcap with LINKTYPE_RAW. Timestamps are
// sim.Epoch() plus virtual time.
func WritePcap(out io.Writer, pkts []sim.Packet) error {
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	sorted := slices.Clone(pkts)
	slices.SortStableFunc(sorted, func(a, b sim.Packet) int { return cmp.Compare(a.Sent, b.Sent) })
	for _, p := range sorted {
		ci := gopacket.CaptureInfo{
			Timestamp:     sim.Epoch().Add(p.Sent),
			CaptureLength: len(p.Data),
			Length:        len(p.Data),
		}
		if err := w.WritePacket(ci, p.Data); err != nil {
			return fmt.Errorf("pcap: packet #%d: %w", p.ID, err)
		}
	}
	return nil
}
