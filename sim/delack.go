package sim

import (
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// This file is Linux's delayed ACK of a FIN, for the linux profile. gVisor
// acknowledges a FIN at once; Linux does not: tcp_fin enters pingpong mode
// on a FIN in ESTABLISHED, which turns quick-ACK off, so
// __tcp_ack_snd_check calls tcp_send_delayed_ack and the ACK waits for the
// delayed-ACK timer. An application that closes in the meantime sends its
// FIN with the ACK on it, and the timer is cleared (tcp_event_ack_sent):
// the close of a request-reply connection is [F.] from each side, not
// [.] then [F.]. The host holds gVisor's pure ACK of the FIN until the
// timer would fire and drops it if any other segment acknowledging the FIN
// leaves first.
//
// Only the ACK of an in-order FIN with nothing unacknowledged before it is
// delayed; the other ACKs are gVisor's (docs/knobs.md).

// The delayed-ACK constants of include/net/tcp.h, in jiffies.
const (
	atoMin    = timewait.HZ / 25 // TCP_ATO_MIN = TCP_DELACK_MIN
	delackMax = timewait.HZ / 5  // TCP_DELACK_MAX
	rcvMSSMin = 536              // TCP_MSS_DEFAULT, tcp_initialize_rcv_mss
)

// delack is a connection's delayed-ACK state (icsk_ack) and the ACK it
// holds.
type delack struct {
	// ato and lrcv are icsk_ack.ato and lrcvtime in jiffies; rcvMSS is
	// icsk_ack.rcv_mss (0 until the first data segment).
	ato    int64
	lrcv   int64
	rcvMSS int
	// ack is the acknowledgement number of the FIN's ACK while the timer
	// runs; held is gVisor's pure ACK of it once it came; tick is the
	// jiffy whose timers include it (nil: no timer runs), and gen tells
	// this arming from an earlier one.
	ack  uint32
	held []byte
	tick *delackTick
	gen  uint32
}

// delackTick is a host's delayed-ACK timers due in one jiffy, run by one
// World event. A timer wheel bucket runs its timers newest first
// (kernel/time/timer.c: enqueue_timer adds a timer at the head of its
// bucket's list, expire_timers takes them from the head), so three ACKs
// whose timers expire in one tick leave in the reverse of the order their
// FINs came.
type delackTick struct {
	at     time.Duration
	ev     *event
	timers []delackTimer // in the order armed
	live   int
}

type delackTimer struct {
	t   tuple
	c   *lconn
	gen uint32
}

// dataReceived is tcp_event_data_recv's update of ato on an in-order data
// segment of n bytes at jiffy j; rto is icsk_rto in jiffies.
func (d *delack) dataReceived(n int, j, rto int64) {
	if d.rcvMSS == 0 {
		d.rcvMSS = rcvMSSMin
	}
	if n >= d.rcvMSS {
		d.rcvMSS = min(n, 1460) // tcp_measure_rcv_mss, bounded by advmss
	}
	switch m := j - d.lrcv; {
	case d.ato == 0:
		d.ato = atoMin // the first data segment
	case m <= atoMin/2:
		d.ato = d.ato/2 + atoMin/2
	case m < d.ato:
		d.ato = min(d.ato/2+m, rto)
	}
	d.lrcv = j
}

// timeout is tcp_send_delayed_ack's ato, in jiffies, for a connection in
// pingpong mode whose smoothed RTT is srttUs microseconds (0: none yet).
func (d *delack) timeout(srttUs int64) int64 {
	ato := d.ato
	if ato > atoMin {
		maxATO := int64(delackMax)
		if srttUs > 0 {
			rtt := max(srttUs*int64(time.Microsecond)/int64(jiffy), atoMin)
			maxATO = min(maxATO, rtt)
		}
		ato = min(ato, maxATO)
	}
	return min(ato, delackMax)
}

// finReceived arms the timer for the ACK of an in-order FIN that takes an
// ESTABLISHED connection to CLOSE-WAIT (tcp_fin), unless Linux sends it at
// once: more than rcv_mss unacknowledged (__tcp_ack_snd_check). The timer
// fires at the tick after jiffies + ato (calc_index rounds a level-0 expiry
// up by one jiffy).
func (h *Host) finReceived(t tuple, c *lconn, hd netem.Header) {
	if c.finSent || !c.haveRcvNxt || hd.Seq != c.rcvNxt {
		return // FIN-WAIT-1 or -2 acknowledge at once; a gap or unacknowledged data: not modelled
	}
	d := &c.delack
	if hd.PayloadLen+1 > max(d.rcvMSS, rcvMSSMin) {
		return
	}
	fire := (int64(h.mono()/jiffy) + d.timeout(int64(c.rtt.srtt>>3)) + 1) * int64(jiffy)
	ln := h.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	h.delackCancelLocked(d)
	d.ack, d.held = hd.Seq+uint32(hd.PayloadLen)+1, nil
	at := time.Duration(fire) - uptime
	tk := h.delackTicks[at]
	if tk == nil {
		tk = &delackTick{at: at}
		tk.ev = &event{kind: evApp, index: -1, fn: func() { h.delackTickFired(tk) }}
		if h.delackTicks == nil {
			h.delackTicks = map[time.Duration]*delackTick{}
		}
		h.delackTicks[at] = tk
		ln.scheduleLocked(tk.ev, at-ln.Now())
	}
	d.gen++
	d.tick = tk
	tk.timers = append(tk.timers, delackTimer{t: t, c: c, gen: d.gen})
	tk.live++
}

// delackCancelLocked clears d's timer (sk_stop_timer), and the World
// event of its jiffy if no other timer is left in it. Requires the lane's mu.
func (h *Host) delackCancelLocked(d *delack) {
	tk := d.tick
	if tk == nil {
		return
	}
	d.tick = nil
	d.gen++
	if tk.live--; tk.live == 0 {
		if tk.ev.index >= 0 {
			h.ln.heap.remove(tk.ev)
		}
		delete(h.delackTicks, tk.at)
	}
}

// delackTickFired runs the delayed-ACK timers of one jiffy, newest first.
func (h *Host) delackTickFired(tk *delackTick) {
	h.ln.mu.Lock()
	delete(h.delackTicks, tk.at)
	h.ln.mu.Unlock()
	for i := len(tk.timers) - 1; i >= 0; i-- {
		x := tk.timers[i]
		if x.c.delack.tick == tk && x.c.delack.gen == x.gen {
			h.delackFired(x.t, x.c)
		}
	}
}

// delackOut decides an outbound segment of a connection whose FIN's ACK is
// delayed: gVisor's pure ACK of the FIN is held (held true); any other
// segment carrying the ACK clears the timer and the held ACK is dropped.
// Requires the lane's mu.
func (h *Host) delackOut(c *lconn, data []byte, hd netem.Header) (held bool) {
	d := &c.delack
	if d.tick == nil || hd.Flags&netem.ACK == 0 || int32(hd.Ack-d.ack) < 0 {
		return false
	}
	if hd.Flags == netem.ACK && hd.PayloadLen == 0 && hd.Ack == d.ack && d.held == nil {
		d.held = append([]byte(nil), data...)
		return true
	}
	// tcp_event_ack_sent: the segment acknowledges the FIN; the timer is
	// cleared and gVisor's pure ACK, counted as sent, never leaves.
	if d.held != nil {
		h.swallowed++
	}
	h.delackCancelLocked(d)
	d.held = nil
	return false
}

// delackFired is the delayed-ACK timer: the held ACK leaves now, stamped
// now, echoing ts_recent.
func (h *Host) delackFired(t tuple, c *lconn) {
	d := &c.delack
	ln := h.ln
	ln.mu.Lock()
	defer ln.mu.Unlock()
	data := d.held
	d.held, d.tick = nil, nil
	if data == nil || h.pol.conns[t.key()] != c {
		return // gVisor never sent it (the connection went), nothing to do
	}
	hd, ok := netem.Decode(data)
	if ok && hd.HasTS && c.haveTSOff {
		netem.SetTimestamps(data, h.msClock()+c.tsOff, c.tsRecent)
	}
	if ok {
		c.rcvNxt, c.haveRcvNxt = hd.Ack, true // tcp_select_window: rcv_wup
	}
	h.noteTupleLocked(data, true)
	ln.sendOutLocked(h, data, t.remote.Addr().IsLoopback())
}
