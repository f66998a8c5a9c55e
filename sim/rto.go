package sim

import (
	"time"

	"github.com/tcpsim/tcpsim/timewait"
)

// This file is Linux's retransmission timeout for a linux-profile
// connection, estimated from the segments the host sent and the ACKs it
// received. Linux needs it where gVisor's own does not fit: the 3.5×RTO of
// tcp_time_wait (the floor of an orphaned FIN-WAIT-2, and tcp_tw_recycle's
// short TIME-WAIT under 4.9) and of tcp_fin_time.

// rtoMinUs is TCP_RTO_MIN (HZ/5) in microseconds.
const rtoMinUs = 200_000

// jiffy is one tick of the modelled kernel.
const jiffy = timewait.Jiffy

// sentSeg is a segment that occupies sequence space and is not yet
// acknowledged.
type sentSeg struct {
	end     uint32
	at      time.Duration
	retrans bool
}

// rttEstimator is tcp_rtt_estimator's state (srtt_us, mdev_us,
// mdev_max_us, rttvar_us, rtt_seq) plus the unacknowledged segments it
// takes samples from.
type rttEstimator struct {
	flight                      []sentSeg
	srtt, mdev, mdevMax, rttvar uint32 // microseconds; srtt is scaled by 8
	rttSeq                      uint32
}

// sent notes a segment [seq, end) sent at now; sndNxt is SND.NXT before
// it. A segment below SND.NXT is a retransmission: what it covers gives no
// RTT sample (Karn).
func (e *rttEstimator) sent(seq, end, sndNxt uint32, now time.Duration) {
	if len(e.flight) > 0 && int32(seq-sndNxt) < 0 {
		for i := range e.flight {
			if int32(e.flight[i].end-seq) > 0 {
				e.flight[i].retrans = true
			}
		}
		return
	}
	e.flight = append(e.flight, sentSeg{end: end, at: now})
}

// acked takes the sample an ACK of ack gives at now, as tcp_clean_rtx_queue
// and tcp_ack_update_rtt do: the time since the oldest newly acknowledged
// segment was sent, unless one of them was retransmitted; then the echoed
// timestamp tsecr (already without the host's offset; 0 if none) against
// the timestamp clock msNow.
func (e *rttEstimator) acked(ack, sndNxt uint32, now time.Duration, tsecr, msNow uint32) {
	n, first, retrans := 0, time.Duration(-1), false
	for n < len(e.flight) && int32(e.flight[n].end-ack) <= 0 {
		if e.flight[n].retrans {
			retrans = true
		} else if first < 0 {
			first = e.flight[n].at
		}
		n++
	}
	if n == 0 {
		return
	}
	e.flight = e.flight[:copy(e.flight, e.flight[n:])]
	var m int64 = -1
	switch {
	case first >= 0 && !retrans:
		m = int64((now - first) / time.Microsecond)
	case tsecr != 0:
		m = max(int64(int32(msNow-tsecr)), 1) * 1000
	}
	if m >= 0 {
		e.sample(m, ack, sndNxt)
	}
}

// sample is tcp_rtt_estimator (net/ipv4/tcp_input.c) on one sample of m
// microseconds.
func (e *rttEstimator) sample(m int64, sndUna, sndNxt uint32) {
	m = max(m, 1)
	srtt := int64(e.srtt)
	if srtt != 0 {
		m -= srtt >> 3 // m is now the error in the estimate
		srtt += m      // rtt = 7/8 rtt + 1/8 new
		if m < 0 {
			m = -m
			m -= int64(e.mdev >> 2)
			if m > 0 {
				m >>= 3
			}
		} else {
			m -= int64(e.mdev >> 2)
		}
		e.mdev = uint32(int64(e.mdev) + m) // mdev = 3/4 mdev + 1/4 new
		if e.mdev > e.mdevMax {
			e.mdevMax = e.mdev
			if e.mdevMax > e.rttvar {
				e.rttvar = e.mdevMax
			}
		}
		if int32(sndUna-e.rttSeq) > 0 {
			if e.mdevMax < e.rttvar {
				e.rttvar -= (e.rttvar - e.mdevMax) >> 2
			}
			e.rttSeq = sndNxt
			e.mdevMax = rtoMinUs
		}
	} else {
		srtt = m << 3
		e.mdev = uint32(m << 1)
		e.rttvar = max(e.mdev, rtoMinUs)
		e.mdevMax = e.rttvar
		e.rttSeq = sndNxt
	}
	e.srtt = uint32(max(1, srtt))
}

// rto is icsk_rto in jiffies: __tcp_set_rto, srtt + rttvar rounded up to a
// jiffy (usecs_to_jiffies), at most TCP_RTO_MAX. A connection that got no
// sample during its handshake has TCP_TIMEOUT_FALLBACK, 3 s
// (tcp_init_metrics).
func (e *rttEstimator) rto() int64 {
	if e.srtt == 0 {
		return int64(3 * time.Second / jiffy)
	}
	us := int64(e.srtt>>3) + int64(e.rttvar)
	j := (us*int64(time.Microsecond) + int64(jiffy) - 1) / int64(jiffy)
	return min(j, int64(120*time.Second/jiffy))
}

// rto35 is tcp_time_wait's 3.5×RTO, (rto << 2) - (rto >> 1) in jiffies.
func (e *rttEstimator) rto35() time.Duration {
	j := e.rto()
	return time.Duration((j<<2)-(j>>1)) * jiffy
}
