package sim

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// epRec is what the observer knows of one connection (or listener): a
// gVisor endpoint, or, under the linux profile, the timewait socket that
// took its place (then ep is nil and tw is set).
type epRec struct {
	id int
	// cause explains the next transition when the policy layer or an
	// application call forced it (see Transition.Cause).
	cause         string
	ep            *tcp.Endpoint
	tw            *twsock
	sock          *Socket
	local, remote netip.AddrPort
	// port is the linux profile's key of the local port this record
	// holds in Host.ports (0 for none); bound says it was bound by
	// bind() rather than picked by connect().
	port      uint64
	state     State
	bound     bool
	reuseAddr bool
	// picked says the port is in Host.picked (pick.go).
	picked bool
	// ownPort says its endpoint reserved a port of its own (account.go).
	ownPort bool
	// act says the record is in observer.active (gVisor hosts; a record
	// that left it stays in the slice until it is compacted); dirty that
	// it is in observer.dirty.
	act, dirty bool
}

type tuple struct {
	local, remote netip.AddrPort
}

// tkey is a tuple packed into 16 bytes, as the key of the maps that hold
// an entry per connection or per TIME-WAIT (a tuple is 64).
type tkey struct{ local, remote uint64 }

func (t tuple) key() tkey { return tkey{portKey(t.local), portKey(t.remote)} }

// endpointID is the tuple as gVisor's demuxer looks it up.
func (t tuple) endpointID() stack.TransportEndpointID {
	return stack.TransportEndpointID{
		LocalPort: t.local.Port(), LocalAddress: tcpip.AddrFrom4(t.local.Addr().As4()),
		RemotePort: t.remote.Port(), RemoteAddress: tcpip.AddrFrom4(t.remote.Addr().As4()),
	}
}

// observer records every state transition of every endpoint of one host,
// including endpoints the application already closed (TIME-WAIT). It polls
// after every interaction with the stack (a delivered segment, a timer, an
// application call), each of which is barriered, so it sees each state the
// endpoint rests in. Endpoints are found by the tuples of the packets the
// host sends and receives. A TIME-WAIT endpoint is polled only when a
// segment of its tuple passes or when gVisor notifies its waiter queue,
// which it does whenever the endpoint leaves TIME-WAIT on its own (its
// timer fired, a SYN reopened the tuple, a connect reused it): the observer
// learns the end from the stack instead of guessing gVisor's timer rules,
// and thousands of TIME-WAIT endpoints cost nothing per event.
type observer struct {
	h    *Host
	byEP map[*tcp.Endpoint]*epRec // lookups only; never iterated
	// active holds the records that are not CLOSED or TIME-WAIT, in
	// discovery order (on a gVisor host, also records that left, with act
	// unset, until there are as many of those as of the others); nactive
	// counts those with act set.
	active  []*epRec
	nactive int
	// dirty lists the active records an interaction may have changed: the
	// only ones observe polls (see observe). loose lists the records found
	// without a socket (handshakes, connections not yet accepted), which
	// are polled on every observation.
	dirty, loose []*epRec
	// synOut and synIn hold the tuples of a TIME-WAIT endpoint on which
	// the host sent or received a SYN at instant synAt, to tell what ended
	// the TIME-WAIT early: only a SYN of the same instant can have, so they
	// are emptied when such a SYN passes at a later one and hold no more
	// than one instant's SYNs.
	synAt         time.Duration
	synOut, synIn map[tkey]bool // lookups only
	// closing lists endpoints that entered TIME-WAIT or FIN-WAIT-2 in this
	// observation.
	closing []*epRec
	// twByTuple finds the TIME-WAIT endpoint of a tuple even after gVisor
	// replaced it in its demuxer (a SYN reopening the tuple), and under
	// the linux profile the timewait socket of a tuple (TIME-WAIT or
	// FIN-WAIT-2). Endpoints sorts what it lists, so iterating it leaks no
	// order.
	twByTuple map[tkey]*epRec
	nrec      int
	// tuples are noted by emit and deliver under the lane's mu.
	tuples  []tuple
	pending []tuple
	hits    []*epRec
	// order, when set, is the Order given to the transitions recorded
	// (those of one application call).
	order int64
	// entered counts entries into each state.
	entered [numStates]int
	current [numStates]int
	// ownPort counts, by state, the records whose endpoint reserved a
	// port of its own (account.go).
	ownPort [numStates]int
}

func (o *observer) init(h *Host) {
	o.h = h
	o.byEP = make(map[*tcp.Endpoint]*epRec)
	o.twByTuple = make(map[tkey]*epRec)
	o.synOut = make(map[tkey]bool)
	o.synIn = make(map[tkey]bool)
}

// noteTupleLocked records the tuple of a packet the host sent (outbound) or
// received. Requires the lane's mu.
func (h *Host) noteTupleLocked(data []byte, outbound bool) {
	if len(data) < 20 || data[9] != 6 {
		return
	}
	ihl := int(data[0]&0x0f) * 4
	if len(data) < ihl+4 {
		return
	}
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[12:16])), binary.BigEndian.Uint16(data[ihl:]))
	dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(data[16:20])), binary.BigEndian.Uint16(data[ihl+2:]))
	syn := len(data) >= ihl+14 && data[ihl+13]&0x12 == 0x02 // SYN without ACK
	t := tuple{local: src, remote: dst}
	if !outbound {
		t = tuple{local: dst, remote: src}
	}
	h.obs.tuples = append(h.obs.tuples, t)
	if syn && h.obs.twByTuple[t.key()] != nil {
		h.obs.noteSYN(t, outbound, h.ln.Now())
	}
}

// noteSYN records that a SYN without ACK passed on t at now.
func (o *observer) noteSYN(t tuple, outbound bool, now time.Duration) {
	if now != o.synAt {
		clear(o.synOut)
		clear(o.synIn)
		o.synAt = now
	}
	if outbound {
		o.synOut[t.key()] = true
	} else {
		o.synIn[t.key()] = true
	}
}

// track starts observing ep (created by the application) and returns its
// record.
func (o *observer) track(ep *tcp.Endpoint) *epRec {
	if r, ok := o.byEP[ep]; ok {
		return r
	}
	r := o.newRec()
	r.ep = ep
	o.byEP[ep] = r
	return r
}

// newRec starts the record of an endpoint just found, CLOSED and active.
func (o *observer) newRec() *epRec {
	o.nrec++
	r := &epRec{id: o.nrec, state: Closed, act: true}
	o.active = append(o.active, r)
	o.nactive++
	o.current[Closed]++
	if o.h.kern == nil {
		o.mark(r)
		o.loose = append(o.loose, r)
	}
	return r
}

// mark queues an active record for the next observation's poll.
func (o *observer) mark(r *epRec) {
	if r != nil && r.act && !r.dirty && o.h.kern == nil {
		r.dirty = true
		o.dirty = append(o.dirty, r)
	}
}

// checkQuiet, set by tests, makes every observation check that no record
// it did not poll changed state: that the interactions mark every record
// they may have changed.
var checkQuiet bool

// observe records what changed on the host since the last call. It runs on
// the simulation goroutine after a barrier.
func (h *Host) observe() {
	if h.kern != nil {
		h.observeKernel()
		return
	}
	o := &h.obs
	ln := h.ln
	now := ln.Now()

	ln.mu.Lock()
	o.pending, o.tuples = o.tuples, o.pending[:0]
	restarts := h.twRestarts
	h.twRestarts = h.twRestarts[:0]
	ln.mu.Unlock()

	o.hits = o.hits[:0]
	// Endpoints whose waiter queue the stack notified during the event:
	// gVisor notifies when an endpoint changes on its own (a TIME-WAIT
	// timer firing; a retransmission, keepalive, FIN-WAIT-2 or user
	// timeout ending the connection: timerHandler, finWait2TimerExpired,
	// timeWaitTimerExpired) as well as when data or a FIN arrives.
	h.readyMu.Lock()
	for _, s := range h.ready {
		if s.rec == nil {
			continue
		}
		if s.rec.state == TimeWait {
			o.hits = append(o.hits, s.rec)
		} else {
			o.mark(s.rec)
		}
	}
	h.readyMu.Unlock()
	for _, t := range o.pending {
		tw := o.twByTuple[t.key()]
		if tw != nil && tw.state == TimeWait {
			o.hits = append(o.hits, tw)
		}
		ep, ok := h.stack.FindTransportEndpoint(ipv4.ProtocolNumber, tcp.ProtocolNumber, t.endpointID(), 1).(*tcp.Endpoint)
		if (!ok || ep.ID.RemotePort == 0) && h.opts.Profile == Linux && tw == nil {
			// No connection holds the tuple (a SYN to a closed port, one
			// a listener refused): the policy layer lets go of what it
			// noted for it.
			h.forget(t)
		}
		if !ok {
			continue
		}
		if r, known := o.byEP[ep]; known {
			o.mark(r)
		} else {
			o.track(ep)
		}
	}
	// Endpoints without a socket: nothing of ours hears their waiter
	// queue, and a handshake's timer may end them without a segment.
	loose := o.loose[:0]
	for _, r := range o.loose {
		if r.act && r.sock == nil {
			o.mark(r)
			loose = append(loose, r)
		}
	}
	clear(o.loose[len(loose):])
	o.loose = loose

	// TIME-WAIT endpoints a segment or a notification reached first: a SYN
	// that reopens the tuple closes the old endpoint before the new one
	// appears.
	for _, r := range o.hits {
		o.poll(r, now)
	}
	// The active endpoints the event may have changed: those a segment of
	// theirs passed, whose waiter queue gVisor notified, that an
	// application call was made on, that were just found, or that have no
	// socket. Every other endpoint's state is what it was: gVisor changes
	// an endpoint's state only when it handles a segment of its tuple, on
	// an application call on it, or on one of its timers, which notify its
	// waiter queue when they change it. They are polled in discovery
	// order, as the transitions are recorded.
	slices.SortFunc(o.dirty, func(a, b *epRec) int { return a.id - b.id })
	for _, r := range o.dirty {
		r.dirty = false
		if !r.act {
			continue
		}
		o.poll(r, now)
		if r.state == Closed || r.state == TimeWait || r.tw != nil {
			r.act = false
			o.nactive--
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	if len(o.active) > 2*o.nactive+64 {
		kept := o.active[:0]
		for _, r := range o.active {
			if r.act {
				kept = append(kept, r)
			}
		}
		clear(o.active[len(kept):])
		o.active = kept
	}
	if checkQuiet {
		o.checkQuiet()
	}

	// gVisor restarted a TIME-WAIT timer: only a segment does that (a
	// retransmitted FIN, handleTimeWaitSegment), and an event delivers one,
	// so it is the TIME-WAIT endpoint of a tuple that passed.
	if len(restarts) > 0 {
		var done []*epRec
		for _, t := range o.pending {
			r := o.twByTuple[t.key()]
			if r == nil || r.state != TimeWait || r.ep == nil || slices.Contains(done, r) {
				continue
			}
			done = append(done, r)
			o.restarted(r, restarts[len(restarts)-1], "retransmitted FIN: ACK, timer restarted")
		}
	}

	// The linux profile's turn on endpoints that just entered TIME-WAIT
	// or FIN-WAIT-2.
	for len(o.closing) > 0 {
		r := o.closing[0]
		o.closing = o.closing[1:]
		if r.state == TimeWait || r.state == FinWait2 {
			h.closing(r)
		}
	}
}

// checkQuiet panics if an active record that observe did not poll has
// changed state.
func (o *observer) checkQuiet() {
	for _, r := range o.active {
		if r.act && r.ep != nil {
			if s := stateOf(r.ep.EndpointState()); s != r.state {
				panic(fmt.Sprintf("sim: host %s: endpoint %d (%v-%v) went from %v to %v unobserved at %v", o.h.name, r.id, r.local, r.remote, r.state, s, o.h.ln.Now()))
			}
		}
	}
}

// poll compares r's state with the last one recorded and records the
// transitions between them.
func (o *observer) poll(r *epRec, now time.Duration) {
	if r.ep == nil {
		return // a timewait socket: its transitions are recorded by set
	}
	s := stateOf(r.ep.EndpointState())
	if s == r.state {
		return
	}
	id := r.ep.ID // quiescent after the barrier
	if id.LocalPort != 0 {
		r.local = netip.AddrPortFrom(netip.AddrFrom4(id.LocalAddress.As4()), id.LocalPort)
	}
	if id.RemotePort != 0 {
		r.remote = netip.AddrPortFrom(netip.AddrFrom4(id.RemoteAddress.As4()), id.RemotePort)
	}
	from := r.state
	if from == TimeWait {
		t := tuple{r.local, r.remote}
		delete(o.twByTuple, t.key())
		if r.cause == "" && s == Closed {
			synNow := now == o.synAt
			switch {
			case synNow && o.synOut[t.key()]:
				r.cause = "reused by a new connection (tw_reuse)"
				o.h.count(cTWRecycled)
			case synNow && o.synIn[t.key()]:
				r.cause = "a new SYN reopened the tuple"
			default:
				o.h.count(cTW)
			}
		}
	}
	o.transit(r, now, s)
	switch s {
	case TimeWait:
		o.twByTuple[tuple{r.local, r.remote}.key()] = r
		o.closing = append(o.closing, r)
	case FinWait2:
		o.closing = append(o.closing, r)
	case Closed:
		delete(o.byEP, r.ep)
		o.ended(r)
		r.ep = nil
	}
}

// transit records r's transitions from its state to s, through the states
// an observation skipped (between), and makes s its state.
func (o *observer) transit(r *epRec, now time.Duration, s State) {
	from := r.state
	for _, mid := range o.between(from, s) {
		o.record(r, now, from, mid, true)
		from = mid
	}
	o.record(r, now, from, s, false)
	r.state, r.cause = s, ""
}

// between is the states an endpoint passed through from one observed
// state to the next: gVisor's graph (path), except that a linux-profile
// host passes FIN-WAIT-2 on a FIN that acknowledges its own, where gVisor
// goes from FIN-WAIT-1 straight to TIME-WAIT (Linux's
// tcp_rcv_state_process sets FIN-WAIT-2 on the ACK, then tcp_fin calls
// tcp_time_wait).
func (o *observer) between(from, to State) []State {
	if o.h.opts.Profile == Linux && from == FinWait1 && to == TimeWait {
		return []State{FinWait2}
	}
	return path(from, to)
}

// set records a transition of a record the stack no longer holds (a
// linux-profile timewait socket) to s, with cause.
func (o *observer) set(r *epRec, s State, cause string) {
	if r.state == s {
		return
	}
	r.cause = cause
	o.record(r, o.h.ln.Now(), r.state, s, false)
	r.state, r.cause = s, ""
	if s == Closed {
		o.ended(r)
	}
}

// restarted records that r's TIME-WAIT timer restarted, to fire at until.
func (o *observer) restarted(r *epRec, until time.Duration, cause string) {
	w := o.h.w
	if w.opts.DiscardTrace {
		return
	}
	w.restarts = append(w.restarts, TimeWaitRestart{
		At: o.h.ln.Now(), Host: o.h.name, Endpoint: r.id, Local: r.local, Remote: r.remote, Until: until, Cause: cause, Order: o.nextOrder(),
	})
}

// ended lets go of what a record that reached CLOSED held.
func (o *observer) ended(r *epRec) {
	o.h.portsMayFree()
	o.h.pickedGone(r)
	if r.sock != nil && r.sock.closed {
		r.sock.release()
	}
	if o.h.opts.Profile == Linux && o.h.kern == nil {
		o.h.forget(tuple{r.local, r.remote})
		o.h.portRelease(r)
	}
}

// nextOrder places a record among packets and transitions: the order of
// the application call being observed, or the next one.
func (o *observer) nextOrder() int64 {
	if o.order != 0 {
		return o.order
	}
	return o.h.w.order.Add(1)
}

func (o *observer) record(r *epRec, now time.Duration, from, to State, inferred bool) {
	o.entered[to]++
	o.current[from]--
	o.current[to]++
	if r.ownPort {
		o.ownPort[from]--
		o.ownPort[to]++
	}
	if to == Closed {
		o.h.holdsDead(r.sock)
	}
	o.h.ln.ntransitions++
	w := o.h.w
	if w.opts.DiscardTrace {
		return
	}
	w.transitions = append(w.transitions, Transition{
		At: now, Host: o.h.name, Endpoint: r.id, Local: r.local, Remote: r.remote, From: from, To: to, Inferred: inferred, Order: o.nextOrder(),
		Cause: r.cause,
	})
}

// StateCount returns how many endpoints of the host are in state s now, as
// far as the observer has seen (CLOSED endpoints are not counted once they
// are gone).
func (h *Host) StateCount(s State) int {
	if s == Closed {
		return 0
	}
	return h.obs.current[s]
}

// Entered returns how many times any endpoint of the host entered state s.
func (h *Host) Entered(s State) int { return h.obs.entered[s] }

// Endpoint is one TCP endpoint of a host as last observed.
type Endpoint struct {
	Local, Remote netip.AddrPort
	State         State
	// Orphan is set when the application no longer holds the endpoint
	// (it closed it, or never accepted it).
	Orphan bool
	// TimeWaitSocket is set for a linux-profile timewait socket (TIME-WAIT
	// or orphaned FIN-WAIT-2); Expires is then the time left on its timer
	// as ss -o prints it (timer:(timewait,...)): from the timer's expiry,
	// in whole jiffies (inet_twsk_diag_fill: tw_timer.expires - jiffies),
	// never below zero, though the timer wheel fires it up to a bucket
	// later.
	TimeWaitSocket bool
	Expires        time.Duration
}

// Endpoints lists the host's endpoints that are not CLOSED, listeners and
// endpoints the application already closed included, sorted by local then
// remote address.
func (h *Host) Endpoints() []Endpoint {
	if h.kern != nil {
		return h.kernelEndpoints()
	}
	var out []Endpoint
	add := func(r *epRec) {
		if r.state == Closed {
			return
		}
		e := Endpoint{Local: r.local, Remote: r.remote, State: r.state, Orphan: r.sock == nil || r.sock.closed}
		if r.tw != nil {
			e.Orphan, e.TimeWaitSocket, e.Expires = true, true, max(r.tw.expires-h.jiffyStart(), 0)
		}
		out = append(out, e)
	}
	for _, r := range h.obs.active {
		if r.act && r.tw == nil {
			add(r)
		}
	}
	for _, r := range h.obs.twByTuple {
		add(r)
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := a.Local.Compare(b.Local); c != 0 {
			return c
		}
		return a.Remote.Compare(b.Remote)
	})
	return out
}
