package sim

// portSet is a set of port numbers that answers membership without
// hashing: a short list while it holds few ports, a 65,536-bit bitmap once
// it holds more. It lets connect()'s port search (pickPort) step over
// thousands of ports whose tuple is in TIME-WAIT at the cost of a bit test
// each, as the kernel steps over them at the cost of a hash-chain walk.
type portSet struct {
	few  []uint16
	bits *[1 << 16 / 64]uint64
	n    int
}

// portSetFew is how many ports a set lists before it becomes a bitmap
// (8 KiB): a destination with a handful of TIME-WAITs costs a few bytes.
const portSetFew = 16

func (s *portSet) has(p uint16) bool {
	if s == nil {
		return false
	}
	if s.bits != nil {
		return s.bits[p>>6]&(1<<(p&63)) != 0
	}
	for _, q := range s.few {
		if q == p {
			return true
		}
	}
	return false
}

// add puts p in the set; it reports false if p was there already.
func (s *portSet) add(p uint16) bool {
	if s.has(p) {
		return false
	}
	s.n++
	if s.bits == nil && len(s.few) < portSetFew {
		s.few = append(s.few, p)
		return true
	}
	if s.bits == nil {
		s.bits = new([1 << 16 / 64]uint64)
		for _, q := range s.few {
			s.bits[q>>6] |= 1 << (q & 63)
		}
		s.few = nil
	}
	s.bits[p>>6] |= 1 << (p & 63)
	return true
}

// remove takes p out of the set; it reports false if p was not there.
func (s *portSet) remove(p uint16) bool {
	if !s.has(p) {
		return false
	}
	s.n--
	if s.bits != nil {
		s.bits[p>>6] &^= 1 << (p & 63)
		return true
	}
	for i, q := range s.few {
		if q == p {
			last := len(s.few) - 1
			s.few[i] = s.few[last]
			s.few = s.few[:last]
			break
		}
	}
	return true
}

// destPorts is a portSet per local address and destination: the ports
// connect() must step over toward each (Host.twPorts, Host.picked).
type destPorts map[dest]*portSet

// add puts port p in d's set.
func (m destPorts) add(d dest, p uint16) {
	set := m[d]
	if set == nil {
		set = &portSet{}
		m[d] = set
	}
	set.add(p)
}

// remove takes port p out of d's set, and the set once it is empty.
func (m destPorts) remove(d dest, p uint16) {
	if set := m[d]; set != nil {
		if set.remove(p); set.n == 0 {
			delete(m, d)
		}
	}
}
