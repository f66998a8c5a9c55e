package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// Node is an end of a link: a *Host or a *Hop.
type Node interface {
	Name() string
	isNode()
}

var (
	_ Node = (*Host)(nil)
	_ Node = (*Hop)(nil)
)

func (*Host) isNode() {}
func (*Hop) isNode()  {}

// HopOptions configures a middle hop. The zero value (with a name) is a
// router: it forwards each packet one link closer to the host that owns its
// destination address and decrements its TTL.
type HopOptions struct {
	// Name names the hop in traces and notebooks; it must differ from
	// every host's and hop's name.
	Name string
	// NAT, when set, makes the hop a NAT (netem's RFC 5382 model): packets
	// that leave through its outside link get the NAT's address and a
	// mapped port, and packets to that address coming in through the
	// outside link are translated back. Hosts beyond the outside link have
	// no route to the addresses inside. When NAT.Seed is zero it is
	// derived from the world's seed.
	NAT *netem.NATOptions
	// Outside names the neighbour across the NAT's outside link. Required
	// with NAT; the link itself may be added later.
	Outside string
}

// Hop is a middle hop: a router, or a NAT when HopOptions.NAT is set. It
// has no stack; packets reaching it are forwarded at the instant they
// arrive.
type Hop struct {
	w    *World
	ln   *lane
	name string
	opts HopOptions
	nat  *netem.NAT
	// outside is a NAT's outside link, set when AddLink joins the hop to
	// its Outside neighbour; nil until then and for a router.
	outside *Link
}

// AddHop adds a middle hop to the world.
func (w *World) AddHop(o HopOptions) (*Hop, error) {
	if o.Name == "" {
		return nil, fmt.Errorf("sim: hop: a name is required")
	}
	if w.Node(o.Name) != nil {
		return nil, fmt.Errorf("sim: hop %s: the name is taken", o.Name)
	}
	hop := &Hop{w: w, ln: w.laneFor(o.Name), name: o.Name, opts: o}
	if o.NAT != nil {
		if o.Outside == "" {
			return nil, fmt.Errorf("sim: nat %s: name its outside neighbour (HopOptions.Outside)", o.Name)
		}
		if o.Outside == o.Name {
			return nil, fmt.Errorf("sim: nat %s: it cannot be its own outside neighbour", o.Name)
		}
		if owner := w.owner(o.NAT.Addr); owner != nil {
			return nil, fmt.Errorf("sim: nat %s: address %v is %s's", o.Name, o.NAT.Addr, owner.Name())
		}
		no := *o.NAT
		if no.Seed == 0 {
			no.Seed = w.subSeed("nat", o.Name)
		}
		nat, err := netem.NewNAT(no)
		if err != nil {
			return nil, fmt.Errorf("sim: nat %s: %w", o.Name, err)
		}
		hop.nat = nat
		hop.opts.NAT = &no
	} else if o.Outside != "" {
		return nil, fmt.Errorf("sim: hop %s: Outside is for a NAT; set NAT too", o.Name)
	}
	w.lockAll()
	w.hops = append(w.hops, hop)
	w.forgetRoutesLocked()
	w.unlockAll()
	return hop, nil
}

// Name returns the hop's name.
func (h *Hop) Name() string { return h.name }

// Options returns the hop's options, with the NAT's defaults filled in.
func (h *Hop) Options() HopOptions {
	o := h.opts
	if h.nat != nil {
		no := h.nat.Options()
		o.NAT = &no
	}
	return o
}

// IsNAT reports whether the hop translates addresses.
func (h *Hop) IsNAT() bool { return h.nat != nil }

// Addr returns a NAT's outside address (the zero Addr for a router).
func (h *Hop) Addr() netip.Addr {
	if h.nat == nil {
		return netip.Addr{}
	}
	return h.nat.Addr()
}

// Table returns a NAT's conntrack table at the world's current time (nil for
// a router).
func (h *Hop) Table() []netem.Binding {
	if h.nat == nil {
		return nil
	}
	h.ln.mu.Lock()
	defer h.ln.mu.Unlock()
	return h.nat.Table(h.ln.Now())
}

// Hops returns the middle hops in the order they were added.
func (w *World) Hops() []*Hop { return slices.Clone(w.hops) }

// Hop returns the middle hop with that name, or nil.
func (w *World) Hop(name string) *Hop {
	for _, h := range w.hops {
		if h.name == name {
			return h
		}
	}
	return nil
}

// Node returns the host or hop with that name, or nil.
func (w *World) Node(name string) Node {
	if h := w.Host(name); h != nil {
		return h
	}
	if h := w.Hop(name); h != nil {
		return h
	}
	return nil
}

// owner returns the node that owns address a: a host, or a NAT by its
// outside address.
func (w *World) owner(a netip.Addr) Node {
	for _, h := range w.hosts {
		if h.addr == a {
			return h
		}
	}
	for _, h := range w.hops {
		if h.nat != nil && h.nat.Addr() == a {
			return h
		}
	}
	return nil
}

// translateIn applies a NAT to a packet that arrived over link via, before
// routing: a packet for the NAT's own address is translated back (from the
// outside) or hairpinned (from the inside). It returns why the packet is
// dropped, or "". Requires the lane's mu.
func (h *Hop) translateIn(now time.Duration, via *Link, data []byte) string {
	if len(data) < 20 || data[9] != 6 {
		return "nat: not TCP"
	}
	out := h.outside
	dst := dstAddr(data)
	switch {
	case dst != h.nat.Addr():
		if via == out {
			return "nat: from outside, not addressed to the NAT"
		}
	case via == out:
		if _, why := h.nat.Inbound(now, data); why != "" {
			return "nat: " + why
		}
	default:
		if _, why := h.nat.Hairpin(now, data); why != "" {
			return "nat: " + why
		}
	}
	return ""
}

// translateOut applies a NAT to a packet about to leave over link next: one
// leaving through the outside link from the inside gets a mapping. It
// returns why the packet is dropped, or "". Requires the lane's mu.
func (h *Hop) translateOut(now time.Duration, via, next *Link, data []byte) string {
	out := h.outside
	if out == nil {
		return "nat: no outside link (no link to " + h.opts.Outside + ")"
	}
	if next != out || via == out {
		return ""
	}
	if why := h.nat.Outbound(now, data); why != "" {
		return "nat: " + why
	}
	return ""
}
