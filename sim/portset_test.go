package sim

import (
	"math/rand/v2"
	"testing"
)

// TestPortSet checks the set against a map while ports come and go, first
// few and spread (the list), then many (the bitmap, which it stays).
func TestPortSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s portSet
	want := map[uint16]bool{}
	for i := 0; i < 5000; i++ {
		p := uint16(rng.IntN(64)) * 1021 // few distinct ports, spread over the range
		if i > 2500 {
			p = uint16(rng.IntN(70000))
		}
		if rng.IntN(3) == 0 {
			if got := s.remove(p); got != want[p] {
				t.Fatalf("step %d: remove(%d) = %v, want %v", i, p, got, want[p])
			}
			delete(want, p)
		} else {
			if got := s.add(p); got == want[p] {
				t.Fatalf("step %d: add(%d) = %v, want %v", i, p, got, !want[p])
			}
			want[p] = true
		}
		if s.n != len(want) {
			t.Fatalf("step %d: n = %d, want %d", i, s.n, len(want))
		}
		for q := range want {
			if !s.has(q) {
				t.Fatalf("step %d: has(%d) = false, want true", i, q)
			}
		}
	}
	if s.bits == nil {
		t.Fatalf("set of %d ports never became a bitmap", s.n)
	}
	var nilSet *portSet
	if nilSet.has(1) {
		t.Fatal("nil set has(1) = true, want false")
	}
}
