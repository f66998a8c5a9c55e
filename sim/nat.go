package sim

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/tcpsim/tcpsim/netem"
)

// NAT puts inside hosts behind one outside address toward an outside host:
// a middle hop with netem's RFC 5382 NAT model (mapping, port policy,
// filtering, timeouts, timestamp rewriting). Each inside host needs its own
// link to the outside host; the translation happens where its packets enter
// that link. The trace shows packets as they travel between the NAT and the
// outside host.
type NAT struct {
	nat     *netem.NAT
	outside *Host
	inside  []*Host
}

// AddNAT puts inside hosts behind a NAT configured by opts toward outside.
// When opts.Seed is zero it is derived from the world's seed.
func (w *World) AddNAT(opts netem.NATOptions, outside *Host, inside ...*Host) (*NAT, error) {
	for _, h := range w.hosts {
		if h.addr == opts.Addr {
			return nil, fmt.Errorf("sim: nat: address %v is %s's", opts.Addr, h.name)
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
	if opts.Seed == 0 {
		opts.Seed = w.subSeed("nat", opts.Addr.String())
	}
	nat, err := netem.NewNAT(opts)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	n := &NAT{nat: nat, outside: outside, inside: slices.Clone(inside)}
	w.mu.Lock()
	w.nats = append(w.nats, n)
	w.mu.Unlock()
	return n, nil
}

// Addr returns the NAT's outside address.
func (n *NAT) Addr() netip.Addr { return n.nat.Addr() }

// Outside returns the host the NAT faces.
func (n *NAT) Outside() *Host { return n.outside }

// Inside returns the hosts behind the NAT.
func (n *NAT) Inside() []*Host { return slices.Clone(n.inside) }

// Options returns the NAT's options with defaults filled in.
func (n *NAT) Options() netem.NATOptions { return n.nat.Options() }

// Table returns the NAT's conntrack table at the world's current time.
func (n *NAT) Table() []netem.Binding {
	w := n.outside.w
	w.mu.Lock()
	defer w.mu.Unlock()
	return n.nat.Table(w.Now())
}

// NATs returns the world's NATs in the order they were added.
func (w *World) NATs() []*NAT { return slices.Clone(w.nats) }

func (w *World) natOf(h *Host) *NAT {
	for _, n := range w.nats {
		if slices.Contains(n.inside, h) {
			return n
		}
	}
	return nil
}

// hostOf finds the world's host with address a. Requires w.mu.
func (w *World) hostOf(a netip.Addr) *Host {
	for _, h := range w.hosts {
		if h.addr == a {
			return h
		}
	}
	return nil
}
