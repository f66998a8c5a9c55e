package netem

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// TestShiftSACK: ShiftSACK moves both edges of a SACK block by delta,
// keeps the TCP checksum right, and leaves a segment without SACK alone.
// The SACK option is made from a segment's timestamp option (both 10
// bytes: kind, length and two 32-bit numbers).
func TestShiftSACK(t *testing.T) {
	b, err := Segment{Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2"),
		Seq: 1, Ack: 2, Flags: ACK, Window: 9, TS: &Timestamp{Val: 1000, Ecr: 2000}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	unchanged := append([]byte(nil), b...)
	ShiftSACK(unchanged, 5)
	if string(unchanged) != string(b) {
		t.Fatal("ShiftSACK changed a segment without a SACK option")
	}
	i := tsOption(b)
	editHeaders(b, func() { b[i] = 5 }) // the option becomes a SACK block [1000, 2000)
	ShiftSACK(b, 100)
	left, right := binary.BigEndian.Uint32(b[i+2:]), binary.BigEndian.Uint32(b[i+6:])
	if left != 1100 || right != 2100 {
		t.Errorf("SACK block [%d, %d), want [1100, 2100)", left, right)
	}
	if !ChecksumsOK(b) {
		t.Error("checksums wrong after the shift")
	}
}
