package sim

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tcpsim/tcpsim/netem"
)

// Link joins two nodes (hosts or middle hops) through a netem.Link. Side A
// is the first node given to AddLink: packets from it travel netem.AtoB.
type Link struct {
	a, b Node
	nl   *netem.Link
}

// A returns the node on side A.
func (l *Link) A() Node { return l.a }

// B returns the node on side B.
func (l *Link) B() Node { return l.b }

// other returns the end of the link that is not n.
func (l *Link) other(n Node) Node {
	if n == l.a {
		return l.b
	}
	return l.a
}

// Path returns the delay and loss packets from node from meet.
func (l *Link) Path(from Node) netem.Path { return l.nl.Path(l.Dir(from)) }

// SetPath replaces what packets from node from meet on the link, from now
// on (tc qdisc change).
func (l *Link) SetPath(from Node, p netem.Path) error {
	w := worldOf(l.a)
	w.lockAll()
	defer w.unlockAll()
	if err := w.checkCrossing(l, from, p); err != nil {
		return err
	}
	return l.nl.SetPath(l.Dir(from), p)
}

// AddRule adds a netem rule to the link; it applies to packets sent from
// then on.
func (l *Link) AddRule(r netem.Rule) error {
	w := worldOf(l.a)
	w.lockAll()
	defer w.unlockAll()
	if l.joinsLanes() {
		return fmt.Errorf("sim: link %s-%s joins two lanes: a rule on it would see both directions at once (give it to a link within one lane)", l.a.Name(), l.b.Name())
	}
	return l.nl.AddRule(r)
}

// Dir returns the direction a packet from node from travels in.
func (l *Link) Dir(from Node) netem.Dir {
	if from == l.a {
		return netem.AtoB
	}
	return netem.BtoA
}

func worldOf(n Node) *World {
	switch n := n.(type) {
	case *Host:
		return n.w
	case *Hop:
		return n.w
	}
	return nil
}

// AddLink joins a and b (hosts or hops) with a link configured by opts. When
// opts.Seed is zero the link's seed is derived from the world's seed.
func (w *World) AddLink(a, b Node, opts netem.Options) (*Link, error) {
	if a == nil || b == nil || worldOf(a) != w || worldOf(b) != w {
		return nil, fmt.Errorf("sim: link: both ends must belong to this world")
	}
	if a == b {
		return nil, fmt.Errorf("sim: link: %s cannot be linked to itself", a.Name())
	}
	for _, l := range w.links {
		if (l.a == a && l.b == b) || (l.a == b && l.b == a) {
			return nil, fmt.Errorf("sim: link: %s and %s are already linked", a.Name(), b.Name())
		}
	}
	if opts.Seed == 0 {
		opts.Seed = w.subSeed("link", a.Name()+"\x00"+b.Name())
	}
	nl, err := netem.New(opts)
	if err != nil {
		return nil, fmt.Errorf("sim: link %s-%s: %w", a.Name(), b.Name(), err)
	}
	l := &Link{a: a, b: b, nl: nl}
	if err := w.checkLink(l, opts); err != nil {
		return nil, err
	}
	w.lockAll()
	for _, ends := range [2][2]Node{{a, b}, {b, a}} {
		if h, ok := ends[0].(*Hop); ok && h.nat != nil && h.opts.Outside == ends[1].Name() {
			h.outside = l
		}
	}
	w.links = append(w.links, l)
	w.forgetRoutesLocked()
	w.unlockAll()
	return l, nil
}

// Link returns the link between a and b, or nil.
func (w *World) Link(a, b Node) *Link {
	for _, l := range w.links {
		if (l.a == a && l.b == b) || (l.a == b && l.b == a) {
			return l
		}
	}
	return nil
}

// nic is a host's gVisor link endpoint: no link header, no address
// resolution, no queue. Writes go straight to the World; deliveries come from
// the run loop.
type nic struct {
	h          *Host
	mtu        uint32
	dispatcher stack.NetworkDispatcher
	// loopback marks the host's lo: what it sends comes back to the host
	// itself, through the World, at the same instant.
	loopback bool
}

var _ stack.LinkEndpoint = (*nic)(nil)

func (n *nic) MTU() uint32                    { return n.mtu }
func (n *nic) SetMTU(mtu uint32)              { n.mtu = mtu }
func (*nic) MaxHeaderLength() uint16          { return 0 }
func (*nic) LinkAddress() tcpip.LinkAddress   { return "" }
func (*nic) SetLinkAddress(tcpip.LinkAddress) {}
func (n *nic) Capabilities() stack.LinkEndpointCapabilities {
	if n.loopback {
		return stack.CapabilityLoopback
	}
	return 0
}
func (n *nic) Attach(d stack.NetworkDispatcher)      { n.dispatcher = d }
func (n *nic) IsAttached() bool                      { return n.dispatcher != nil }
func (*nic) Wait()                                   {}
func (*nic) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }
func (*nic) AddHeader(*stack.PacketBuffer)           {}
func (*nic) ParseHeader(*stack.PacketBuffer) bool    { return true }
func (*nic) Close()                                  {}
func (*nic) SetOnCloseAction(func())                 {}

// WritePackets implements stack.LinkWriter.
func (n *nic) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	k := 0
	for _, pkt := range pkts.AsSlice() {
		n.h.ln.emit(n.h, pkt, n.loopback)
		k++
	}
	return k, nil
}

// deliver hands an IPv4 packet to the stack as if it came off the wire.
func (n *nic) deliver(data []byte) {
	if n.dispatcher == nil {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload(data)})
	n.dispatcher.DeliverNetworkPacket(ipv4.ProtocolNumber, pkt)
	pkt.DecRef()
}
