package sim

import (
	"fmt"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// This file is PAWS on a linux-profile host's live connections, as
// tcp_validate_incoming (net/ipv4/tcp_input.c) applies it before anything
// else: a segment whose timestamp is older than ts_recent by more than
// TCP_PAWS_WINDOW fails, unless it is a disordered duplicate ACK; what fails
// is dropped, counted, and in most cases answered with a duplicate ACK.
// The timestamp rules themselves are package timewait's (PAWSCheck), which
// a timewait socket applies too.

// stamp is ts_recent_stamp: the host's monotonic seconds when ts_recent
// was taken.
func (c *lconn) stamp() int64 { return monoSeconds(c.tsAt) }

// sndWScale is the peer's window scale as the host applies it (snd_wscale),
// rcvWScale the host's own (rcv_wscale): 0 unless both SYNs offered one.
func (c *lconn) sndWScale() uint8 {
	if c.ourWS < 0 || c.peerWS < 0 {
		return 0
	}
	return uint8(c.peerWS)
}

func (c *lconn) rcvWScale() uint8 {
	if c.ourWS < 0 || c.peerWS < 0 {
		return 0
	}
	return uint8(c.ourWS)
}

// nwinOut is the window in bytes a segment the host sends advertises.
func (c *lconn) nwinOut(hd netem.Header) uint32 {
	if hd.Flags&netem.SYN != 0 {
		return uint32(hd.Window)
	}
	return uint32(hd.Window) << c.rcvWScale()
}

// nwin is the window a segment advertises, scaled as tcp_ack_update_window
// scales it (never in a SYN).
func (c *lconn) nwin(hd netem.Header) uint32 {
	if hd.Flags&netem.SYN != 0 {
		return uint32(hd.Window)
	}
	return uint32(hd.Window) << c.sndWScale()
}

// mayUpdateWindow is tcp_may_update_window for a segment at seq carrying
// ack and window nwin.
func (c *lconn) mayUpdateWindow(ack, seq, nwin uint32) bool {
	return !c.haveWl1 || int32(ack-c.sndUna) > 0 || int32(seq-c.sndWl1) > 0 ||
		(seq == c.sndWl1 && (nwin > c.sndWnd || nwin == 0))
}

// noteWindow takes the window of an accepted segment with an ACK, as
// tcp_ack_update_window does, before SND.UNA moves.
func (c *lconn) noteWindow(hd netem.Header, wireAck uint32) {
	if nwin := c.nwin(hd); c.mayUpdateWindow(wireAck, hd.Seq, nwin) {
		c.sndWl1, c.sndWnd, c.haveWl1 = hd.Seq, nwin, true
	}
}

// pawsFailed handles a segment of c that failed tcp_paws_check (never an
// RST: a reset is accepted whatever its timestamp). It reports whether the
// segment is discarded, with the verdict saying why.
//
// Linux 6.18 (tcp_disordered_ack_check): a pure ACK at RCV.NXT that
// acknowledges SND.UNA, does not update the window, and is within the
// replay window of ts_recent (RTO × 1200 / HZ increments) is accepted; a
// pure ACK below RCV.NXT is an old ACK (TcpExtPAWSOldAck, dropped
// silently); a SYN goes on to the challenge ACK (gVisor sends one for a SYN
// on a live connection); anything else is counted in TcpExtPAWSEstab and
// answered with a duplicate ACK unless tcp_invalid_ratelimit withholds it
// (TcpExtTCPACKSkippedPAWS). Linux 4.9 (tcp_paws_discard): the same
// disordered ACK (replay window RTO × 1024 / HZ) is accepted, everything
// else counted in PAWSEstab and answered.
func (h *Host) pawsFailed(t tuple, c *lconn, hd netem.Header, wireAck uint32) (verdict, bool) {
	g := timewait.SegmentOf(hd)
	pure := hd.Flags&netem.ACK != 0 && g.End() == g.Seq
	atRcvNxt := c.haveRcvNxt && hd.Seq == c.rcvNxt
	replay := c.rtt.rto() * 1200 / timewait.HZ
	old := h.opts.Kernel == timewait.Linux49
	if old {
		replay = c.rtt.rto() * 1024 / timewait.HZ
	}
	if pure && atRcvNxt && wireAck == c.sndUna && !c.mayUpdateWindow(wireAck, hd.Seq, c.nwin(hd)) &&
		int64(int32(c.tsRecent-hd.TS.Val)) <= replay {
		return verdict{}, false // a disordered ACK: accepted, ts_recent kept
	}
	why := fmt.Sprintf("linux PAWS: TSval %d older than ts_recent %d", hd.TS.Val, c.tsRecent)
	if !old {
		if hd.Flags&netem.SYN != 0 {
			return verdict{}, false
		}
		if pure && c.haveRcvNxt && int32(hd.Seq-c.rcvNxt) < 0 {
			h.ownIn++
			h.count(cPAWSOldAck)
			return verdict{discard: why + ", an old ACK (PAWSOldAck): no reply"}, true
		}
	}
	h.ownIn++
	h.count(cPAWSEstab)
	if !c.haveRcvNxt {
		return verdict{discard: why}, true
	}
	if timewait.OOWRateLimited(g, &c.lastOOWAck, h.mono(), h.knobs.invalidRateLimit) {
		h.count(cACKSkippedPAWS)
		return verdict{discard: why + ", duplicate ACK withheld (tcp_invalid_ratelimit)"}, true
	}
	h.sendReply(t, c.dupACK(h.msClock()))
	return verdict{discard: why + ", duplicate ACK"}, true
}

// dupACK is the ACK tcp_send_dupack sends at the host's timestamp clock
// msNow: SND.NXT, RCV.NXT, the host's last window, and a timestamp option
// echoing ts_recent. (Linux adds a D-SACK block for data below RCV.NXT;
// this one carries none.)
func (c *lconn) dupACK(msNow uint32) timewait.Reply {
	r := timewait.Reply{Seq: c.sndNxt, Ack: c.rcvNxt, Flags: netem.ACK, Window: uint16(min(c.rcvWnd>>c.rcvWScale(), 65535))}
	if c.haveTSOff {
		r.HasTS, r.TSVal, r.TSEcr = true, msNow+c.tsOff, c.tsRecent
	}
	return r
}
