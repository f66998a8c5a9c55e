package sim

import "github.com/tcpsim/tcpsim/netem"

// This file shifts the sequence space of a linux-profile connection that
// took over a timewait socket's tuple. Linux starts such a connection at
// the timewait socket's SND.NXT + 65537 (tcp_twsk_unique for an outgoing
// one, TCP_TW_SYN for an incoming one) and its SYN echoes the timewait
// socket's ts_recent; gVisor picks its own ISN and echoes 0, and has no way
// to be told otherwise. So the host adds a constant to every sequence
// number the connection sends and takes it off every acknowledgment (and
// SACK block) it receives, as Linux's own nf_conntrack seqadj does for a
// NAT helper: the wire shows Linux's numbers, gVisor's endpoint stays
// consistent, and nothing else about the connection changes.

// seqAdj is one connection's shift.
type seqAdj struct {
	want  uint32 // Linux's ISN
	delta uint32 // added to the host's sequence numbers, once known
	known bool
	// ecr is the TSecr the SYN carries when setEcr.
	ecr    uint32
	setEcr bool
}

// adjustOut shifts a segment the host sends. Requires World.mu.
func (h *Host) adjustOut(t tuple, data []byte, hd *netem.Header) {
	a := h.pol.adj[t.key()]
	if a == nil {
		return
	}
	if !a.known {
		if hd.Flags&netem.SYN == 0 {
			return
		}
		a.delta, a.known = a.want-hd.Seq, true
	}
	hd.Seq += a.delta
	netem.SetSeqAck(data, hd.Seq, hd.Ack)
	if hd.Flags&(netem.SYN|netem.ACK) == netem.SYN && a.setEcr && hd.HasTS {
		hd.TS.Ecr = a.ecr
		netem.SetTimestamps(data, hd.TS.Val, a.ecr)
	}
}

// adjustIn takes the shift off the acknowledgments of a segment the host
// receives.
func (h *Host) adjustIn(t tuple, data []byte, hd *netem.Header) {
	a := h.pol.adj[t.key()]
	if a == nil || !a.known || hd.Flags&netem.ACK == 0 {
		return
	}
	hd.Ack -= a.delta
	netem.SetSeqAck(data, hd.Seq, hd.Ack)
	netem.ShiftSACK(data, -a.delta)
}
