package timewait

import (
	"fmt"
	"math"
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// Substate is what a timewait socket stands for (tw_substate).
type Substate uint8

// Substates.
const (
	// FinWait2 is an orphaned FIN-WAIT-2: the application called close()
	// and the peer acknowledged our FIN, but has not sent its own.
	FinWait2 Substate = iota + 1
	// TimeWait is TIME-WAIT proper.
	TimeWait
)

func (s Substate) String() string {
	switch s {
	case FinWait2:
		return "FIN-WAIT-2"
	case TimeWait:
		return "TIME-WAIT"
	}
	return fmt.Sprintf("Substate(%d)", uint8(s))
}

// HZ is the tick rate of the kernel the model was checked against (Linux
// 6.18 on the project's machines; also Debian's default). Jiffies count the
// out-of-window ACK rate limit.
const HZ = 250

// Kernel names the Linux version whose rules a host follows.
type Kernel uint8

// Kernels tcpsim models.
const (
	// Linux618 is Linux 6.18, the default: TcpExtTW and TcpExtTWKilled are
	// counted when the timewait socket is created, tcp_tw_reuse counts its
	// delay from tw_entry_stamp (tcp_tw_reuse_delay), a PAWS reject in
	// TIME-WAIT counts TcpExtPAWSTimewait, and tcp_tw_recycle is gone.
	Linux618 Kernel = iota
	// Linux49 is Linux 4.9, the kernel of the TIME-WAIT articles'
	// tcp_tw_recycle (removed in 4.12): counters at expiry, reuse one
	// second after the last timestamp, PAWS rejects count TcpExtPAWSEstab.
	Linux49
)

func (k Kernel) String() string {
	if k == Linux49 {
		return "4.9"
	}
	return "6.18"
}

// ParseKernel reads "6.18" or "4.9".
func ParseKernel(s string) (Kernel, error) {
	switch s {
	case "6.18":
		return Linux618, nil
	case "4.9":
		return Linux49, nil
	}
	return 0, fmt.Errorf("kernel %q: want 6.18 or 4.9", s)
}

// Rules are what tcp_timewait_state_process reads besides the socket: the
// kernel version and the host's knobs.
type Rules struct {
	Kernel Kernel
	// TimeWaitLen is TCP_TIMEWAIT_LEN, the length every restart gives
	// (60 s in Linux; 2×MSL in tcpsim).
	TimeWaitLen time.Duration
	// RFC1337 is net.ipv4.tcp_rfc1337: an in-window RST is ignored instead
	// of killing TIME-WAIT.
	RFC1337 bool
	// InvalidRateLimit is net.ipv4.tcp_invalid_ratelimit (500 ms): the
	// least time between two ACKs to out-of-window segments.
	InvalidRateLimit time.Duration
}

// Sock is a timewait socket: what Linux keeps of a connection after
// tcp_time_wait() freed the full socket.
type Sock struct {
	// TSRecentStamp is tw_ts_recent_stamp: when TSRecent was taken, in
	// seconds of the monotonic clock; 0 when the connection had no
	// timestamps (then there is no PAWS and no reuse).
	TSRecentStamp int64
	// RcvNxt and SndNxt are tw_rcv_nxt and tw_snd_nxt.
	RcvNxt, SndNxt uint32
	// RcvWnd is tw_rcv_wnd: the receive window in bytes.
	RcvWnd uint32
	// TSRecent is tw_ts_recent: the peer's latest timestamp.
	TSRecent uint32
	// TSOffset is tw_ts_offset: the host's TSval is its millisecond clock
	// plus TSOffset.
	TSOffset uint32
	// EntryStamp is tw_entry_stamp (6.18): the millisecond clock when the
	// socket was created, refreshed when a FIN-WAIT-2 becomes TIME-WAIT.
	EntryStamp uint32
	// LastOOWAck is tw_last_oow_ack_time: the jiffies of the last ACK sent
	// to an out-of-window segment; 0 if none.
	LastOOWAck uint32
	// RcvWScale is tw_rcv_wscale: our window scale.
	RcvWScale uint8
	Substate  Substate
}

// Segment is what Process reads of an arriving segment.
type Segment struct {
	Seq, Ack uint32
	Flags    netem.Flags
	// Len is the payload length.
	Len int
	// HasTS says the segment carries the timestamp option TSVal, TSEcr.
	HasTS        bool
	TSVal, TSEcr uint32
}

// SegmentOf reads a decoded header as a Segment.
func SegmentOf(h netem.Header) Segment {
	return Segment{Seq: h.Seq, Ack: h.Ack, Flags: h.Flags, Len: h.PayloadLen, HasTS: h.HasTS, TSVal: h.TS.Val, TSEcr: h.TS.Ecr}
}

// End is TCP_SKB_CB(skb)->end_seq: the sequence number after the
// segment.
func (g Segment) End() uint32 {
	e := g.Seq + uint32(g.Len)
	if g.Flags&netem.SYN != 0 {
		e++
	}
	if g.Flags&netem.FIN != 0 {
		e++
	}
	return e
}

// Action is what the host does with a segment after Process (the
// tcp_tw_status the kernel returns, carried out by tcp_v4_rcv).
type Action uint8

// Actions.
const (
	// Drop: nothing is sent (TCP_TW_SUCCESS).
	Drop Action = iota
	// SendACK: the host sends the ACK that ACK describes (TCP_TW_ACK,
	// TCP_TW_ACK_OOW).
	SendACK
	// SendRST: the host resets the segment (ResetFor) and the timewait
	// socket is gone (TCP_TW_RST).
	SendRST
	// AcceptSYN: a new connection may open on the tuple with ISN (TCP_TW_SYN).
	// If a listener takes the SYN, the timewait socket is gone; if none
	// does, the host sends the ACK instead and the socket stays.
	AcceptSYN
	// Kill: the timewait socket is gone, and nothing is sent (an RST
	// accepted with tcp_rfc1337=0, or in the FIN-WAIT-2 substate).
	Kill
)

// Counts are the counters a verdict increments, as bits.
type Counts uint8

// Counters Process may increment.
const (
	// PAWSTimewait is TcpExtPAWSTimewait (6.16 and later).
	PAWSTimewait Counts = 1 << iota
	// PAWSEstab is TcpExtPAWSEstab, which 4.9 counted PAWS rejects in
	// TIME-WAIT with.
	PAWSEstab
	// ACKSkippedTimeWait is TcpExtTCPACKSkippedTimeWait: an ACK to an
	// out-of-window segment withheld by the rate limit.
	ACKSkippedTimeWait
	// ACKSkippedFinWait2 is TcpExtTCPACKSkippedFinWait2, the same in the
	// FIN-WAIT-2 substate.
	ACKSkippedFinWait2
)

// Verdict is what Process decided.
type Verdict struct {
	Action Action
	// Restart is set when the timer is restarted to Rules.TimeWaitLen
	// (inet_twsk_reschedule).
	Restart bool
	// Entered is set when a FIN turned the FIN-WAIT-2 substate into
	// TIME-WAIT.
	Entered bool
	// ISN is the new connection's initial sequence number for AcceptSYN:
	// tw_snd_nxt + 65537.
	ISN    uint32
	Counts Counts
	// Why says which branch of tcp_timewait_state_process decided, in
	// words for a trace.
	Why string
}

// Process runs tcp_timewait_state_process (net/ipv4/tcp_minisocks.c) on a
// segment that reached the socket at monotonic time now. It updates the
// socket (substate, RCV.NXT, ts_recent, the rate limit's clock) and returns
// what the host must do.
func (s *Sock) Process(g Segment, now time.Duration, r Rules) Verdict {
	rst, syn, ack, fin := g.Flags&netem.RST != 0, g.Flags&netem.SYN != 0, g.Flags&netem.ACK != 0, g.Flags&netem.FIN != 0
	end := g.End()

	// Options are parsed only if the connection had timestamps.
	sawTS := g.HasTS && s.TSRecentStamp != 0
	pawsReject := sawTS && PAWSReject(s.TSRecent, s.TSRecentStamp, g.TSVal, rst, now, r.Kernel)

	if s.Substate == FinWait2 {
		// "Just repeat all the checks of tcp_rcv_state_process()".
		if pawsReject || !inWindow(g.Seq, end, s.RcvNxt, s.RcvNxt+s.RcvWnd) {
			v := s.oowACK(g, now, r, ACKSkippedFinWait2)
			v.Why = "out of window" + pawsWhy(pawsReject) + ": " + v.Why
			return v
		}
		switch {
		case rst:
			return Verdict{Action: Kill, Why: "RST: the FIN-WAIT-2 socket is killed"}
		case syn && !before(g.Seq, s.RcvNxt):
			return Verdict{Action: SendRST, Why: "SYN at or after RCV.NXT: reset"}
		case !ack || !after(end, s.RcvNxt) || end == g.Seq:
			return Verdict{Action: Drop, Why: "duplicate ACK: ignored"}
		case !fin || end != s.RcvNxt+1:
			return Verdict{Action: SendRST, Why: "new data after close(): reset"}
		}
		// FIN arrived: true TIME-WAIT.
		s.Substate = TimeWait
		s.RcvNxt = end
		if sawTS {
			if r.Kernel == Linux618 {
				s.EntryStamp = msClock(now)
			}
			s.TSRecentStamp = seconds(now)
			s.TSRecent = g.TSVal
		}
		return Verdict{Action: SendACK, Restart: true, Entered: true, Why: "FIN: TIME-WAIT begins, ACK"}
	}

	// TIME-WAIT proper. In window, it may be only an RST or a bare ACK.
	if !pawsReject && g.Seq == s.RcvNxt && (g.Seq == end || rst) {
		v := Verdict{Action: Drop}
		switch {
		case rst && !r.RFC1337:
			return Verdict{Action: Kill, Why: "RST at RCV.NXT: TIME-WAIT assassinated (tcp_rfc1337=0)"}
		case rst && r.Kernel == Linux618:
			v.Why = "RST at RCV.NXT: ignored (tcp_rfc1337=1)"
		case rst:
			v.Restart, v.Why = true, "RST at RCV.NXT: ignored (tcp_rfc1337=1), timer restarted"
		default:
			v.Restart, v.Why = true, "bare ACK at RCV.NXT: timer restarted"
		}
		if sawTS {
			s.TSRecent = g.TSVal
			s.TSRecentStamp = seconds(now)
		}
		return v
	}

	// A new SYN is accepted if it is no old duplicate: a higher sequence
	// number, or a newer timestamp (RFC 6191).
	if syn && !rst && !ack && !pawsReject &&
		(after(g.Seq, s.RcvNxt) || (sawTS && int32(s.TSRecent-g.TSVal) < 0)) {
		why := "SYN above RCV.NXT: a new connection may open"
		if !after(g.Seq, s.RcvNxt) {
			why = "SYN with a newer timestamp (RFC 6191): a new connection may open"
		}
		return Verdict{Action: AcceptSYN, ISN: s.ReuseISN(), Why: why}
	}

	var counts Counts
	if pawsReject {
		counts = PAWSTimewait
		if r.Kernel == Linux49 {
			counts = PAWSEstab
		}
	}
	if rst {
		return Verdict{Action: Drop, Counts: counts, Why: "RST out of window" + pawsWhy(pawsReject) + ": ignored"}
	}
	// Anything else is ACKed; the timer restarts unless it was an ACK-less
	// SYN (which may be a new SYN with a random sequence number).
	v := s.oowACK(g, now, r, ACKSkippedTimeWait)
	v.Restart = pawsReject || ack
	v.Counts |= counts
	what := "out of window"
	switch {
	case pawsReject:
		what = "PAWS reject (old TSval)"
	case fin && end == s.RcvNxt:
		what = "retransmitted FIN"
	case syn:
		what = "SYN below RCV.NXT"
	}
	v.Why = what + ": " + v.Why
	if v.Restart {
		v.Why += ", timer restarted"
	}
	return v
}

func pawsWhy(reject bool) string {
	if reject {
		return " (PAWS)"
	}
	return ""
}

// oowACK answers an out-of-window segment with an ACK unless
// tcp_oow_rate_limited withholds it.
func (s *Sock) oowACK(g Segment, now time.Duration, r Rules, skipped Counts) Verdict {
	if OOWRateLimited(g, &s.LastOOWAck, now, r.InvalidRateLimit) {
		return Verdict{Action: Drop, Counts: skipped, Why: "ACK withheld (tcp_invalid_ratelimit)"}
	}
	return Verdict{Action: SendACK, Why: "ACK"}
}

// Reply is the segment a timewait socket sends.
type Reply struct {
	Seq, Ack uint32
	Flags    netem.Flags
	Window   uint16
	// HasTS says it carries the timestamp option TSVal, TSEcr.
	HasTS        bool
	TSVal, TSEcr uint32
}

// ACK is the segment tcp_v4_timewait_ack sends at monotonic time now:
// SND.NXT, RCV.NXT, the window scaled down, and a timestamp option echoing
// ts_recent when there is one (tcp_v4_send_ack adds it only if tsecr != 0).
func (s *Sock) ACK(now time.Duration) Reply {
	win := s.RcvWnd >> s.RcvWScale
	r := Reply{Seq: s.SndNxt, Ack: s.RcvNxt, Flags: netem.ACK, Window: uint16(min(win, 65535))}
	if s.TSRecent != 0 {
		r.HasTS, r.TSVal, r.TSEcr = true, msClock(now)+s.TSOffset, s.TSRecent
	}
	return r
}

// ResetFor is the RST tcp_v4_send_reset sends in reply to g: at g's ACK if
// it has one, otherwise an RST|ACK acknowledging everything g occupied.
func ResetFor(g Segment) Reply {
	if g.Flags&netem.ACK != 0 {
		return Reply{Seq: g.Ack, Flags: netem.RST}
	}
	return Reply{Ack: g.End(), Flags: netem.RST | netem.ACK}
}

// ReuseISN is the initial sequence number Linux gives a connection that
// takes over the tuple: tw_snd_nxt + 65535 + 2, never 0.
func (s *Sock) ReuseISN() uint32 {
	isn := s.SndNxt + 65535 + 2
	if isn == 0 {
		isn = 1
	}
	return isn
}

// Sequence-space comparisons (before/after in include/net/tcp.h).
func before(a, b uint32) bool { return int32(a-b) < 0 }
func after(a, b uint32) bool  { return before(b, a) }

// inWindow is tcp_in_window in tcp_minisocks.c.
func inWindow(seq, end, sWin, eWin uint32) bool {
	if seq == sWin {
		return true
	}
	if after(end, sWin) && before(seq, eWin) {
		return true
	}
	return seq == eWin && seq == end
}

// timeBefore is time_before32 on seconds.
func timeBefore(a, b int64) bool { return int32(uint32(a)-uint32(b)) < 0 }

// msClock is tcp_clock_ms() as a u32: the millisecond clock the host's
// timestamps run on.
func msClock(now time.Duration) uint32 { return uint32(now / time.Millisecond) }

// seconds is ktime_get_seconds().
func seconds(now time.Duration) int64 { return int64(now / time.Second) }

// jiffies is tcp_jiffies32.
func jiffies(now time.Duration) uint32 { return uint32(now / Jiffy) }

// msecsToJiffies is msecs_to_jiffies: a whole number of jiffies, rounded
// up, as proc_dointvec_ms_jiffies stores tcp_invalid_ratelimit.
func msecsToJiffies(d time.Duration) int32 {
	j := (d + Jiffy - 1) / Jiffy
	return int32(min(j, math.MaxInt32))
}
