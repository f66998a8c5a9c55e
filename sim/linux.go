package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// This file is the host policy layer: what a host does between the link and
// its gVisor stack so that it behaves as Linux does where gVisor differs
// (docs/knobs.md lists each rule with the kernel source it follows).
// tcp_timestamps=0 works under both profiles (it only edits the wire); the
// rest applies under the linux profile. Linux's timewait sockets are in
// timewait.go, its choice of ports in ports.go, its RTO in rto.go and the
// sequence-number shift of a connection that took over a timewait tuple in
// seqadj.go.

// lconn is what the linux profile knows of one live connection (a tuple),
// from the segments the host sent and received.
type lconn struct {
	// The peer's timestamps: ts_recent and when it was taken.
	sawTS    bool
	tsRecent uint32
	tsAt     time.Duration
	// What the host's own last segments said: RCV.NXT (the ack of its last
	// ACK), SND.NXT (the end of the highest segment it sent), its last
	// window in bytes, and its timestamp clock's offset (TSval - ms clock).
	rcvNxt     uint32
	haveRcvNxt bool
	sndNxt     uint32
	sndUna     uint32
	rcvWnd     uint32
	tsOff      uint32
	haveTSOff  bool
	// Window scales offered in the SYNs, -1 if none.
	ourWS, peerWS int8
	// The host's SYN (or SYN-ACK) sequence number, to recognise its
	// retransmissions.
	synSeq  uint32
	synSent bool
	// finSent is set once the host sent its FIN.
	finSent bool
	rtt     rttEstimator
	// The peer's window as the host last took it: SND.WL1 (the sequence
	// number of the segment it came in) and SND.WND, scaled.
	sndWl1, sndWnd uint32
	haveWl1        bool
	// lastOOWAck is last_oow_ack_time, for the duplicate ACKs to
	// segments that fail PAWS.
	lastOOWAck uint32
	// delack is the delayed ACK of the peer's FIN (delack.go).
	delack delack
}

func newLconn() *lconn { return &lconn{ourWS: -1, peerWS: -1} }

// peerTS is tcp_tw_recycle's per-peer cache entry (tcp_metrics tcpm_ts,
// tcpm_ts_stamp).
type peerTS struct {
	ts uint32
	at time.Duration
}

// policy is a host's policy-layer state. Its maps are only looked up.
type policy struct {
	conns map[tkey]*lconn
	peers map[netip.Addr]peerTS
	adj   map[tkey]*seqAdj
}

// LogLine is a line of the host's kernel log.
type LogLine struct {
	At   time.Duration
	Text string
}

func (l LogLine) String() string {
	return fmt.Sprintf("[%5d.%06d] %s", l.At/time.Second, (l.At%time.Second)/time.Microsecond, l.Text)
}

// Log returns the host's kernel log lines. Neither Linux 6.18 nor 4.9
// logs anything tcpsim models (the "TCP: time wait bucket table overflow"
// line of the articles went in 2.6.38, "tcp: Replace time wait bucket msg
// by counter"), so it is empty for now.
func (h *Host) Log() []LogLine { return slices.Clone(h.logs) }

// mono is the host's monotonic clock: what Linux's clocks (jiffies,
// tcp_clock_ms, ktime_get_seconds) and gVisor's timestamps count from.
func (h *Host) mono() time.Duration { return uptime + h.ln.Now() }

// jiffyStart is the start of the current jiffy, as virtual time: what the
// kernel's jiffies say the time is.
func (h *Host) jiffyStart() time.Duration {
	return (h.mono()/timewait.Jiffy)*timewait.Jiffy - uptime
}

// monoSeconds is ktime_get_seconds() at virtual time at.
func monoSeconds(at time.Duration) int64 { return timewait.Seconds(uptime + at) }

// msClock is the host's timestamp clock now (tcp_clock_ms; gVisor's TSval
// without its offset).
func (h *Host) msClock() uint32 { return uint32(h.mono() / time.Millisecond) }

// outboundLocked edits and notes a packet the host sends; held says the
// host keeps it for now (a delayed ACK). Requires the lane's mu.
func (h *Host) outboundLocked(data []byte) (held bool) {
	if h.opts.Profile != Linux && h.knobs.timestamps {
		return false // nothing to do: the common case costs no decode
	}
	hd, ok := netem.Decode(data)
	if !ok {
		return false
	}
	if !h.knobs.timestamps && hd.HasTS {
		stripTS(data, &hd)
	}
	if h.opts.Profile != Linux {
		return false
	}
	t := tuple{local: hd.Src, remote: hd.Dst}
	if len(h.pol.adj) > 0 {
		h.adjustOut(t, data, &hd)
	}
	syn := hd.Flags&netem.SYN != 0
	if syn && hd.Flags&netem.ACK == 0 && h.pol.conns[t.key()] == nil {
		h.pol.conns[t.key()] = newLconn() // a new connection on this tuple
	}
	c := h.pol.conns[t.key()]
	if c == nil {
		return false
	}
	if h.delackOut(c, data, hd) {
		return true
	}
	now := h.ln.Now()
	if syn {
		if c.synSent && hd.Seq == c.synSeq && hd.HasTS && c.haveTSOff {
			// Linux stamps every (re)transmission of its SYN and SYN-ACK
			// afresh (tcp_syn_options, tcp_make_synack); gVisor repeats
			// the first TSval.
			hd.TS.Val = h.msClock() + c.tsOff
			netem.SetTimestamps(data, hd.TS.Val, hd.TS.Ecr)
		}
		if !c.synSent {
			c.synSeq, c.synSent = hd.Seq, true
			c.sndUna, c.sndNxt = hd.Seq, hd.Seq
		}
		c.ourWS = hd.WScale
	}
	if hd.HasTS {
		c.tsOff, c.haveTSOff = hd.TS.Val-h.msClock(), true
		if !syn && c.sawTS && hd.TS.Ecr != c.tsRecent {
			// Every segment echoes ts_recent (tcp_established_options);
			// gVisor takes a segment's TSval only after it answered it.
			hd.TS.Ecr = c.tsRecent
			netem.SetTimestamps(data, hd.TS.Val, hd.TS.Ecr)
		}
	}
	if hd.Flags&netem.ACK != 0 {
		c.rcvNxt, c.haveRcvNxt = hd.Ack, true
	}
	c.rcvWnd = c.nwinOut(hd)
	if hd.Flags&netem.FIN != 0 {
		c.finSent = true
	}
	if end := timewait.SegmentOf(hd).End(); end != hd.Seq && c.synSent {
		c.rtt.sent(hd.Seq, end, c.sndNxt, now)
		if int32(end-c.sndNxt) > 0 {
			c.sndNxt = end
		}
	}
	return false
}

// verdict is what the policy layer decided about an arriving packet.
type verdict struct {
	// discard says why the packet is thrown away before the stack sees
	// it ("" to deliver it).
	discard string
	// handled says what the host's timewait socket did with it, and
	// consumed that the stack does not see it.
	handled  string
	consumed bool
	// counted says tcp_v4_rcv counts the segment in TCP_MIB_INSEGS
	// before it looks a socket up: the host counts it itself when the
	// stack takes it into no endpoint (gVisor counts only what an
	// endpoint takes). World.deliver tells which.
	counted bool
}

// editsInbound reports whether inbound may edit packets arriving at the
// host.
func (h *Host) editsInbound() bool { return h.opts.Profile == Linux || !h.knobs.timestamps }

// inbound applies the policy to a packet arriving at the host: it may edit
// it, discard it, or hand it to the tuple's timewait socket.
func (h *Host) inbound(data []byte) verdict {
	if h.opts.Profile != Linux && h.knobs.timestamps {
		return verdict{}
	}
	hd, ok := netem.Decode(data)
	if !ok {
		return verdict{}
	}
	if !h.knobs.timestamps && hd.HasTS {
		stripTS(data, &hd)
	}
	if h.opts.Profile != Linux {
		return verdict{}
	}
	if !netem.ChecksumsOK(data) {
		// tcp_v4_rcv verifies the checksum (skb_checksum_init) before it
		// looks a socket up: a corrupted segment reaches no policy, no
		// timewait socket; gVisor's own check drops it. It has counted
		// TCP_MIB_INSEGS already ("Count it even if it's bad"); gVisor
		// counts no segment that fails its check. (A packet whose IPv4
		// header is bad never reaches tcp_v4_rcv: ip_rcv drops it.)
		if netem.IPv4HeaderOK(data) {
			h.ownIn++
		}
		return verdict{}
	}
	t := tuple{local: hd.Dst, remote: hd.Src}
	var v verdict
	if r := h.obs.twByTuple[t.key()]; r != nil && r.tw != nil {
		if v = h.twReceive(r, data, hd); v.consumed {
			return v
		}
	}
	v = h.connIn(t, data, hd, v)
	v.counted = true
	return v
}

// connIn is inbound's turn on a segment past the checksum and the
// timewait socket: the per-connection state Linux keeps (timestamps,
// PAWS, windows, FIN), which may edit or discard it.
func (h *Host) connIn(t tuple, data []byte, hd netem.Header, v verdict) verdict {
	// The host notes what it sent in the numbers on the wire (after
	// adjustOut), so the ACK it reads is the one on the wire too, taken
	// before adjustIn shifts it into gVisor's numbers.
	wireAck := hd.Ack
	if len(h.pol.adj) > 0 {
		h.adjustIn(t, data, &hd)
	}
	now := h.ln.Now()
	if hd.Flags&netem.SYN != 0 && hd.Flags&netem.ACK == 0 {
		// A SYN a timewait socket let through carries its ISN and skips
		// tcp_tw_recycle's check (tcp_conn_request checks only when isn
		// is 0).
		if v.handled == "" {
			if why := h.recycleDrop(hd, now); why != "" {
				h.ownIn++ // tcp_v4_rcv counted it
				return verdict{discard: why}
			}
		}
		if old := h.pol.conns[t.key()]; old == nil || !h.hasEndpoint(t) {
			c := newLconn()
			if hd.HasTS {
				c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
			}
			c.peerWS = hd.WScale
			h.pol.conns[t.key()] = c
			return v
		}
		// A SYN on a live connection: checked as any segment of it.
	}
	c := h.pol.conns[t.key()]
	if c == nil {
		return verdict{}
	}
	if hd.Flags&(netem.SYN|netem.ACK) == netem.SYN|netem.ACK {
		c.peerWS = hd.WScale
	}
	if hd.Flags&netem.RST == 0 && hd.HasTS {
		switch {
		case hd.Flags&(netem.SYN|netem.ACK) == netem.SYN|netem.ACK && !c.sawTS:
			// The SYN-ACK: the peer's first timestamp.
			c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
		case c.sawTS && !timewait.PAWSCheck(c.tsRecent, c.stamp(), hd.TS.Val, timewait.PAWSWindow, h.mono(), h.opts.Kernel):
			if v, discard := h.pawsFailed(t, c, hd, wireAck); discard {
				return v
			}
		case !c.sawTS || (int32(hd.TS.Val-c.tsRecent) >= 0 && (!c.haveRcvNxt || int32(hd.Seq-c.rcvNxt) <= 0)):
			// tcp_replace_ts_recent: a segment that starts at or before
			// RCV.WUP (the ACK of the host's last segment) and is not
			// older than ts_recent.
			c.sawTS, c.tsRecent, c.tsAt = true, hd.TS.Val, now
		}
	}
	if c.finSent && hd.Flags&(netem.SYN|netem.RST|netem.FIN) == 0 && hd.PayloadLen == 0 && c.haveRcvNxt {
		// A zero-length segment past RCV.NXT but in the window is
		// acceptable to Linux in the closing states (tcp_sequence), its
		// ACK is processed, and only data there resets
		// (tcp_rcv_state_process). gVisor resets it in FIN-WAIT-1 and
		// FIN-WAIT-2 and drops it whole in CLOSING and LAST-ACK
		// (handleRcvdSegmentClosing), so the host hands it over at
		// RCV.NXT, which changes nothing else about a segment without
		// data.
		if d := hd.Seq - c.rcvNxt; int32(d) > 0 && d < c.rcvWnd {
			hd.Seq = c.rcvNxt
			netem.SetSeqAck(data, hd.Seq, hd.Ack)
		}
	}
	if hd.Flags&(netem.SYN|netem.RST) == 0 {
		if hd.PayloadLen > 0 && c.haveRcvNxt && int32(hd.Seq-c.rcvNxt) <= 0 {
			c.delack.dataReceived(hd.PayloadLen, int64(h.mono()/jiffy), c.rtt.rto())
		}
		if hd.Flags&netem.FIN != 0 {
			h.finReceived(t, c, hd)
		}
	}
	if hd.Flags&netem.ACK != 0 && hd.Flags&netem.RST == 0 {
		c.noteWindow(hd, wireAck)
		if c.synSent && int32(wireAck-c.sndUna) > 0 {
			c.sndUna = wireAck
			var tsecr uint32
			if hd.HasTS && c.haveTSOff {
				tsecr = hd.TS.Ecr - c.tsOff
			}
			c.rtt.acked(wireAck, c.sndNxt, now, tsecr, h.msClock())
		}
	}
	return verdict{}
}

// recycleDrop is tcp_tw_recycle's check of a SYN to a listener (Linux
// before 4.12, tcp_conn_request): a SYN from a peer whose timestamp was
// cached less than TCP_PAWS_MSL ago is dropped silently when it carries no
// timestamp or one older than the cache by more than TCP_PAWS_WINDOW
// (tcp_peer_is_proven in net/ipv4/tcp_metrics.c).
func (h *Host) recycleDrop(hd netem.Header, now time.Duration) string {
	if !h.knobs.twRecycle || !h.listening(hd.Dst) {
		return ""
	}
	p, ok := h.pol.peers[hd.Src.Addr()]
	if !ok || now-p.at >= timewait.PAWSMSL*time.Second || (hd.HasTS && int32(p.ts-hd.TS.Val) <= timewait.PAWSWindow) {
		return ""
	}
	h.count(cPAWSPassive)
	h.count(cListenDrops)
	if !hd.HasTS {
		return fmt.Sprintf("linux tcp_tw_recycle: SYN without a timestamp from %v, cached %s ago", hd.Src.Addr(), fmtAge(now-p.at))
	}
	return fmt.Sprintf("linux tcp_tw_recycle: SYN TSval %d older than %v's cached %d (PAWSPassive)", hd.TS.Val, hd.Src.Addr(), p.ts)
}

func fmtAge(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

// listening reports whether the host has a listener on local, as the
// demuxer would find it for a SYN.
func (h *Host) listening(local netip.AddrPort) bool {
	id := stack.TransportEndpointID{LocalPort: local.Port(), LocalAddress: tcpip.AddrFrom4(local.Addr().As4())}
	ep, ok := h.stack.FindTransportEndpoint(ipv4.ProtocolNumber, tcp.ProtocolNumber, id, 0).(*tcp.Endpoint)
	return ok && ep.EndpointState() == tcp.StateListen
}

// destroy ends an endpoint without anything on the wire: gVisor's Abort
// sends RST|ACK, which the host swallows.
func (h *Host) destroy(r *epRec, cause string) {
	h.abortSilently(r.ep)
	r.cause = cause
	h.obs.poll(r, h.ln.Now())
	h.obs.mark(r) // to leave the active records at the next observation
}

// abortSilently aborts a gVisor endpoint and swallows what it sends.
func (h *Host) abortSilently(ep *tcp.Endpoint) {
	h.ln.mu.Lock()
	h.silent = true
	h.ln.mu.Unlock()
	ep.Abort()
	h.ln.mu.Lock()
	h.silent = false
	h.ln.mu.Unlock()
}

// stripTS rewrites the timestamp option to NOPs and fixes the checksum, as
// a host with tcp_timestamps=0 (or a middlebox clearing them) leaves it.
func stripTS(data []byte, hd *netem.Header) {
	netem.StripTimestamps(data)
	hd.HasTS = false
}
