package sim

import (
	"encoding/binary"
	"net/netip"
)

// This file spares a gvisor-profile connect() the ports its search would
// only find taken. gVisor's PickEphemeralPort (ports.pickEphemeralPort,
// RFC 6056 algorithm 1) draws a random offset from the stack's secure RNG
// and tries the range from there, port after port, until ReservePort
// succeeds: a client whose range is nearly all held by connections to one
// destination (TIME-WAITs, most often) pays a reservation attempt (a few
// microseconds) for each held port, half the range on average.
//
// The host knows a subset of the held ports: those its own connect() calls
// picked toward that destination whose connection has not reached CLOSED
// (gVisor keeps an endpoint's reservation until it is cleaned up, which
// the observer sees as CLOSED before the next application call). When the
// search is about to draw its offset, the draw is read from the RNG as
// always and then moved forward past the ports of that subset (picked),
// so gVisor starts at the first port the host does not know to be taken.
// Every port it no longer tries would have failed: the same port comes
// out, the RNG stream goes on as it would have, nothing else is counted
// (a failed reservation in the search counts nothing). The subset only
// holds ports reserved without SO_REUSEADDR by a socket whose own search
// would conflict with them, and the shortcut is used only for a socket
// without SO_REUSEADDR and when no TIME-WAIT may be taken over
// (tcp_tw_reuse): the conditions under which gVisor's isAvailable refuses
// every one of them.

// skipPicked is off only in tests that compare a run with the shortcut to
// one without.
var skipPicked = true

// pickedAdd notes that r's connection, from local to remote, holds the
// port connect() picked. (The record learns its tuple when it is next
// observed, before it can reach CLOSED.)
func (h *Host) pickedAdd(r *epRec, local, remote netip.AddrPort) {
	h.picked.add(destOf(tuple{local, remote}), local.Port())
	r.picked = true
}

// pickedGone notes that r's connection reached CLOSED: its port may be
// free.
func (h *Host) pickedGone(r *epRec) {
	if r.picked {
		r.picked = false
		h.picked.remove(destOf(tuple{r.local, r.remote}), r.local.Port())
	}
}

// armPick makes the next 4-byte draw from the stack's secure RNG, which
// is PickEphemeralPort's offset, start past the ports the host knows are
// taken from local toward remote.
func (h *Host) armPick(local netip.Addr, remote netip.AddrPort) {
	if !skipPicked {
		return
	}
	set := h.picked[destOf(tuple{netip.AddrPortFrom(local, 0), remote})]
	if set == nil || set.n == 0 {
		return
	}
	first, count := uint32(h.opts.FirstPort), uint32(h.opts.LastPort)-uint32(h.opts.FirstPort)+1
	h.rng.next = func(p []byte) {
		if len(p) != 4 {
			return
		}
		start := binary.NativeEndian.Uint32(p) % count
		for i := uint32(0); i < count; {
			off := (start + i) % count
			port := first + off
			if set.bits != nil && port&63 == 0 && off+64 <= count && i+64 <= count && set.bits[port>>6] == ^uint64(0) {
				i += 64 // a word of taken ports
				continue
			}
			if !set.has(uint16(port)) {
				if i > 0 {
					binary.NativeEndian.PutUint32(p, off)
				}
				return
			}
			i++
		}
	}
}

// disarmPick drops an armed draw the call did not make.
func (h *Host) disarmPick() { h.rng.next = nil }
