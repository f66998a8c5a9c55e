package sim

import (
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/tcpsim/tcpsim/netem"
)

// Packet is one copy of a packet in the trace: what was sent, when, and what
// the network did with it.
type Packet struct {
	// ID numbers packets from 1 in the order they were sent or injected.
	ID int
	// Sent is the virtual time the packet left its sender (or was injected).
	Sent time.Duration
	// Delivered is the virtual time it reached To, or -1 if it never did
	// (dropped, or held and never released).
	Delivered time.Duration
	// From and To are the names of the link's ends (hosts or middle hops);
	// From is empty for an injected segment. For a packet a node dropped
	// before it reached a link (no route, a NAT refusing it), To is the
	// destination address.
	From, To string
	// Data is the IPv4 packet.
	Data []byte
	Fate netem.Fate
	// Rule names what decided the fate ("loss", a rule name, "no route"),
	// if anything did.
	Rule string
	// Orig is the ID of the original packet for a Duplicated copy.
	Orig int
	// Prev is the ID of this packet as it reached From, when From is a
	// middle hop that forwarded it (0 when From sent it). A packet crossing
	// n links appears n times in the trace, once per link, as a capture on
	// each link would show it.
	Prev int
	// Sender is the host that sent the packet (for a forwarded packet, the
	// host it left first); empty for an injected one.
	Sender string
	// Discarded says why the receiving host's policy layer threw the
	// packet away on arrival (linux profile: PAWS, tcp_tw_recycle, ...).
	Discarded string
	// Handled says what the receiving host's timewait socket did with
	// the packet (linux profile): the stack never saw it, unless it was a
	// SYN handed on to a listener.
	Handled string
	// Corrupted is set when the link flipped a bit of this copy (tc-netem
	// corrupt); the receiver's checksum then rejects it.
	Corrupted bool
	// Order places the packet among packets and transitions in the order
	// the World recorded them.
	Order int64
}

// flight is a packet on its way to a host or a middle hop.
type flight struct {
	id  int // index+1 into w.packets; 0 when the trace is discarded
	to  *Host
	hop *Hop
	via *Link // the link it travels; nil when injected
	// sender is the host that sent it first.
	sender string
	data   []byte
	// loopback says it came over the receiving host's own lo.
	loopback bool
}

// Free-list bounds: enough to serve a busy run without allocating, small
// enough that a burst of packets in flight does not pin memory afterwards.
const (
	maxFreeBufs   = 512
	maxFreeEvents = 1024
	bufClass      = 256 // buffers are allocated in multiples of this
)

// bufLocked returns a byte slice of length n, reused when the trace is
// discarded. Requires ln.mu.
func (ln *lane) bufLocked(n int) []byte {
	if k := len(ln.bufs); k > 0 {
		b := ln.bufs[k-1]
		if cap(b) >= n {
			ln.bufs = ln.bufs[:k-1]
			return b[:n]
		}
	}
	return make([]byte, n, (n+bufClass-1)/bufClass*bufClass)
}

// newEventLocked returns a cleared delivery event. Requires ln.mu.
func (ln *lane) newEventLocked() *event {
	if k := len(ln.free); k > 0 {
		ev := ln.free[k-1]
		ln.free = ln.free[:k-1]
		return ev
	}
	return &event{kind: evDeliver, index: -1, pkt: &flight{}}
}

// recordLocked appends p to the trace and returns its ID. Requires ln.mu.
// (A World that keeps its trace has one lane, whose count is the World's.)
func (ln *lane) recordLocked(p Packet) int {
	ln.npackets++
	p.ID = ln.npackets
	if w := ln.w; !w.opts.DiscardTrace {
		p.Order = w.order.Add(1)
		w.packets = append(w.packets, p)
	}
	return p.ID
}

// emit is called by a host's link endpoint, possibly on a gVisor processor
// goroutine, for every packet the stack writes (on its lo when loopback).
func (ln *lane) emit(from *Host, pkt *stack.PacketBuffer, loopback bool) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.w.closed.Load() {
		return
	}
	ln.noteAsync()
	if from.silent {
		// A socket destroyed without a word on the wire: what gVisor
		// counted as sent is taken back out of the counters.
		from.swallowed++
		if pkt.TransportHeader().Slice() != nil && len(pkt.TransportHeader().Slice()) > 13 && pkt.TransportHeader().Slice()[13]&byte(netem.RST) != 0 {
			from.swallowedRST++
		}
		return
	}
	data := ln.bufLocked(pkt.Size())
	n := 0
	for _, s := range pkt.AsSlices() {
		n += copy(data[n:], s)
	}
	if from.outboundLocked(data) {
		return // held: a delayed ACK (delack.go)
	}
	from.noteTupleLocked(data, true)
	ln.sendOutLocked(from, data, loopback)
}

// sendOutLocked sends what h wrote: over its lo when lo (a loopback
// address), back to h when it is for h's own address, else onto h's link.
// Linux routes a host's packets to its own address through lo (its local
// table); gVisor, not asked to handle local traffic itself, writes them to
// the NIC, sized by the NIC's MTU (1,500, where Linux's lo has 65,536:
// docs/gvisor-vs-linux.md), and they come back in on the NIC, which holds
// the address. Requires ln.mu.
func (ln *lane) sendOutLocked(h *Host, data []byte, lo bool) {
	if lo || dstAddr(data) == h.addr {
		ln.loopLocked(h, data, lo)
		return
	}
	ln.sendLocked(h, nil, data, 0, h.name)
}

// dstAddr is the destination address of data, an IPv4 packet; the zero
// Addr if data is too short to have one.
func dstAddr(data []byte) netip.Addr {
	if len(data) < 20 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(data[16:20]))
}

// loopLocked sends data from h back to h: it is recorded as a packet from h
// to h and arrives at once, in an event of its own, on h's lo when lo, else
// on its NIC (which holds h's address). Requires ln.mu.
func (ln *lane) loopLocked(h *Host, data []byte, lo bool) {
	// gVisor leaves the checksums of what it sends on a loopback
	// interface to the interface (as Linux's lo offloads them); the
	// packet is recorded and delivered with them filled in.
	netem.FixChecksums(data)
	now := ln.Now()
	id := ln.recordLocked(Packet{Sent: now, Delivered: now, From: h.name, To: h.name, Data: data, Sender: h.name})
	ev := ln.newFlightLocked(h, nil, data, id)
	ev.pkt.sender, ev.pkt.loopback = h.name, lo
	ln.scheduleLocked(ev, 0)
}

func (w *World) traceIndex(id int) int {
	if w.opts.DiscardTrace {
		return 0
	}
	return id
}

func (ln *lane) scheduleDeliveryLocked(to *Host, data []byte, id int, at time.Duration) {
	ln.scheduleLocked(ln.newFlightLocked(to, nil, data, id), at-ln.Now())
}

// freeEventLocked returns a delivery event to the free list. Requires ln.mu.
func (ln *lane) freeEventLocked(ev *event) {
	ev.pkt.data, ev.host, ev.pkt.to, ev.pkt.hop, ev.pkt.via, ev.pkt.sender, ev.pkt.loopback = nil, nil, nil, nil, nil, "", false
	if len(ln.free) < maxFreeEvents {
		ln.free = append(ln.free, ev)
	}
}

func (ln *lane) recycleLocked(data []byte) {
	if ln.w.opts.DiscardTrace && len(ln.bufs) < maxFreeBufs {
		ln.bufs = append(ln.bufs, data)
	}
}

// deliver hands a packet to its host's stack.
func (ln *lane) deliver(ev *event) {
	h := ev.pkt.to
	ln.touch(h)
	data := ev.pkt.data
	if h.kern != nil {
		ln.w.deliverKernel(h, data)
		ln.mu.Lock()
		ln.freeEventLocked(ev)
		ln.mu.Unlock()
		return
	}
	if ev.pkt.id > 0 && h.editsInbound() {
		// The trace keeps the bytes as they were on the link; the host's
		// policy may edit its own copy.
		data = append([]byte(nil), data...)
	}
	v := h.inbound(data)
	if ev.pkt.id > 0 && (v.discard != "" || v.handled != "") {
		ln.mu.Lock()
		p := &ln.w.packets[ev.pkt.id-1]
		if v.discard != "" {
			p.Discarded = h.name + ": " + v.discard
		} else {
			p.Handled = h.name + " timewait: " + v.handled
		}
		ln.mu.Unlock()
	}
	if v.discard == "" && !v.consumed {
		ln.mu.Lock()
		h.noteTupleLocked(data, false)
		ln.mu.Unlock()
		taken := h.validIn.Value()
		if ev.pkt.loopback {
			h.lo.deliver(data)
		} else {
			h.nic.deliver(data)
		}
		if v.counted && h.validIn.Value() == taken {
			h.ownIn++ // no endpoint took it: tcp_v4_rcv counted it anyway
		}
	}
	ln.mu.Lock()
	ln.recycleLocked(data)
	ln.freeEventLocked(ev)
	ln.mu.Unlock()
}

// Inject delivers a crafted IPv4 packet to host to at virtual time at (now,
// if at has passed), as if it came from the wire; it appears in the trace
// with fate Injected. Build the bytes with netem.Segment.Marshal.
func (w *World) Inject(to *Host, at time.Duration, data []byte) (int, error) {
	if to == nil || to.w != w {
		return 0, fmt.Errorf("sim: inject: host is not part of this world")
	}
	if _, ok := netem.Decode(data); !ok {
		if len(data) < header.IPv4MinimumSize {
			return 0, fmt.Errorf("sim: inject: %d bytes is shorter than an IPv4 header", len(data))
		}
		return 0, fmt.Errorf("sim: inject: not a well-formed IPv4/TCP packet")
	}
	ln := to.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	at = max(at, ln.Now())
	d := append([]byte(nil), data...)
	id := ln.recordLocked(Packet{Sent: at, Delivered: at, To: to.name, Data: d, Fate: netem.Injected})
	ln.scheduleDeliveryLocked(to, d, id, at)
	return id, nil
}

// Held returns the IDs of packets held by a link rule and not yet released.
func (w *World) Held() []int {
	var ids []int
	for _, ln := range w.lanes {
		ln.mu.Lock()
		for _, ev := range ln.held {
			ids = append(ids, ev.pkt.id)
		}
		ln.mu.Unlock()
	}
	if ids == nil {
		ids = []int{}
	}
	return ids
}

// Release delivers the held packet with that trace ID at virtual time at (now,
// if at has passed). Release(0, at) releases every held packet, oldest first.
func (w *World) Release(id int, at time.Duration) error {
	found := false
	for _, ln := range w.lanes {
		if ln.release(id, at) {
			found = true
		}
	}
	if !found && id != 0 {
		return fmt.Errorf("sim: release: packet %d is not held", id)
	}
	return nil
}

// release schedules the lane's held packet id (every one when id is 0) for
// at, and reports whether it held one.
func (ln *lane) release(id int, at time.Duration) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	found := false
	kept := ln.held[:0]
	for _, ev := range ln.held {
		if id != 0 && ev.pkt.id != id {
			kept = append(kept, ev)
			continue
		}
		found = true
		at := max(at, ln.Now())
		if ev.pkt.id > 0 {
			ln.w.packets[ev.pkt.id-1].Delivered = at
		}
		ln.scheduleLocked(ev, at-ln.Now())
	}
	clear(ln.held[len(kept):])
	ln.held = kept
	return found
}

// payload returns a delivered packet's bytes as a gVisor buffer.
func payload(data []byte) buffer.Buffer { return buffer.MakeWithData(data) }

// Never is the Delivered time of a packet that never arrived.
const Never time.Duration = -1
