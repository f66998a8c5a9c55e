package sim

import (
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// This file moves packets: onto a link from a host or a middle hop, and
// through a hop when it arrives there. route.go decides which link;
// hop.go holds a NAT's translations; packet.go records packets and delivers
// them to hosts.

// sendLocked puts data, which node at sent (via nil) or received over link
// via, on the link toward its destination; prev is the trace ID of the
// packet as it arrived (0 when at sent it). A middle hop translates (NAT),
// decrements the TTL and forwards; what it refuses is recorded as dropped by
// it. Requires ln.mu.
func (ln *lane) sendLocked(at Node, via *Link, data []byte, prev int, sender string) {
	now := ln.Now()
	dst := dstAddr(data)
	hop, _ := at.(*Hop)
	if hop != nil {
		// A router checks the IPv4 header before it looks further, as
		// Linux's ip_rcv_core does: a link may have flipped a bit of it.
		if why := netem.IPv4HeaderError(data); why != "" {
			ln.dropLocked(at, data, why, prev, sender)
			return
		}
		if data[8] <= 1 {
			ln.dropLocked(at, data, "ttl exceeded", prev, sender)
			return
		}
		// A NAT's connection tracking verifies the TCP checksum of what
		// arrives (nf_conntrack_checksum=1, tcp_error in
		// nf_conntrack_proto_tcp.c): a corrupted packet is INVALID and
		// gets neither a mapping nor a translation.
		if hop.nat != nil && !netem.ChecksumsOK(data) {
			ln.dropLocked(at, data, "nat: bad TCP checksum (conntrack: invalid)", prev, sender)
			return
		}
		if !ln.w.opts.DiscardTrace {
			// The trace keeps the bytes as they arrived.
			data = append(ln.bufLocked(0)[:0], data...)
		}
		if hop.nat != nil {
			if why := hop.translateIn(now, via, data); why != "" {
				ln.dropLocked(at, data, why, prev, sender)
				return
			}
			dst = dstAddr(data)
		}
	}
	l := ln.nextLink(at, dst)
	if l == nil || l == via {
		ln.dropLocked(at, data, "no route", prev, sender)
		return
	}
	if hop != nil {
		if hop.nat != nil {
			if why := hop.translateOut(now, via, l, data); why != "" {
				ln.dropLocked(at, data, why, prev, sender)
				return
			}
		}
		netem.DecrementTTL(data)
	}
	to, dir := l.other(at), l.Dir(at)
	outs := l.nl.Send(now, dir, data)
	orig := 0
	for i, o := range outs {
		d := data
		if i > 0 { // a duplicate gets its own bytes
			d = ln.bufLocked(len(data))
			copy(d, data)
		}
		rec := d
		if o.Corrupt >= 0 && o.Corrupt < len(d) {
			// The trace keeps what was sent; the corrupted bytes are
			// what arrives.
			if i == 0 {
				d = append(ln.bufLocked(0)[:0], data...)
			}
			d[o.Corrupt] ^= 1 << o.CorruptBit
			if i > 0 {
				rec = append([]byte(nil), data...)
			}
		}
		p := Packet{Sent: now, Delivered: o.At, From: at.Name(), To: to.Name(), Data: rec, Fate: o.Fate, Rule: o.Rule, Corrupted: o.Corrupt >= 0, Prev: prev, Sender: sender}
		if o.Fate == netem.Dropped {
			p.Delivered = -1
		}
		if o.Fate == netem.Duplicated {
			p.Orig = orig
		}
		id := ln.recordLocked(p)
		if i == 0 {
			orig = id
		}
		switch {
		case o.Fate == netem.Dropped:
			ln.recycleLocked(d)
		case o.Fate == netem.Held && o.At < 0:
			ev := ln.newFlightLocked(to, l, d, id)
			ev.pkt.sender = sender
			ln.held = append(ln.held, ev)
		default:
			ev := ln.newFlightLocked(to, l, d, id)
			ev.pkt.sender = sender
			ln.sendEventLocked(ev, o.At)
		}
	}
}

// dropLocked records data as dropped by node at before it reached a link.
// Requires ln.mu.
func (ln *lane) dropLocked(at Node, data []byte, why string, prev int, sender string) {
	to := "?"
	if a := dstAddr(data); a.IsValid() {
		to = a.String()
	}
	ln.recordLocked(Packet{Sent: ln.Now(), Delivered: -1, From: at.Name(), To: to, Data: data, Fate: netem.Dropped, Rule: why, Prev: prev, Sender: sender})
	ln.recycleLocked(data)
}

// newFlightLocked returns the event that brings data over link via to node
// to. Requires ln.mu.
func (ln *lane) newFlightLocked(to Node, via *Link, data []byte, id int) *event {
	ev := ln.newEventLocked()
	ev.pkt.data, ev.pkt.id, ev.pkt.via = data, ln.w.traceIndex(id), via
	switch to := to.(type) {
	case *Host:
		ev.kind, ev.host, ev.pkt.to = evDeliver, to, to
	case *Hop:
		ev.kind, ev.pkt.hop = evForward, to
	}
	return ev
}

// forward runs a middle hop on a packet that reached it.
func (ln *lane) forward(ev *event) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	ln.sendLocked(ev.pkt.hop, ev.pkt.via, ev.pkt.data, ev.pkt.id, ev.pkt.sender)
	ln.freeEventLocked(ev)
}

// sendEventLocked queues ev, a packet's arrival at a node at time at: on
// this lane if the node is the lane's, else for the node's lane when the
// window ends (parallel.go). Requires ln.mu.
func (ln *lane) sendEventLocked(ev *event, at time.Duration) {
	if to := ev.pkt.dest(); to == ln {
		ln.scheduleLocked(ev, at-ln.Now())
		return
	}
	ln.nout++
	ev.at, ev.from, ev.sent, ev.seq = at, int32(ln.idx+1), ln.Now(), ln.nout
	ln.out = append(ln.out, ev)
}

// dest is the lane of the node the packet travels to.
func (f *flight) dest() *lane {
	if f.hop != nil {
		return f.hop.ln
	}
	return f.to.ln
}
