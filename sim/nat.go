package sim

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
)

// NAT is a minimal address-rewriting middle hop: connections from its
// inside hosts to its outside host leave with the NAT's address as their
// source. The inside port is kept when no other inside host holds it toward
// the same remote; otherwise the next free port from 1024 is used. Mappings
// last as long as the run. (Package netem's NAT model, with RFC 5382
// timeouts and port policies, is separate work.)
//
// Each inside host needs its own link to the outside host; the rewriting
// happens where its packets enter that link. The trace shows packets as
// they travel between the NAT and the outside host.
type NAT struct {
	addr    netip.Addr
	outside *Host
	inside  []*Host
	// byInside and byOutside index the mappings; lookups only.
	byInside  map[natInside]uint16
	byOutside map[natOutside]natInside
	mappings  []Mapping
}

type natInside struct {
	host   *Host
	port   uint16
	remote netip.AddrPort
}

type natOutside struct {
	port   uint16
	remote netip.AddrPort
}

// Mapping is one NAT binding.
type Mapping struct {
	Inside  netip.AddrPort // the inside host's address and port
	Outside netip.AddrPort // the NAT's address and the port it chose
	Remote  netip.AddrPort // the outside peer
}

// AddNAT puts inside hosts behind addr toward outside.
func (w *World) AddNAT(addr netip.Addr, outside *Host, inside ...*Host) (*NAT, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("sim: nat: address %v: want an IPv4 address", addr)
	}
	for _, h := range w.hosts {
		if h.addr == addr {
			return nil, fmt.Errorf("sim: nat: address %v is %s's", addr, h.name)
		}
	}
	if outside == nil || len(inside) == 0 {
		return nil, fmt.Errorf("sim: nat: want an outside host and at least one inside host")
	}
	for _, h := range inside {
		if h == outside {
			return nil, fmt.Errorf("sim: nat: %s cannot be both inside and outside", h.name)
		}
		if l, _, _ := w.linkTo(h, outside.addr); l == nil {
			return nil, fmt.Errorf("sim: nat: %s has no link to %s (add one first)", h.name, outside.name)
		}
		if w.natOf(h) != nil {
			return nil, fmt.Errorf("sim: nat: %s is already behind a NAT", h.name)
		}
	}
	n := &NAT{addr: addr, outside: outside, inside: slices.Clone(inside),
		byInside: map[natInside]uint16{}, byOutside: map[natOutside]natInside{}}
	w.mu.Lock()
	w.nats = append(w.nats, n)
	w.mu.Unlock()
	return n, nil
}

// Addr returns the NAT's outside address.
func (n *NAT) Addr() netip.Addr { return n.addr }

// Mappings returns the NAT's bindings in the order they were made.
func (n *NAT) Mappings() []Mapping { return slices.Clone(n.mappings) }

func (w *World) natOf(h *Host) *NAT {
	for _, n := range w.nats {
		if slices.Contains(n.inside, h) {
			return n
		}
	}
	return nil
}

// outbound rewrites a packet from inside host h toward the NAT's outside
// host. Requires World.mu.
func (n *NAT) outbound(h *Host, data []byte) {
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[12:16])), ipPort(data, 0))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[16:20])), ipPort(data, 2))
	k := natInside{host: h, port: src.Port(), remote: dst}
	port, ok := n.byInside[k]
	if !ok {
		port = src.Port()
		for {
			if _, taken := n.byOutside[natOutside{port, dst}]; !taken {
				break
			}
			port++
			if port == 0 {
				port = 1024
			}
		}
		n.byInside[k] = port
		n.byOutside[natOutside{port, dst}] = k
		n.mappings = append(n.mappings, Mapping{Inside: src, Outside: netip.AddrPortFrom(n.addr, port), Remote: dst})
	}
	a := n.addr.As4()
	copy(data[12:16], a[:])
	setIPPort(data, 0, port)
	fixChecksums(data)
}

// inbound finds the inside host of a packet to the NAT's address and
// rewrites its destination. Requires World.mu.
func (n *NAT) inbound(data []byte) *Host {
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[12:16])), ipPort(data, 0))
	k, ok := n.byOutside[natOutside{ipPort(data, 2), src}]
	if !ok {
		return nil
	}
	a := k.host.addr.As4()
	copy(data[16:20], a[:])
	setIPPort(data, 2, k.port)
	fixChecksums(data)
	return k.host
}

func ipPort(data []byte, off int) uint16 {
	ihl := int(data[0]&0x0f) * 4
	return binary.BigEndian.Uint16(data[ihl+off:])
}

func setIPPort(data []byte, off int, p uint16) {
	ihl := int(data[0]&0x0f) * 4
	binary.BigEndian.PutUint16(data[ihl+off:], p)
}

// fixChecksums recomputes the IPv4 header and TCP checksums.
func fixChecksums(data []byte) {
	ihl := int(data[0]&0x0f) * 4
	data[10], data[11] = 0, 0
	var sum uint32
	for i := 0; i < ihl; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(data[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(data[10:], ^uint16(sum))
	if data[9] == 6 {
		tcpChecksum(data)
	}
}
