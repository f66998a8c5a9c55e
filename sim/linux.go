package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"

	"github.com/tcpsim/tcpsim/netem"
)

// This file is the host policy layer: what a host does between the link and
// its gVisor stack so that it behaves as the Linux knobs say where gVisor
// differs (docs/knobs.md lists each rule with the kernel source it follows).
// tcp_timestamps=0 works under both profiles (it only edits the wire); the
// rest applies under the linux profile.

// Time constants of Linux's TCP (include/net/tcp.h).
const (
	pawsMSL  = 60 * time.Second    // TCP_PAWS_MSL: a cached timestamp's life
	pawsIdle = 24 * 24 * time.Hour // TCP_PAWS_24DAYS: ts_recent older than this is ignored
	pawsWin  = 1                   // TCP_PAWS_WINDOW
)

// lconn is what the policy knows of one connection (a tuple).
type lconn struct {
	sawTS      bool // the peer sent timestamps (so they were negotiated)
	tsRecent   uint32
	tsAt       time.Duration // when tsRecent was taken (ts_recent_stamp)
	rcvNxt     uint32        // the ack of the host's last segment: RCV.NXT
	haveRcvNxt bool
}

// peerTS is tcp_tw_recycle's per-peer cache entry (tcp_metrics tcpm_ts,
// tcpm_ts_stamp).
type peerTS struct {
	ts uint32
	at time.Duration
}

// policy is a host's policy-layer state. Its maps are only looked up.
type policy struct {
	conns map[tuple]*lconn
	peers map[netip.Addr]peerTS
}

// LogLine is a line of the host's kernel log.
type LogLine struct {
	At   time.Duration
	Text string
}

func (l LogLine) String() string {
	return fmt.Sprintf("[%5d.%06d] %s", l.At/time.Second, (l.At%time.Second)/time.Microsecond, l.Text)
}

func (h *Host) logf(format string, args ...any) {
	h.logs = append(h.logs, LogLine{At: h.w.Now(), Text: fmt.Sprintf(format, args...)})
}

// Log returns the host's kernel log lines.
func (h *Host) Log() []LogLine { return slices.Clone(h.logs) }

func (h *Host) conn(t tuple) *lconn {
	c := h.pol.conns[t]
	if c == nil {
		c = &lconn{}
		h.pol.conns[t] = c
	}
	return c
}

// outboundLocked edits and notes a packet the host sends. Requires World.mu.
func (h *Host) outboundLocked(data []byte) {
	if h.opts.Profile != Linux && h.knobs.timestamps {
		return // nothing to do: the common case costs no decode
	}
	hd, ok := netem.Decode(data)
	if !ok {
		return
	}
	if !h.knobs.timestamps && hd.HasTS {
		stripTS(data, &hd)
	}
	if h.opts.Profile != Linux {
		return
	}
	t := tuple{local: hd.Src, remote: hd.Dst}
	if hd.Flags&netem.SYN != 0 && hd.Flags&netem.ACK == 0 {
		h.pol.conns[t] = &lconn{} // a new connection on this tuple
	}
	if hd.Flags&netem.ACK != 0 {
		c := h.conn(t)
		c.rcvNxt, c.haveRcvNxt = hd.Ack, true
	}
}

// inbound applies the policy to a packet arriving at the host. It returns
// why the packet is discarded, or "" to deliver it (possibly edited).
func (h *Host) inbound(data []byte) string {
	if h.opts.Profile != Linux && h.knobs.timestamps {
		return ""
	}
	hd, ok := netem.Decode(data)
	if !ok {
		return ""
	}
	if !h.knobs.timestamps && hd.HasTS {
		stripTS(data, &hd)
	}
	if h.opts.Profile != Linux {
		return ""
	}
	now := h.w.Now()
	t := tuple{local: hd.Dst, remote: hd.Src}
	syn := hd.Flags&netem.SYN != 0 && hd.Flags&netem.ACK == 0
	tw := h.obs.twByTuple[t]
	if tw != nil && tw.state != TimeWait {
		tw = nil
	}

	if syn {
		if tw == nil && h.knobs.twRecycle && h.listening(hd.Dst.Port()) {
			// tcp_conn_request (Linux < 4.12): a SYN from a peer whose
			// timestamp was cached less than TCP_PAWS_MSL ago is
			// dropped when it carries no timestamp or one older than
			// the cache by more than TCP_PAWS_WINDOW
			// (tcp_peer_is_proven in net/ipv4/tcp_metrics.c).
			if p, ok := h.pol.peers[hd.Src.Addr()]; ok && now-p.at < pawsMSL &&
				(!hd.HasTS || int32(p.ts-hd.TS.Val) > pawsWin) {
				h.count(cPAWSPassive)
				h.count(cListenDrops)
				if !hd.HasTS {
					return fmt.Sprintf("linux tcp_tw_recycle: SYN without a timestamp from %v, cached %s ago", hd.Src.Addr(), fmtAge(now-p.at))
				}
				return fmt.Sprintf("linux tcp_tw_recycle: SYN TSval %d older than %v's cached %d (PAWSPassive)", hd.TS.Val, hd.Src.Addr(), p.ts)
			}
		}
		if tw == nil {
			c := &lconn{}
			if hd.HasTS {
				c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
			}
			h.pol.conns[t] = c
		}
		return ""
	}

	c := h.pol.conns[t]
	if c == nil {
		return ""
	}
	if hd.Flags&netem.RST != 0 {
		// tcp_timewait_state_process: with tcp_rfc1337=0 an RST at
		// RCV.NXT kills the TIME-WAIT socket, silently.
		if tw != nil && !h.knobs.rfc1337 && c.haveRcvNxt && hd.Seq == c.rcvNxt {
			h.destroy(tw, "linux tcp_rfc1337=0: RST killed TIME-WAIT")
			return "linux tcp_rfc1337=0: killed TIME-WAIT"
		}
		return "" // RST passes PAWS (tcp_validate_incoming)
	}
	if !hd.HasTS {
		return ""
	}
	if hd.Flags&netem.SYN != 0 {
		// The SYN-ACK: the peer's first timestamp.
		c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
		return ""
	}
	// PAWS (RFC 7323 section 5; tcp_paws_discard in tcp_input.c, and in
	// TIME-WAIT tcp_timewait_state_process).
	if c.sawTS && int32(hd.TS.Val-c.tsRecent) < 0 && now-c.tsAt < pawsIdle {
		h.count(cPAWSEstab)
		return fmt.Sprintf("linux PAWS: TSval %d older than ts_recent %d", hd.TS.Val, c.tsRecent)
	}
	if !c.sawTS || int32(hd.TS.Val-c.tsRecent) >= 0 {
		c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
	}
	return ""
}

func fmtAge(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// listening reports whether the host has a listener on port.
func (h *Host) listening(port uint16) bool {
	for _, r := range h.obs.active {
		if r.state == Listen && r.local.Port() == port {
			return true
		}
	}
	return false
}

// onTimeWait runs when one of the host's endpoints entered TIME-WAIT.
func (h *Host) onTimeWait(r *epRec) {
	if h.opts.Profile != Linux {
		return
	}
	// tcp_time_wait (net/ipv4/tcp_minisocks.c): no TIME-WAIT bucket past
	// tcp_max_tw_buckets; the socket is destroyed without a word on the
	// wire.
	if h.StateCount(TimeWait) > h.knobs.maxTWBuckets {
		h.count(cTimeWaitOverflow)
		h.logf("TCP: time wait bucket table overflow")
		h.destroy(r, "linux tcp_max_tw_buckets: time wait bucket table overflow")
		return
	}
	c := h.pol.conns[tuple{r.local, r.remote}]
	if !h.knobs.twRecycle || c == nil || !c.sawTS {
		return
	}
	// tcp_remember_stamp: cache the peer's latest timestamp by address,
	// and cut TIME-WAIT to 3.5×RTO.
	ip := r.remote.Addr()
	if p, ok := h.pol.peers[ip]; !ok || int32(p.ts-c.tsRecent) <= 0 {
		h.pol.peers[ip] = peerTS{ts: c.tsRecent, at: c.tsAt}
	}
	var info tcpip.TCPInfoOption
	rto := 200 * time.Millisecond
	if err := r.ep.GetSockOpt(&info); err == nil && info.RTO > 0 {
		rto = info.RTO
	}
	short := rto*4 - rto/2
	h.w.After(short, func() {
		if r.state == TimeWait {
			h.count(cTWKilled)
			h.destroy(r, fmt.Sprintf("linux tcp_tw_recycle: TIME-WAIT cut to 3.5×RTO = %v", short))
		}
	})
}

// destroy ends an endpoint without anything on the wire: gVisor's Abort
// sends RST|ACK, which the host swallows.
func (h *Host) destroy(r *epRec, cause string) {
	h.w.mu.Lock()
	h.silent = true
	h.w.mu.Unlock()
	r.ep.Abort()
	h.w.mu.Lock()
	h.silent = false
	h.w.mu.Unlock()
	r.cause = cause
	h.obs.poll(r, h.w.Now())
}

// reuseModeFor picks gVisor's reuse mode for a connect to remote under the
// linux profile: tcp_tw_reuse=1 reuses a TIME-WAIT tuple only if the old
// connection had timestamps (tcp_twsk_unique in net/ipv4/tcp_ipv4.c);
// gVisor's Global mode then applies the same one-second rule. If any
// TIME-WAIT connection to remote lacks timestamps, no reuse is allowed for
// this connect (gVisor cannot choose per endpoint).
func (h *Host) reuseModeFor(remote netip.AddrPort) tcpip.TCPTimeWaitReuseOption {
	if h.opts.Profile != Linux || h.knobs.twReuse != 1 {
		return h.defaultReuseMode()
	}
	for t, r := range h.obs.twByTuple { // order does not matter: a conjunction
		if t.remote != remote || r.state != TimeWait {
			continue
		}
		if c := h.pol.conns[t]; c == nil || !c.sawTS || !h.knobs.timestamps {
			return tcpip.TCPTimeWaitReuseDisabled
		}
	}
	return tcpip.TCPTimeWaitReuseGlobal
}

// stripTS rewrites the timestamp option to NOPs and fixes the checksum, as
// a host with tcp_timestamps=0 (or a middlebox clearing them) leaves it.
func stripTS(data []byte, hd *netem.Header) {
	netem.StripTimestamps(data)
	hd.HasTS = false
}

// counter numbers the counters the host keeps itself.
type counter int

const (
	cTW counter = iota
	cTWRecycled
	cTWKilled
	cTimeWaitOverflow
	cPAWSPassive
	cPAWSEstab
	cListenDrops
	cAbortOnData
	cAbortOnClose
	numCounters
)

var counterNames = [numCounters]string{
	"TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled", "TcpExtTCPTimeWaitOverflow",
	"TcpExtPAWSPassive", "TcpExtPAWSEstab", "TcpExtListenDrops", "TcpExtTCPAbortOnData",
	"TcpExtTCPAbortOnClose",
}

func (h *Host) count(c counter) { h.counters[c]++ }

// Counter is one of a host's counters, named as Linux's nstat names it.
type Counter struct {
	Name  string
	Value uint64
}

// Counters returns the host's counters with nstat's names: the Tcp* ones
// from gVisor's statistics, the TcpExt* ones counted by tcpsim (the linux
// profile's rules, TIME-WAIT endings, aborts), sorted by name.
func (h *Host) Counters() []Counter {
	s := h.stack.Stats().TCP
	out := []Counter{
		{"TcpActiveOpens", s.ActiveConnectionOpenings.Value()},
		{"TcpPassiveOpens", s.PassiveConnectionOpenings.Value()},
		{"TcpEstabResets", s.EstablishedResets.Value()},
		{"TcpCurrEstab", s.CurrentEstablished.Value()},
		{"TcpInSegs", s.ValidSegmentsReceived.Value()},
		{"TcpOutSegs", s.SegmentsSent.Value() - h.swallowed},
		{"TcpRetransSegs", s.Retransmits.Value()},
		{"TcpOutRsts", s.ResetsSent.Value() - h.swallowedRST},
	}
	for i, n := range counterNames {
		out = append(out, Counter{n, h.counters[i]})
	}
	slices.SortFunc(out, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CounterValue returns one counter by its nstat name.
func (h *Host) CounterValue(name string) (uint64, bool) {
	for _, c := range h.Counters() {
		if c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}
