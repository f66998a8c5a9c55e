package netem

import "encoding/binary"

// This file edits packet bytes in place: the timestamp option and the
// checksums.

// tsOption returns the offset of the timestamp option's kind byte, or -1.
func tsOption(pkt []byte) int {
	ihl := int(pkt[0]&0x0f) * 4
	t := pkt[ihl:]
	off := int(t[12]>>4) * 4
	for i := 20; i < off; {
		switch t[i] {
		case 0:
			return -1
		case 1:
			i++
		default:
			if i+1 >= off || t[i+1] < 2 {
				return -1
			}
			if t[i] == 8 && t[i+1] == 10 && i+10 <= off {
				return ihl + i
			}
			i += int(t[i+1])
		}
	}
	return -1
}

// StripTimestamps rewrites a TCP/IPv4 packet's timestamp option to NOPs and
// fixes its checksum, as a middlebox that clears timestamps does. It reports
// whether there was one.
func StripTimestamps(pkt []byte) bool {
	i := tsOption(pkt)
	if i < 0 {
		return false
	}
	for j := i; j < i+10; j++ {
		pkt[j] = 1
	}
	FixChecksums(pkt)
	return true
}

func setTimestamps(pkt []byte, val, ecr uint32) {
	i := tsOption(pkt)
	if i < 0 {
		return
	}
	binary.BigEndian.PutUint32(pkt[i+2:], val)
	binary.BigEndian.PutUint32(pkt[i+6:], ecr)
	FixChecksums(pkt)
}

// FixChecksums recomputes the IPv4 header checksum and, for TCP, the TCP
// checksum of a packet whose bytes were edited.
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
