package netem

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// MappingBehavior is how a NAT reuses an outside port (RFC 4787 section 4.1).
type MappingBehavior uint8

// Mapping behaviours.
const (
	// EndpointIndependent reuses one outside port for an inside address and
	// port, whatever the destination (required by RFC 5382 REQ-1).
	EndpointIndependent MappingBehavior = iota
	// PerConnection gives each destination (address and port) its own
	// mapping: "address and port-dependent", the 5-tuple NAT of Linux's
	// conntrack.
	PerConnection
)

// PortPolicy is how a NAT picks the outside port of a new mapping (RFC 4787
// section 4.2).
type PortPolicy uint8

// Port policies.
const (
	// Preserve keeps the inside port when it is free, else the next free one.
	Preserve PortPolicy = iota
	// Sequential takes the next free port after the last one given.
	Sequential
	// Random takes a free port at random (seeded).
	Random
)

// Filtering is which outside packets a mapping lets in (RFC 4787 section 5).
type Filtering uint8

// Filtering behaviours.
const (
	// FilterEndpointIndependent lets anyone reach a mapping.
	FilterEndpointIndependent Filtering = iota
	// FilterAddressDependent lets in hosts the inside host has sent to.
	FilterAddressDependent
	// FilterAddressPortDependent lets in only addresses and ports it has
	// sent to.
	FilterAddressPortDependent
)

// TSRewrite is what a NAT (or a load balancer in front of a server) does to
// the TCP timestamp option of packets it forwards.
type TSRewrite uint8

// Timestamp rewriting.
const (
	// TSKeep leaves timestamps alone.
	TSKeep TSRewrite = iota
	// TSStrip replaces the option with NOPs ("clear the timestamp").
	TSStrip
	// TSOffset adds a random per-mapping offset to outgoing TSvals (and
	// takes it off the echoed TSecr coming back), hiding the inside hosts'
	// clocks.
	TSOffset
)

// The words for the NAT's behaviours, in the order of their values: what
// String returns and SetChoice reads.
var (
	mappingWords   = []string{"endpoint", "connection"}
	portWords      = []string{"preserve", "sequential", "random"}
	filteringWords = []string{"endpoint", "address", "address-port"}
	tsWords        = []string{"keep", "strip", "offset"}
	hairpinWords   = []string{"on", "off"}
)

// String returns the behaviour's word: endpoint or connection.
func (m MappingBehavior) String() string { return word(int(m), mappingWords) }

// String returns the policy's word: preserve, sequential or random.
func (p PortPolicy) String() string { return word(int(p), portWords) }

// String returns the filtering's word: endpoint, address or address-port.
func (f Filtering) String() string { return word(int(f), filteringWords) }

// String returns the rewriting's word: keep, strip or offset.
func (t TSRewrite) String() string { return word(int(t), tsWords) }

func word(i int, words []string) string {
	if i >= 0 && i < len(words) {
		return words[i]
	}
	return fmt.Sprintf("unknown(%d)", i)
}

// SetChoice sets one of the NAT's behaviours by the word for it, as a
// notebook or a command line writes it: key is mapping, ports, filtering,
// timestamps or hairpin (on or off).
func (o *NATOptions) SetChoice(key, value string) error {
	var words []string
	var set func(uint8)
	switch key {
	case "mapping":
		words, set = mappingWords, func(v uint8) { o.Mapping = MappingBehavior(v) }
	case "ports":
		words, set = portWords, func(v uint8) { o.Ports = PortPolicy(v) }
	case "filtering":
		words, set = filteringWords, func(v uint8) { o.Filtering = Filtering(v) }
	case "timestamps":
		words, set = tsWords, func(v uint8) { o.Timestamps = TSRewrite(v) }
	case "hairpin":
		words, set = hairpinWords, func(v uint8) { o.NoHairpin = v == 1 }
	default:
		return fmt.Errorf("nat: unknown choice %q: want mapping, ports, filtering, timestamps or hairpin", key)
	}
	i := slices.Index(words, value)
	if i < 0 {
		return fmt.Errorf("%s %q: want %s", key, value, strings.Join(words, ", "))
	}
	set(uint8(i))
	return nil
}

// RFC 5382's minimum idle timeouts (REQ-5).
const (
	DefaultEstablishedTimeout = 2*time.Hour + 4*time.Minute
	DefaultTransitoryTimeout  = 4 * time.Minute
)

// NATOptions configures a NAT. The zero value is an RFC 5382 NAT:
// endpoint-independent mapping, port preservation, endpoint-independent
// filtering, hairpinning, the minimum timeouts, ports 1024-65535.
type NATOptions struct {
	// Addr is the outside address (required).
	Addr                    netip.Addr
	Mapping                 MappingBehavior
	Ports                   PortPolicy
	FirstPort, LastPort     uint16
	Filtering               Filtering
	NoHairpin               bool
	Established, Transitory time.Duration
	Timestamps              TSRewrite
	Seed                    uint64
}

// ConnState is a tracked connection's state, as Linux's conntrack names it.
type ConnState uint8

// Conntrack states.
const (
	CTSynSent ConnState = iota
	CTSynRecv
	CTEstablished
	CTFinWait
	CTCloseWait
	CTLastAck
	CTTimeWait
	CTClose
)

func (s ConnState) String() string {
	return [...]string{"SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE"}[s]
}

// Binding is one NAT mapping as a conntrack table lists it.
type Binding struct {
	Inside   netip.AddrPort // the inside host's address and port
	Outside  netip.AddrPort // the NAT's address and port
	Remote   netip.AddrPort // the destination (for PerConnection; the last one for EndpointIndependent)
	State    ConnState
	LastUsed time.Duration
	Expires  time.Duration
	TSOffset uint32
}

type natKey struct {
	inside netip.AddrPort
	remote netip.AddrPort // zero for endpoint-independent mappings
}

type natBinding struct {
	Binding
	finIn, finOut bool
	// peers the inside host has sent to (filtering); lookups only.
	peers map[netip.AddrPort]bool
}

// NAT translates TCP/IPv4 packets between inside hosts and the outside, on
// bytes (RFC 5382, RFC 4787). It is not safe for concurrent use.
type NAT struct {
	o        NATOptions
	rng      *rand.Rand
	byInside map[natKey]*natBinding
	// byOutside finds a binding by outside port (and remote, for
	// PerConnection); lookups only.
	byOutside map[natKey]*natBinding
	order     []*natBinding // in creation order, for the table
	next      uint16
}

// NewNAT checks opts and returns a NAT.
func NewNAT(o NATOptions) (*NAT, error) {
	if !o.Addr.Is4() {
		return nil, fmt.Errorf("netem: nat: address %v: want an IPv4 address", o.Addr)
	}
	if o.FirstPort == 0 && o.LastPort == 0 {
		o.FirstPort, o.LastPort = 1024, 65535
	}
	if o.FirstPort == 0 || o.LastPort < o.FirstPort {
		return nil, fmt.Errorf("netem: nat: port range %d-%d: want 1 <= first <= last <= 65535", o.FirstPort, o.LastPort)
	}
	if o.Established == 0 {
		o.Established = DefaultEstablishedTimeout
	}
	if o.Transitory == 0 {
		o.Transitory = DefaultTransitoryTimeout
	}
	if o.Established < 0 || o.Transitory < 0 {
		return nil, fmt.Errorf("netem: nat: timeouts %v/%v: want positive durations", o.Established, o.Transitory)
	}
	if o.Mapping > PerConnection || o.Ports > Random || o.Filtering > FilterAddressPortDependent || o.Timestamps > TSOffset {
		return nil, fmt.Errorf("netem: nat: unknown mapping, port, filtering or timestamp behaviour")
	}
	return &NAT{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x4e4154)), byInside: map[natKey]*natBinding{},
		byOutside: map[natKey]*natBinding{}, next: o.FirstPort}, nil
}

// Addr returns the NAT's outside address.
func (n *NAT) Addr() netip.Addr { return n.o.Addr }

// Options returns the NAT's options with defaults filled in.
func (n *NAT) Options() NATOptions { return n.o }

func (n *NAT) key(inside, remote netip.AddrPort) natKey {
	if n.o.Mapping == EndpointIndependent {
		return natKey{inside: inside}
	}
	return natKey{inside: inside, remote: remote}
}

func (n *NAT) outKey(port uint16, remote netip.AddrPort) natKey {
	k := natKey{inside: netip.AddrPortFrom(n.o.Addr, port)}
	if n.o.Mapping == PerConnection {
		k.remote = remote
	}
	return k
}

// expire removes bindings idle past their timeout.
func (n *NAT) expire(now time.Duration) {
	kept := n.order[:0]
	for _, b := range n.order {
		if now >= b.Expires {
			delete(n.byInside, n.key(b.Inside, b.Remote))
			delete(n.byOutside, n.outKey(b.Outside.Port(), b.Remote))
			continue
		}
		kept = append(kept, b)
	}
	clear(n.order[len(kept):])
	n.order = kept
}

func (n *NAT) free(port uint16, remote netip.AddrPort) bool {
	_, taken := n.byOutside[n.outKey(port, remote)]
	return !taken
}

// pick chooses the outside port for a new binding.
func (n *NAT) pick(inside, remote netip.AddrPort) (uint16, bool) {
	lo, hi := int(n.o.FirstPort), int(n.o.LastPort)
	size := hi - lo + 1
	start := 0
	switch n.o.Ports {
	case Preserve:
		if p := int(inside.Port()); p >= lo && p <= hi {
			start = p - lo
		}
	case Sequential:
		start = int(n.next) - lo
	case Random:
		start = n.rng.IntN(size)
	}
	for i := 0; i < size; i++ {
		p := uint16(lo + (start+i)%size)
		if n.free(p, remote) {
			if n.o.Ports == Sequential {
				n.next = uint16(lo + (start+i+1)%size)
			}
			return p, true
		}
	}
	return 0, false
}

// track advances a binding's conntrack state for one segment and renews its
// timeout. out is true for a segment leaving the inside.
func (n *NAT) track(b *natBinding, flags Flags, out bool, now time.Duration) {
	switch {
	case flags&RST != 0:
		b.State = CTClose
	case flags&SYN != 0 && flags&ACK == 0:
		if b.State == CTClose || b.State == CTTimeWait || b.State == CTSynSent {
			b.State, b.finIn, b.finOut = CTSynSent, false, false
		}
	case flags&SYN != 0:
		if b.State == CTSynSent {
			b.State = CTSynRecv
		}
	default:
		if flags&FIN != 0 {
			if out {
				b.finOut = true
			} else {
				b.finIn = true
			}
		}
		switch {
		case b.finIn && b.finOut && flags&ACK != 0 && flags&FIN == 0:
			b.State = CTTimeWait
		case b.finIn && b.finOut:
			b.State = CTLastAck
		case b.finOut:
			b.State = CTFinWait
		case b.finIn:
			b.State = CTCloseWait
		case b.State == CTSynRecv || b.State == CTSynSent:
			if flags&ACK != 0 {
				b.State = CTEstablished
			}
		}
	}
	b.LastUsed = now
	if b.State == CTEstablished {
		b.Expires = now + n.o.Established
	} else {
		b.Expires = now + n.o.Transitory
	}
}

// Outbound translates a packet from an inside host toward the outside. It
// returns "" when it did, or why it cannot: not TCP/IPv4, no mapping for a
// segment that is not a SYN (mappings start at a SYN and expire after
// their timeout of silence), or no free port in the range.
func (n *NAT) Outbound(now time.Duration, pkt []byte) string {
	h, ok := Decode(pkt)
	if !ok {
		return "not TCP/IPv4"
	}
	n.expire(now)
	k := n.key(h.Src, h.Dst)
	b := n.byInside[k]
	if b == nil {
		if h.Flags&SYN == 0 || h.Flags&ACK != 0 {
			return fmt.Sprintf("no mapping for %v>%v and [%v] is not a SYN (a mapping starts at a SYN, and ends after %v of silence established, %v otherwise)",
				h.Src, h.Dst, h.Flags, n.o.Established, n.o.Transitory)
		}
		port, ok := n.pick(h.Src, h.Dst)
		if !ok {
			return fmt.Sprintf("no free port in %d-%d for %v>%v (%d mappings live)", n.o.FirstPort, n.o.LastPort, h.Src, h.Dst, len(n.order))
		}
		b = &natBinding{Binding: Binding{Inside: h.Src, Outside: netip.AddrPortFrom(n.o.Addr, port), Remote: h.Dst},
			peers: map[netip.AddrPort]bool{}}
		if n.o.Timestamps == TSOffset {
			b.TSOffset = n.rng.Uint32()
		}
		n.byInside[k] = b
		n.byOutside[n.outKey(port, h.Dst)] = b
		n.order = append(n.order, b)
	}
	if n.o.Mapping == EndpointIndependent {
		b.Remote = h.Dst
	}
	b.peers[h.Dst] = true
	n.track(b, h.Flags, true, now)
	rewrite(pkt, &h, b.Outside, true)
	n.timestamps(pkt, &h, b, true)
	return ""
}

// Inbound translates a packet from the outside to the NAT's address. It
// returns the inside destination, or why no binding lets it in.
func (n *NAT) Inbound(now time.Duration, pkt []byte) (netip.AddrPort, string) {
	h, ok := Decode(pkt)
	if !ok || h.Dst.Addr() != n.o.Addr {
		return netip.AddrPort{}, "not TCP/IPv4 to the NAT's address"
	}
	n.expire(now)
	b := n.byOutside[n.outKey(h.Dst.Port(), h.Src)]
	if b == nil {
		return netip.AddrPort{}, fmt.Sprintf("no mapping for port %d from %v", h.Dst.Port(), h.Src)
	}
	switch n.o.Filtering {
	case FilterAddressDependent:
		seen := false
		for p := range b.peers { // order does not matter: a disjunction
			seen = seen || p.Addr() == h.Src.Addr()
		}
		if !seen {
			return netip.AddrPort{}, fmt.Sprintf("filtered: port %d maps %v, which never sent to %v (address-dependent filtering)", h.Dst.Port(), b.Inside, h.Src.Addr())
		}
	case FilterAddressPortDependent:
		if !b.peers[h.Src] {
			return netip.AddrPort{}, fmt.Sprintf("filtered: port %d maps %v, which never sent to %v (address- and port-dependent filtering)", h.Dst.Port(), b.Inside, h.Src)
		}
	}
	n.track(b, h.Flags, false, now)
	rewrite(pkt, &h, b.Inside, false)
	n.timestamps(pkt, &h, b, false)
	return b.Inside, ""
}

// Hairpin translates a packet an inside host sent to one of the NAT's own
// outside addresses: its source becomes the sender's mapping and its
// destination the target's inside address. It returns why it cannot when
// hairpinning is off or no binding matches.
func (n *NAT) Hairpin(now time.Duration, pkt []byte) (netip.AddrPort, string) {
	if n.o.NoHairpin {
		return netip.AddrPort{}, "hairpinning is off"
	}
	h, ok := Decode(pkt)
	if !ok || h.Dst.Addr() != n.o.Addr {
		return netip.AddrPort{}, "not TCP/IPv4 to the NAT's address"
	}
	target := n.byOutside[n.outKey(h.Dst.Port(), netip.AddrPort{})]
	if n.o.Mapping == PerConnection {
		for _, b := range n.order {
			if b.Outside.Port() == h.Dst.Port() {
				target = b
				break
			}
		}
	}
	if target == nil {
		return netip.AddrPort{}, fmt.Sprintf("hairpin: no mapping for port %d", h.Dst.Port())
	}
	if why := n.Outbound(now, pkt); why != "" {
		return netip.AddrPort{}, "hairpin: " + why
	}
	h, _ = Decode(pkt)
	rewrite(pkt, &h, target.Inside, false)
	return target.Inside, ""
}

// Table lists the live bindings at now, in the order they were made.
func (n *NAT) Table(now time.Duration) []Binding {
	n.expire(now)
	out := make([]Binding, 0, len(n.order))
	for _, b := range n.order {
		out = append(out, b.Binding)
	}
	return slices.Clone(out)
}

// rewrite sets the source (out) or destination address and port and updates
// the checksums incrementally.
func rewrite(pkt []byte, h *Header, to netip.AddrPort, src bool) {
	ihl := int(pkt[0]&0x0f) * 4
	a := to.Addr().As4()
	editHeaders(pkt, func() {
		if src {
			copy(pkt[12:16], a[:])
			binary.BigEndian.PutUint16(pkt[ihl:], to.Port())
		} else {
			copy(pkt[16:20], a[:])
			binary.BigEndian.PutUint16(pkt[ihl+2:], to.Port())
		}
	})
	if src {
		h.Src = to
	} else {
		h.Dst = to
	}
}

// timestamps applies the NAT's timestamp rewriting.
func (n *NAT) timestamps(pkt []byte, h *Header, b *natBinding, out bool) {
	if !h.HasTS || n.o.Timestamps == TSKeep {
		return
	}
	if n.o.Timestamps == TSStrip {
		StripTimestamps(pkt)
		return
	}
	val, ecr := h.TS.Val, h.TS.Ecr
	if out {
		val += b.TSOffset
	} else {
		ecr -= b.TSOffset
	}
	SetTimestamps(pkt, val, ecr)
}
