package timewait

import "time"

// Reuse says how a new outgoing connection meets the timewait socket of
// its tuple.
type Reuse struct {
	// Bound is set when the new socket was bound to the port by bind()
	// (tcp_twsk_unique is then called with twp == NULL); clear when
	// connect() is searching the ephemeral range.
	Bound bool
	// Mode is net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 on for loopback only.
	Mode int
	// Loopback is set when either address of the tuple is a loopback one.
	Loopback bool
	// Delay is net.ipv4.tcp_tw_reuse_delay (6.18; 1 s by default).
	Delay time.Duration
}

// Reusable is tcp_twsk_unique (net/ipv4/tcp_ipv4.c): whether a new
// connection may take the tuple over at monotonic time now. It needs the
// old connection to have had timestamps (PAWS then guards the new one). A
// bound socket reuses at once; a connect() searching ports needs
// tcp_tw_reuse, and in 6.18 tcp_tw_reuse_delay past tw_entry_stamp (never
// for the FIN-WAIT-2 substate), in 4.9 more than a second past the last
// timestamp seen. The new connection then starts at ReuseISN and takes
// TSRecent as its ts_recent.
func (s *Sock) Reusable(now time.Duration, u Reuse, k Kernel) bool {
	if s.TSRecentStamp == 0 {
		return false
	}
	if u.Bound {
		return true
	}
	if !u.Allowed(k) {
		return false
	}
	if k == Linux49 {
		return seconds(now)-s.TSRecentStamp > 1
	}
	if s.Substate == FinWait2 {
		return false
	}
	thresh := s.EntryStamp + uint32(u.Delay/time.Millisecond)
	return int32(thresh-msClock(now)) < 0 // time_after32(now, thresh)
}

// Allowed reports whether tcp_tw_reuse lets a connect() of u's kind take
// any timewait socket over: a bound socket always may; a searching one
// needs tcp_tw_reuse=1, or 2 with a loopback address (4.9: any nonzero
// value).
func (u Reuse) Allowed(k Kernel) bool {
	switch {
	case u.Bound:
		return true
	case k == Linux49:
		return u.Mode != 0
	default:
		return u.Mode == 1 || (u.Mode == 2 && u.Loopback)
	}
}
