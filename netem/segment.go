package netem

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Flags is a set of TCP header flags, bit-compatible with the wire.
type Flags uint8

// The TCP flags, with their wire bit values.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

var flagNames = [...]struct {
	f    Flags
	name string
	char byte
}{
	{FIN, "FIN", 'F'}, {SYN, "SYN", 'S'}, {RST, "RST", 'R'}, {PSH, "PSH", 'P'},
	{ACK, "ACK", '.'}, {URG, "URG", 'U'}, {ECE, "ECE", 'E'}, {CWR, "CWR", 'W'},
}

// Names lists the flags that are set, by name, in wire-bit order
// (FIN SYN RST PSH ACK URG ECE CWR).
func (f Flags) Names() []string {
	names := make([]string, 0, 3)
	for _, n := range flagNames {
		if f&n.f != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// String formats the flags as tcpdump does: "S", "S.", "F.", "P.", "R", ".".
func (f Flags) String() string {
	var b [8]byte
	n := 0
	for _, fn := range flagNames {
		if f&fn.f != 0 {
			b[n] = fn.char
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}

// FlagOfChar returns the flag tcpdump prints as c (S F R P . U E W).
func FlagOfChar(c byte) (Flags, bool) {
	for _, n := range flagNames {
		if n.char == c {
			return n.f, true
		}
	}
	return 0, false
}

// ParseFlags reads flags written as names joined by '|' or ',' (e.g.
// "FIN|ACK"), case-insensitively.
func ParseFlags(s string) (Flags, error) {
	var f Flags
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '|' || r == ',' || r == '+' }) {
		found := false
		for _, n := range flagNames {
			if strings.EqualFold(strings.TrimSpace(part), n.name) {
				f |= n.f
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown TCP flag %q: want one of FIN, SYN, RST, PSH, ACK, URG, ECE, CWR", part)
		}
	}
	return f, nil
}

// Timestamp is the RFC 7323 timestamp option.
type Timestamp struct {
	Val, Ecr uint32
}

// Segment is a TCP segment in an IPv4 packet, decoded from or encoded to
// wire bytes.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    Flags
	Window   uint16
	// TS is the timestamp option; nil when the segment carries none.
	TS      *Timestamp
	Payload []byte
}

// Header is the part of a segment that a trace or a rule needs, decoded
// without allocating.
type Header struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    Flags
	Window   uint16
	HasTS    bool
	TS       Timestamp
	// WScale is the window scale option's shift, or -1 if the segment has
	// none.
	WScale     int8
	PayloadOff int // offset of the TCP payload in the packet
	PayloadLen int
}

// Decode reads the IPv4 and TCP headers of pkt. It reports false when pkt is
// not a well-formed IPv4 packet carrying TCP.
func Decode(pkt []byte) (Header, bool) {
	h := Header{WScale: -1}
	if len(pkt) < 20 || pkt[0]>>4 != 4 {
		return h, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if ihl < 20 || total < ihl+20 || total > len(pkt) || pkt[9] != 6 {
		return h, false
	}
	src := netip.AddrFrom4([4]byte(pkt[12:16]))
	dst := netip.AddrFrom4([4]byte(pkt[16:20]))
	t := pkt[ihl:total]
	off := int(t[12]>>4) * 4
	if off < 20 || off > len(t) {
		return h, false
	}
	h.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(t[0:2]))
	h.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(t[2:4]))
	h.Seq = binary.BigEndian.Uint32(t[4:8])
	h.Ack = binary.BigEndian.Uint32(t[8:12])
	h.Flags = Flags(t[13])
	h.Window = binary.BigEndian.Uint16(t[14:16])
	h.PayloadOff = ihl + off
	h.PayloadLen = total - h.PayloadOff
	opts := t[20:off]
	for len(opts) > 0 {
		switch kind := opts[0]; kind {
		case 0: // end of options
			opts = nil
		case 1: // NOP
			opts = opts[1:]
		default:
			if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
				opts = nil
				continue
			}
			switch {
			case kind == 8 && opts[1] == 10:
				h.HasTS = true
				h.TS.Val = binary.BigEndian.Uint32(opts[2:6])
				h.TS.Ecr = binary.BigEndian.Uint32(opts[6:10])
			case kind == 3 && opts[1] == 3:
				h.WScale = int8(min(opts[2], 14))
			}
			opts = opts[opts[1]:]
		}
	}
	return h, true
}

// Marshal encodes the segment as an IPv4 packet with correct lengths and
// checksums, ready to be delivered to a host as if it came from the wire.
func (s Segment) Marshal() ([]byte, error) {
	if !s.Src.Addr().Is4() || !s.Dst.Addr().Is4() {
		return nil, fmt.Errorf("segment %v > %v: both addresses must be IPv4", s.Src, s.Dst)
	}
	ip := &layers.IPv4{
		Version:  4,
		TTL:      64,
		Protocol: layers.IPProtocolTCP,
		SrcIP:    s.Src.Addr().AsSlice(),
		DstIP:    s.Dst.Addr().AsSlice(),
		Flags:    layers.IPv4DontFragment,
	}
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(s.Src.Port()),
		DstPort: layers.TCPPort(s.Dst.Port()),
		Seq:     s.Seq,
		Ack:     s.Ack,
		Window:  s.Window,
		FIN:     s.Flags&FIN != 0,
		SYN:     s.Flags&SYN != 0,
		RST:     s.Flags&RST != 0,
		PSH:     s.Flags&PSH != 0,
		ACK:     s.Flags&ACK != 0,
		URG:     s.Flags&URG != 0,
		ECE:     s.Flags&ECE != 0,
		CWR:     s.Flags&CWR != 0,
	}
	if s.TS != nil {
		var ts [8]byte
		binary.BigEndian.PutUint32(ts[0:4], s.TS.Val)
		binary.BigEndian.PutUint32(ts[4:8], s.TS.Ecr)
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: ts[:]},
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("segment %v > %v: %w", s.Src, s.Dst, err)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(s.Payload)); err != nil {
		return nil, fmt.Errorf("segment %v > %v: %w", s.Src, s.Dst, err)
	}
	return buf.Bytes(), nil
}
