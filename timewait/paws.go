package timewait

import (
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// PAWS (RFC 7323 section 5) and the rate limit on ACKs to out-of-window
// segments, as Linux applies them to a timewait socket and to a full socket
// alike (include/net/tcp.h, net/ipv4/tcp_input.c).

const (
	// PAWSMSL is TCP_PAWS_MSL in seconds: how long a cached timestamp
	// is trusted to reject an RST or a SYN.
	PAWSMSL = 60
	// PAWSWindow is TCP_PAWS_WINDOW: how far below ts_recent an
	// established connection still accepts a timestamp.
	PAWSWindow = 1
)

// PAWSWrap is how many seconds ts_recent is trusted for: TCP_PAWS_WRAP
// (INT_MAX / USEC_PER_SEC) since 6.7, TCP_PAWS_24DAYS before.
func PAWSWrap(k Kernel) int64 {
	if k == Linux49 {
		return 24 * 24 * 3600
	}
	return 2147
}

// PAWSCheck is tcp_paws_check: whether a segment with timestamp tsval
// passes against ts_recent taken at stamp (seconds of the monotonic clock)
// with a window of win at monotonic time now. A ts_recent too old to trust,
// or zero (some stacks send 0 in their SYN), lets everything pass.
func PAWSCheck(tsRecent uint32, stamp int64, tsval uint32, win int32, now time.Duration, k Kernel) bool {
	if int32(tsRecent-tsval) <= win {
		return true
	}
	if !timeBefore(seconds(now), stamp+PAWSWrap(k)) {
		return true
	}
	return tsRecent == 0
}

// PAWSReject is tcp_paws_reject, the check of a timewait socket and of a
// SYN-RECEIVED request: no window, and an RST passes once ts_recent is
// older than TCP_PAWS_MSL.
func PAWSReject(tsRecent uint32, stamp int64, tsval uint32, rst bool, now time.Duration, k Kernel) bool {
	if PAWSCheck(tsRecent, stamp, tsval, 0, now, k) {
		return false
	}
	return !rst || timeBefore(seconds(now), stamp+PAWSMSL)
}

// OOWRateLimited is tcp_oow_rate_limited: whether the ACK to out-of-window
// segment g must be withheld at monotonic time now, because the last such
// ACK (jiffies in *last, 0 for none) went less than limit ago
// (tcp_invalid_ratelimit, in whole jiffies rounded up). Data without SYN is
// never limited. When the ACK may go, *last becomes now.
func OOWRateLimited(g Segment, last *uint32, now time.Duration, limit time.Duration) bool {
	if g.Seq != g.End() && g.Flags&netem.SYN == 0 {
		return false
	}
	j := jiffies(now)
	if *last != 0 {
		if elapsed := int32(j - *last); elapsed >= 0 && elapsed < msecsToJiffies(limit) {
			return true
		}
	}
	*last = j
	return false
}

// Seconds is ktime_get_seconds() at monotonic time now: the clock of
// ts_recent_stamp.
func Seconds(now time.Duration) int64 { return seconds(now) }
