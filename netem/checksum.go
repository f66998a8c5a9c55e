package netem

import "encoding/binary"

// This file edits packet bytes in place: the timestamp option and the
// checksums.

// tsOption returns the offset of the timestamp option's kind byte, or -1.
func tsOption(pkt []byte) int {
	i, _ := findOption(pkt, 8, 10)
	return i
}

// findOption returns where in a TCP/IPv4 packet the first option of kind
// (and of length, unless length is 0) starts, and its length; -1 if there
// is none before the end of the options or a malformed one.
func findOption(pkt []byte, kind byte, length int) (int, int) {
	ihl, ok := tcpHeaderAt(pkt)
	if !ok {
		return -1, 0
	}
	t := pkt[ihl:]
	off := int(t[12]>>4) * 4
	for i := 20; i < off && i < len(t); {
		switch t[i] {
		case 0:
			return -1, 0
		case 1:
			i++
		default:
			if i+1 >= off || t[i+1] < 2 {
				return -1, 0
			}
			l := int(t[i+1])
			if t[i] == kind && (length == 0 || l == length) && i+l <= off {
				return ihl + i, l
			}
			i += l
		}
	}
	return -1, 0
}

// StripTimestamps rewrites a TCP/IPv4 packet's timestamp option to NOPs and
// fixes its checksum, as a middlebox that clears timestamps does. It reports
// whether there was one.
func StripTimestamps(pkt []byte) bool {
	i := tsOption(pkt)
	if i < 0 {
		return false
	}
	editHeaders(pkt, func() {
		for j := i; j < i+10; j++ {
			pkt[j] = 1
		}
	})
	return true
}

// SetTimestamps sets a TCP/IPv4 packet's timestamp option, if it has one,
// and updates the checksum incrementally.
func SetTimestamps(pkt []byte, val, ecr uint32) {
	i := tsOption(pkt)
	if i < 0 {
		return
	}
	editHeaders(pkt, func() {
		binary.BigEndian.PutUint32(pkt[i+2:], val)
		binary.BigEndian.PutUint32(pkt[i+6:], ecr)
	})
}

// SetSeqAck sets a TCP/IPv4 packet's sequence and acknowledgment numbers
// and updates the checksum incrementally.
func SetSeqAck(pkt []byte, seq, ack uint32) {
	ihl, ok := tcpHeaderAt(pkt)
	if !ok {
		return
	}
	editHeaders(pkt, func() {
		binary.BigEndian.PutUint32(pkt[ihl+4:], seq)
		binary.BigEndian.PutUint32(pkt[ihl+8:], ack)
	})
}

// ShiftSACK adds delta to both edges of every block of a TCP/IPv4
// packet's SACK option, if it has one, and updates the checksum
// incrementally: what a middlebox shifting one side's sequence space does
// to the acknowledgments of the other.
func ShiftSACK(pkt []byte, delta uint32) {
	i, l := findOption(pkt, 5, 0)
	if i < 0 {
		return
	}
	blocks := pkt[i+2 : i+l]
	editHeaders(pkt, func() {
		for j := 0; j+4 <= len(blocks); j += 4 {
			binary.BigEndian.PutUint32(blocks[j:], binary.BigEndian.Uint32(blocks[j:])+delta)
		}
	})
}

// DecrementTTL takes one off an IPv4 packet's TTL, as a router forwarding it
// does, and updates the header checksum incrementally.
func DecrementTTL(pkt []byte) {
	editHeaders(pkt, func() { pkt[8]-- })
}

// editHeaders runs edit, which may change bytes of pkt's IPv4 header and TCP
// header but not their lengths, and updates both checksums incrementally
// (RFC 1624, eqn. 3), as routers and NATs do. A checksum that was wrong stays
// wrong by the same amount: a bit the link flipped earlier is still caught by
// the receiver. (FixChecksums would recompute it and launder the error.)
//
// A link may have flipped any bit, the IHL, the protocol or the TCP data
// offset included, so the sums cover ranges that hold every byte an edit
// may touch whatever those fields say, and never reach past pkt: the
// first 20 bytes at least for the IPv4 header; for TCP, only when the
// packet says TCP and has room for its header, at least the 20-byte base
// header.
func editHeaders(pkt []byte, edit func()) {
	if len(pkt) < 20 {
		return
	}
	ih := min(max(int(pkt[0]&0x0f)*4, 20), len(pkt))
	ihl, isTCP := tcpHeaderAt(pkt)
	thl := 0
	if isTCP {
		thl = min(max(int(pkt[ihl+12]>>4)*4, 20), len(pkt)-ihl)
	}
	tcpSum := func() uint32 { return sum(pkt[12:20], 0) + sumWithout(pkt[ihl:ihl+thl], 16) }
	ipOld := sumWithout(pkt[:ih], 10)
	var tcpOld uint32
	if isTCP {
		tcpOld = tcpSum()
	}
	edit()
	adjust(pkt[10:12], ipOld, sumWithout(pkt[:ih], 10))
	if isTCP {
		adjust(pkt[ihl+16:ihl+18], tcpOld, tcpSum())
	}
}

// tcpHeaderAt returns where a TCP/IPv4 packet's TCP header starts, and
// whether the packet says TCP and has room for an IPv4 header of its IHL
// (at least 20 bytes) followed by a 20-byte TCP header.
func tcpHeaderAt(pkt []byte) (int, bool) {
	if len(pkt) < 20 {
		return 0, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	return ihl, pkt[9] == 6 && ihl >= 20 && len(pkt) >= ihl+20
}

// IPv4HeaderError says why a router drops pkt on arrival, as Linux's
// ip_rcv_core does (RFC 1122 3.2.1.2: a datagram that fails the checksum
// is silently discarded), or "" when its IPv4 header is acceptable:
// "bad IPv4 header" for a version other than 4, an IHL below 5 or beyond
// the bytes, or a total length below the IHL (IpInHdrErrors); "bad IPv4
// header checksum" (IpExtInCsumErrors, also counted in IpInHdrErrors);
// "truncated IPv4 packet" for a total length beyond the bytes
// (IpExtInTruncatedPkts).
func IPv4HeaderError(pkt []byte) string {
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[0]&0x0f < 5 {
		return "bad IPv4 header"
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl > len(pkt) {
		return "bad IPv4 header"
	}
	if fold(sum(pkt[:ihl], 0)) != 0xffff {
		return "bad IPv4 header checksum"
	}
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if total > len(pkt) {
		return "truncated IPv4 packet"
	}
	if total < ihl {
		return "bad IPv4 header"
	}
	return ""
}

// sumWithout is sum over b with the 16-bit field at off counted as zero.
func sumWithout(b []byte, off int) uint32 {
	return sum(b[:off], 0) + sum(b[off+2:], 0)
}

// adjust updates the checksum field for covered data whose sum went from
// old to new: HC' = ~(~HC + ~m + m').
func adjust(field []byte, old, new uint32) {
	hc := binary.BigEndian.Uint16(field)
	binary.BigEndian.PutUint16(field, ^fold(uint32(^hc)+uint32(^fold(old))+uint32(fold(new))))
}

// FixChecksums recomputes the IPv4 header checksum and, for TCP, the TCP
// checksum of a packet built or edited by hand. Middleboxes editing a packet
// in flight update checksums incrementally instead (editHeaders).
func FixChecksums(pkt []byte) {
	ihl := int(pkt[0]&0x0f) * 4
	pkt[10], pkt[11] = 0, 0
	binary.BigEndian.PutUint16(pkt[10:], ^fold(sum(pkt[:ihl], 0)))
	if pkt[9] != 6 {
		return
	}
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	seg := pkt[ihl:total]
	seg[16], seg[17] = 0, 0
	s := sum(pkt[12:20], 0) + 6 + uint32(len(seg))
	binary.BigEndian.PutUint16(seg[16:], ^fold(sum(seg, s)))
}

func sum(b []byte, s uint32) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// IPv4HeaderOK reports whether an IPv4 packet's header is whole and its
// checksum right, as ip_rcv checks before any transport sees the packet.
func IPv4HeaderOK(pkt []byte) bool {
	if len(pkt) < 20 {
		return false
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	return ihl >= 20 && total >= ihl && total <= len(pkt) && fold(sum(pkt[:ihl], 0)) == 0xffff
}

// ChecksumsOK reports whether a TCP/IPv4 packet's IPv4 header checksum and
// TCP checksum are both right, as a receiver checks them.
func ChecksumsOK(pkt []byte) bool {
	if !IPv4HeaderOK(pkt) {
		return false
	}
	ihl := int(pkt[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(pkt[2:4]))
	if pkt[9] != 6 {
		return true
	}
	seg := pkt[ihl:total]
	return fold(sum(seg, sum(pkt[12:20], 0)+6+uint32(len(seg)))) == 0xffff
}
