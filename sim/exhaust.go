package sim

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// This file keeps a connect() made while the ephemeral ports toward a
// destination are all taken from searching the whole range again. Both
// searches (gVisor's PickEphemeralPort under the gvisor profile, pickPort
// under the linux profile) try every port before they fail, a cost that
// grows with the range (28,232 ports by default) and is paid by every
// connect of a client that has run out. Once a search failed, another
// from the same address to the same destination fails too until a port
// may have come free: until a connection of the host ended (a record
// reached CLOSED, a timewait socket went), a socket was closed or let go
// of, or a knob changed. Nothing else frees a port or a tuple, and the
// observer is up to date before every application call. A search that may
// take a TIME-WAIT tuple over (tcp_tw_reuse) depends on the time, so it is
// never skipped.

// exhaustion is a host's memory of the destinations a search failed for.
type exhaustion struct {
	// gen counts the moments a port may have come free; full holds, per
	// destination, gen when a search for it failed.
	gen  uint64
	full map[dest]uint64
}

// portsMayFree notes that a port or a tuple may have come free.
func (h *Host) portsMayFree() { h.exhausted.gen++ }

// searchFailed notes that the search from local to remote found no port.
func (h *Host) searchFailed(local netip.Addr, remote netip.AddrPort) {
	if h.exhausted.full == nil {
		h.exhausted.full = map[dest]uint64{}
	}
	h.exhausted.full[destOf(tuple{netip.AddrPortFrom(local, 0), remote})] = h.exhausted.gen
}

// skipKnownFull is off only in tests that compare a run with the shortcut
// to one without.
var skipKnownFull = true

// knownFull reports whether a search from local to remote failed and no
// port may have come free since.
func (h *Host) knownFull(local netip.Addr, remote netip.AddrPort) bool {
	if !skipKnownFull {
		return false
	}
	g, ok := h.exhausted.full[destOf(tuple{netip.AddrPortFrom(local, 0), remote})]
	return ok && g == h.exhausted.gen
}

// gvisorMayReuse reports whether gVisor's search would take a TIME-WAIT
// endpoint's port over for a connect from local to remote
// (registerEndpoint: TCPTimeWaitReuseGlobal, or LoopbackOnly between
// loopback addresses).
func (h *Host) gvisorMayReuse(local netip.Addr, remote netip.AddrPort) bool {
	switch h.reuseMode {
	case tcpip.TCPTimeWaitReuseGlobal:
		return true
	case tcpip.TCPTimeWaitReuseLoopbackOnly:
		return local.IsLoopback() && remote.Addr().IsLoopback()
	}
	return false
}

// failNoPort is what gVisor's Connect does when PickEphemeralPort finds
// no port, without the search: it draws the search's random offset from
// the stack's secure RNG (so every later draw is the one it would have
// been) and counts the failure where gVisor counts it (registerEndpoint,
// Connect). The endpoint's waiter notification is left out: the socket is
// let go of before anything could serve it.
func (h *Host) failNoPort() tcpip.Error {
	rng := h.stack.SecureRNG()
	_ = rng.Uint32()
	st := h.stack.Stats().TCP
	st.FailedPortReservations.Increment()
	st.FailedConnectionAttempts.Increment()
	return &tcpip.ErrNoPortAvailable{}
}
