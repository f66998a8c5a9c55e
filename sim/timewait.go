package sim

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// This file gives a linux-profile host Linux's timewait sockets. When one
// of its connections enters TIME-WAIT, or when a socket the application
// closed has its FIN acknowledged (orphaned FIN-WAIT-2), the host does what
// tcp_time_wait() (net/ipv4/tcp_minisocks.c) does: it releases gVisor's
// endpoint without a packet and keeps a timewait socket (package timewait)
// for the tuple. Segments for the tuple go to it instead of the stack; its
// replies leave from the host; its timer is the host's. The connection keeps
// its record (and its endpoint number), so its state history runs on:
// TIME-WAIT, then CLOSED when the timer fires.

// twsock is a timewait socket and what the host keeps beside it.
type twsock struct {
	timewait.Sock
	due time.Duration // when the timer fires (on the timer wheel's tick)
	// expires is the timer's own expiry, jiffies + timeout, which ss shows
	// the time left from; the wheel fires it up to a bucket later (due).
	expires time.Duration
	seq     uint64 // orders timers due at the same instant
	// timeout is tw_timeout: what a restart gives under 4.9 with
	// tcp_tw_recycle (3.5×RTO) when a FIN turns FIN-WAIT-2 into TIME-WAIT.
	timeout time.Duration
	idx     int32 // place in Host.twq
	// kill is 4.9's tw_kill: counted as TWKilled rather than TW at expiry.
	kill bool
	// recycled says the timer runs tcp_tw_recycle's 3.5×RTO.
	recycled bool
}

// rules are the timewait rules of the host's kernel and knobs.
func (h *Host) rules() timewait.Rules {
	return timewait.Rules{Kernel: h.opts.Kernel, TimeWaitLen: h.TimeWait(), RFC1337: h.knobs.rfc1337,
		InvalidRateLimit: h.knobs.invalidRateLimit}
}

// closing runs when one of the host's endpoints entered TIME-WAIT or
// FIN-WAIT-2 (observe).
func (h *Host) closing(r *epRec) {
	if h.opts.Profile != Linux || r.ep == nil {
		return
	}
	switch {
	case r.state == TimeWait:
		h.tcpTimeWait(r, timewait.TimeWait, 0)
	case r.state == FinWait2 && (r.sock == nil || r.sock.closed):
		h.finWait2Orphaned(r)
	}
}

// finWait2Orphaned is what Linux does when a socket in FIN-WAIT-2 has
// been closed by the application: tcp_rcv_state_process (the ACK of our
// FIN arrived after close()) or tcp_close (close() after the ACK). The
// timeout is tcp_fin_time: tcp_fin_timeout, at least 3.5×RTO. If it is
// longer than TIME-WAIT, the full socket lingers for the difference first
// (its keepalive timer), and tcp_keepalive_timer then hands the timewait
// socket the same difference again.
func (h *Host) finWait2Orphaned(r *epRec) {
	c := h.pol.conns[tuple{r.local, r.remote}.key()]
	tmo := h.opts.FinTimeout
	if c != nil {
		tmo = max(tmo, c.rtt.rto35())
	}
	tw := h.TimeWait()
	if tmo <= tw {
		h.tcpTimeWait(r, timewait.FinWait2, tmo)
		return
	}
	// The full socket waits on its keepalive timer (tcp_keepalive_timer,
	// armed with inet_csk_reset_keepalive_timer), on the timer wheel.
	_, due := h.timer(tmo - tw)
	h.At(due, func() {
		if r.ep != nil && r.state == FinWait2 {
			h.tcpTimeWait(r, timewait.FinWait2, tmo-tw)
		}
	})
}

// tcpTimeWait swaps the endpoint of r for a timewait socket with substate
// sub and timeout timeo, as tcp_time_wait does; past tcp_max_tw_buckets
// (inet_twsk_alloc) the connection just ends.
func (h *Host) tcpTimeWait(r *epRec, sub timewait.Substate, timeo time.Duration) {
	t := tuple{r.local, r.remote}
	c := h.pol.conns[t.key()]
	if c == nil {
		c = newLconn()
	}
	defer h.forget(t)
	if h.ntw >= h.knobs.maxTWBuckets {
		h.count(cTimeWaitOverflow)
		h.destroy(r, "linux tcp_max_tw_buckets: no timewait socket for it (TcpExtTCPTimeWaitOverflow)")
		return
	}
	rto := c.rtt.rto35()
	timeo = max(timeo, rto)
	k := h.opts.Kernel
	s := &twsock{timeout: h.TimeWait()}
	if k == timewait.Linux49 && h.knobs.twRecycle && c.sawTS {
		h.rememberStamp(r.remote.Addr(), c.tsRecent, c.tsAt)
		s.timeout = rto // tcp_tw_recycle: recycle_ok
		s.recycled = sub == timewait.TimeWait
	} else if sub == timewait.TimeWait {
		timeo = h.TimeWait()
	}
	s.Sock = timewait.Sock{Substate: sub, RcvNxt: c.rcvNxt, SndNxt: c.sndNxt, TSOffset: c.tsOff}
	s.RcvWScale, s.RcvWnd = c.rcvWScale(), c.rcvWnd
	if c.sawTS {
		s.TSRecent, s.TSRecentStamp = c.tsRecent, c.stamp()
	}
	if k == timewait.Linux618 {
		s.EntryStamp = h.msClock()
		// __inet_twsk_schedule counts a timewait socket when it is
		// created: TWKilled if its timeout is 4 s or less.
		if killed(timeo) {
			h.count(cTWKilled)
		} else {
			h.count(cTW)
		}
	} else {
		s.kill = killed(timeo)
	}

	ep := r.ep
	h.obs.portGone(r)
	delete(h.obs.byEP, ep)
	r.ep, r.tw = nil, s
	if r.sock != nil && r.sock.closed {
		r.sock.release() // Linux frees the full socket
		r.sock = nil
	}
	h.holdsDead(r.sock)
	h.abortSilently(ep)
	h.obs.twByTuple[t.key()] = r
	h.ntw++
	h.portTW(r, +1)
	s.expires, s.due = h.timer(timeo)
	h.twPush(r)
}

// timer is a kernel timer the host arms now to run d later: the expiry it
// holds (jiffies + d) and when it fires, at the tick of the timer wheel's
// bucket (timewait.TimerDue), up to a bucket's span late: a 60 s
// TIME-WAIT ends more than 60 s and at most 62.048 s after it began.
func (h *Host) timer(d time.Duration) (expires, due time.Duration) {
	m := h.mono()
	return timewait.TimerExpires(m, d) - uptime, timewait.TimerDue(m, d) - uptime
}

// killed is __inet_twsk_schedule's kill: a timewait socket scheduled for 4 s
// or less counts as TWKilled, a longer one as TW.
func killed(timeo time.Duration) bool { return timeo <= 4*time.Second }

// rememberStamp is tcp_remember_stamp and tcp_tw_remember_stamp (Linux
// before 4.12): the peer's latest timestamp ts, taken at at, is cached by
// address, for tcp_tw_recycle's check of later SYNs. It replaces the entry
// when it is newer, or when the entry is more than TCP_PAWS_MSL old (whole
// seconds) and was not taken after this one, so a peer whose clock went
// back is cached again once its old entry is stale.
func (h *Host) rememberStamp(ip netip.Addr, ts uint32, at time.Duration) {
	p, ok := h.pol.peers[ip]
	if !ok || int32(p.ts-ts) <= 0 ||
		(uint32(monoSeconds(h.ln.Now())-monoSeconds(p.at)) > timewait.PAWSMSL && monoSeconds(p.at) <= monoSeconds(at)) {
		h.pol.peers[ip] = peerTS{ts: ts, at: at}
	}
}

// forget drops what the policy layer knew of a connection that is gone.
func (h *Host) forget(t tuple) {
	delete(h.pol.conns, t.key())
	delete(h.pol.adj, t.key())
}

// twReceive hands a segment to r's timewait socket and carries out its
// verdict (tcp_v4_rcv's do_time_wait). Only a SYN a listener takes over
// goes on to the stack.
func (h *Host) twReceive(r *epRec, data []byte, hd netem.Header) verdict {
	if !netem.ChecksumsOK(data) {
		return verdict{handled: "bad checksum: dropped", consumed: true}
	}
	h.ownIn++
	s := r.tw
	g := timewait.SegmentOf(hd)
	v := s.Process(g, h.mono(), h.rules())
	switch {
	case v.Counts&timewait.PAWSTimewait != 0:
		h.count(cPAWSTimewait)
	case v.Counts&timewait.PAWSEstab != 0:
		h.count(cPAWSEstab)
	}
	switch {
	case v.Counts&timewait.ACKSkippedTimeWait != 0:
		h.count(cACKSkippedTimeWait)
	case v.Counts&timewait.ACKSkippedFinWait2 != 0:
		h.count(cACKSkippedFinWait2)
	}
	t := tuple{r.local, r.remote}
	if v.Entered {
		h.obs.set(r, TimeWait, "")
		if s.timeout < h.TimeWait() && s.TSRecentStamp != 0 {
			h.rememberStamp(t.remote.Addr(), s.TSRecent, h.ln.Now()) // tcp_tw_remember_stamp
		}
	}
	if v.Restart {
		d := h.TimeWait()
		if v.Entered {
			d = s.timeout
		}
		s.kill, s.recycled = killed(d), d < h.TimeWait()
		h.twReschedule(r, d)
	}
	why := v.Why
	switch v.Action {
	case timewait.SendACK:
		h.sendReply(t, s.ACK(h.mono()))
	case timewait.SendRST:
		h.sendReply(t, timewait.ResetFor(g))
		h.twEnd(r, "linux timewait: "+v.Why)
	case timewait.Kill:
		h.twEnd(r, "linux timewait: "+v.Why)
	case timewait.AcceptSYN:
		if h.listening(t.local) {
			h.twEnd(r, "linux timewait: "+v.Why)
			h.pol.adj[t.key()] = &seqAdj{want: v.ISN}
			h.ownIn-- // the stack counts it (tcp_v4_rcv counted it once)
			return verdict{handled: fmt.Sprintf("%s; a listener takes it, ISN %d", why, v.ISN)}
		}
		h.sendReply(t, s.ACK(h.mono()))
		why += "; no listener: ACK"
	}
	if v.Restart && !v.Entered && r.tw == s && r.state == TimeWait {
		h.obs.restarted(r, s.due, v.Why) // after the ACK, as gVisor's
	}
	return verdict{handled: why, consumed: true}
}

// sendReply sends a segment the host's own code built (a timewait
// socket's reply, the policy layer's duplicate ACK), on the tuple t.
func (h *Host) sendReply(t tuple, r timewait.Reply) {
	seg := netem.Segment{Src: t.local, Dst: t.remote, Seq: r.Seq, Ack: r.Ack, Flags: r.Flags, Window: r.Window}
	if r.HasTS {
		seg.TS = &netem.Timestamp{Val: r.TSVal, Ecr: r.TSEcr}
	}
	data, err := seg.Marshal()
	if err != nil {
		panic(fmt.Sprintf("sim: a timewait reply on %v > %v: %v", t.local, t.remote, err)) // both addresses are IPv4
	}
	ln := h.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	h.ownOut++
	if r.Flags&netem.RST != 0 {
		h.ownRST++
	}
	ln.sendOutLocked(h, data, t.remote.Addr().IsLoopback())
}

// twEnd ends r's timewait socket now: the tuple is free.
func (h *Host) twEnd(r *epRec, cause string) {
	h.twRemove(r)
	h.armTimeWait()
	h.obs.set(r, Closed, cause)
}

// twRemove takes r's timewait socket out of the host's tables; the caller
// re-arms the host's timer.
func (h *Host) twRemove(r *epRec) {
	h.twDelete(r)
	delete(h.obs.twByTuple, tuple{r.local, r.remote}.key())
	h.ntw--
	h.portTW(r, -1)
	r.tw = nil
}

// expireTimeWaits runs when the host's timewait timer fires: every
// timewait socket due now ends (inet_twsk_kill from tw_timer_handler).
func (h *Host) expireTimeWaits() {
	now := h.ln.Now()
	for len(h.twq) > 0 && h.twq[0].tw.due <= now {
		r := h.twq[0]
		if h.opts.Kernel == timewait.Linux49 {
			// 4.9's tw_timer_handler counts at expiry.
			if r.tw.kill {
				h.count(cTWKilled)
			} else {
				h.count(cTW)
			}
		}
		cause := ""
		if r.tw.recycled {
			cause = fmt.Sprintf("linux tcp_tw_recycle: TIME-WAIT lasts 3.5×RTO = %v", r.tw.timeout)
		}
		h.twRemove(r)
		h.obs.set(r, Closed, cause)
	}
	h.armTimeWait()
}

// TimeWaitSockets returns how many timewait sockets (TIME-WAIT and
// orphaned FIN-WAIT-2) the host holds: tcp_max_tw_buckets counts these.
func (h *Host) TimeWaitSockets() int { return h.ntw }

// The host's timewait timers: a min-heap of records by due time, with one
// World event at the earliest. Timers due in one tick run newest first, as
// a timer wheel bucket runs them (enqueue_timer adds a timer at the head
// of its bucket's list, expire_timers takes them from the head): by seq,
// highest first.

func (h *Host) twLess(i, j int) bool {
	a, b := h.twq[i].tw, h.twq[j].tw
	if a.due != b.due {
		return a.due < b.due
	}
	return a.seq > b.seq
}

func (h *Host) twSwap(i, j int) {
	h.twq[i], h.twq[j] = h.twq[j], h.twq[i]
	h.twq[i].tw.idx, h.twq[j].tw.idx = int32(i), int32(j)
}

func (h *Host) twUp(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.twLess(j, i) {
			break
		}
		h.twSwap(i, j)
		j = i
	}
}

func (h *Host) twDown(i int) {
	n := len(h.twq)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if l+1 < n && h.twLess(l+1, l) {
			j = l + 1
		}
		if !h.twLess(j, i) {
			return
		}
		h.twSwap(i, j)
		i = j
	}
}

func (h *Host) twPush(r *epRec) {
	h.twSeq++
	r.tw.seq = h.twSeq
	r.tw.idx = int32(len(h.twq))
	h.twq = append(h.twq, r)
	h.twUp(int(r.tw.idx))
	h.armTimeWait()
}

// twReschedule re-arms r's timer to run d from now (inet_twsk_reschedule).
// A timer that stays in its bucket keeps its place in the bucket's list
// (__mod_timer only updates its expiry); one that moves goes to the head
// of its new bucket's list.
func (h *Host) twReschedule(r *epRec, d time.Duration) {
	old := r.tw.due
	r.tw.expires, r.tw.due = h.timer(d)
	if r.tw.due != old {
		h.twSeq++
		r.tw.seq = h.twSeq
	}
	h.twDown(int(r.tw.idx))
	h.twUp(int(r.tw.idx))
	h.armTimeWait()
}

// twDelete takes r out of the heap (the timer is not re-armed).
func (h *Host) twDelete(r *epRec) {
	i, n := int(r.tw.idx), len(h.twq)-1
	if i != n {
		h.twSwap(i, n)
	}
	h.twq[n] = nil
	h.twq = h.twq[:n]
	if i != n {
		h.twDown(i)
		h.twUp(i)
	}
}

// armTimeWait keeps the host's timer event at the earliest timewait
// timer.
func (h *Host) armTimeWait() {
	ln := h.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if h.twEv == nil {
		h.twEv = &event{kind: evTimer, host: h, fn: h.expireTimeWaits, index: -1}
	}
	switch {
	case len(h.twq) == 0:
		if h.twEv.index >= 0 {
			ln.heap.remove(h.twEv)
		}
	case h.twEv.index < 0 || h.twEv.at != h.twq[0].tw.due:
		ln.scheduleLocked(h.twEv, h.twq[0].tw.due-ln.Now())
	}
}
