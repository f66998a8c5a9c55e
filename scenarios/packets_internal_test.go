package scenarios

import "testing"

// TestSequenceSpaceComparison: seq, ack and timestamps compare modulo
// 2^32, as RFC 9293 section 3.4 and RFC 7323 section 5.2 have it: a value
// just past the wrap is after one just before it.
func TestSequenceSpaceComparison(t *testing.T) {
	for _, c := range []struct {
		kind int
		op   string
		x, y uint64
		want bool
	}{
		{kindSeq, "<", 0xfffffff0, 0x10, true},
		{kindSeq, ">", 0x10, 0xfffffff0, true},
		{kindSeq, "<", 0x10, 0xfffffff0, false},
		{kindSeq, ">=", 5, 5, true},
		{kindSeq, "<", 1, 1 << 31, true},
		{kindNumber, "<", 0x10, 0xfffffff0, true},
		{kindNumber, "!=", 3, 3, false},
		{kindTime, "<=", 10, 11, true},
	} {
		if got := compareField(c.kind, c.op, c.x, c.y); got != c.want {
			t.Errorf("compareField(kind %d, %d %s %d) = %v, want %v", c.kind, c.x, c.op, c.y, got, c.want)
		}
	}
}
