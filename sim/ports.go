package sim

import (
	"encoding/binary"
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tcpsim/tcpsim/timewait"
)

// This file is how a linux-profile host chooses and checks local ports,
// as Linux does and with its timewait sockets in view (gVisor's own port
// manager does not know them): the ephemeral port search of connect()
// (__inet_hash_connect in net/ipv4/inet_hashtables.c), the check of a
// 4-tuple against established and timewait sockets (__inet_check_established
// and tcp_twsk_unique), and bind()'s conflict with timewait sockets
// (inet_csk_bind_conflict). Having chosen, the host has gVisor connect from
// exactly that port.

// portUse is what the host's sockets hold of one local address and port:
// Linux's bind bucket, reduced to what its decisions read.
type portUse struct {
	// bound counts owners that bind() put there (listeners, the
	// connections they accepted, bound connects, and the timewait
	// sockets of those): the bucket's fastreuse >= 0, so connect()'s
	// search skips the port.
	bound int32
	// tw counts timewait sockets on the port, twNoReuse those of them
	// whose socket did not set SO_REUSEADDR.
	tw, twNoReuse int32
}

func portKey(a netip.AddrPort) uint64 {
	if !a.Addr().Is4() {
		return 0 // no address: a listener's remote
	}
	ip := a.Addr().As4()
	return uint64(binary.BigEndian.Uint32(ip[:]))<<16 | uint64(a.Port())
}

// portAdd changes the counts of a local port by (bound, tw, twNoReuse).
func (h *Host) portAdd(key uint64, bound, tw, twNoReuse int32) {
	u := h.ports[key]
	was := u.bound > 0
	u.bound, u.tw, u.twNoReuse = u.bound+bound, u.tw+tw, u.twNoReuse+twNoReuse
	if now := u.bound > 0; now != was {
		// Linux's bind bucket is per port, whatever the address
		// (inet_bind_bucket_match): a port bind() holds on one address
		// is skipped by connect()'s search from every address.
		port := uint16(key)
		if now {
			h.boundAddrs[port]++
			h.boundPorts.add(port)
		} else if h.boundAddrs[port]--; h.boundAddrs[port] == 0 {
			delete(h.boundAddrs, port)
			h.boundPorts.remove(port)
		}
	}
	if u == (portUse{}) {
		delete(h.ports, key)
		return
	}
	h.ports[key] = u
}

// dest keys the ports a local address uses towards one remote address and
// port: Host.twPorts.
type dest struct {
	local  uint32
	remote uint64
}

func destOf(t tuple) dest {
	return dest{uint32(portKey(t.local) >> 16), portKey(t.remote)}
}

// portBind notes that r holds local by bind().
func (h *Host) portBind(r *epRec, local netip.AddrPort, reuseAddr bool) {
	if h.opts.Profile != Linux || r == nil {
		return
	}
	r.port, r.bound, r.reuseAddr = portKey(local), true, reuseAddr
	h.portAdd(r.port, 1, 0, 0)
}

// portTW notes that r's timewait socket came (delta 1) or went (-1). The
// timewait socket of a connection whose port connect() picked goes in the
// set of its destination that pickPort steps over; one whose port was bound
// needs not, as the search skips bound ports.
func (h *Host) portTW(r *epRec, delta int32) {
	if delta < 0 {
		h.portsMayFree()
	}
	noReuse := delta
	if r.reuseAddr {
		noReuse = 0
	}
	h.portAdd(portKey(r.local), 0, delta, noReuse)
	if r.bound {
		return
	}
	if d := destOf(tuple{r.local, r.remote}); delta > 0 {
		h.twPorts.add(d, r.local.Port())
	} else {
		h.twPorts.remove(d, r.local.Port())
	}
}

// portRelease lets go of the port r held by bind().
func (h *Host) portRelease(r *epRec) {
	if r.port == 0 || !r.bound {
		return
	}
	h.portsMayFree()
	h.portAdd(r.port, -1, 0, 0)
	r.port, r.bound = 0, false
}

// bindTimeWaitErr is bind()'s EADDRINUSE for a conflict with a timewait
// socket on local: there is one unless the new socket and every timewait
// socket there set SO_REUSEADDR (inet_csk_bind_conflict; a timewait socket
// is never listening). Conflicts with live sockets are gVisor's to find.
func (h *Host) bindTimeWaitErr(local netip.AddrPort, reuseAddr bool) error {
	if h.opts.Profile != Linux {
		return nil
	}
	if u := h.ports[portKey(local)]; u.tw == 0 || (reuseAddr && u.twNoReuse == 0) {
		return nil
	}
	return &OpError{Op: "bind", Host: h.name, Addr: local.String(), Errno: "EADDRINUSE", Err: stackError{&tcpip.ErrPortInUse{}}}
}

// reuse says how a connect meets a timewait socket on its tuple.
func (h *Host) reuse(t tuple, bound bool) timewait.Reuse {
	return timewait.Reuse{Bound: bound, Mode: h.knobs.twReuse, Delay: h.knobs.twReuseDelay,
		Loopback: t.local.Addr().IsLoopback() || t.remote.Addr().IsLoopback()}
}

// tupleFree says whether a connect may use t: ok with no socket on it, or
// with a timewait socket tcp_twsk_unique lets go (returned as tw).
func (h *Host) tupleFree(t tuple, bound bool) (ok bool, tw *epRec) {
	if r := h.obs.twByTuple[t.key()]; r != nil && r.tw != nil {
		if r.tw.Reusable(h.mono(), h.reuse(t, bound), h.opts.Kernel) {
			return true, r
		}
		return false, nil
	}
	return !h.hasEndpoint(t), nil
}

// perturbShift is INET_TABLE_PERTURB_SHIFT: table_perturb has 2^16 slots.
const perturbShift = 16

// pickPort is __inet_hash_connect's search for connect() from local to
// remote: from an offset hashed from the addresses plus a perturbation,
// every other port of the range, then the other parity. The perturbation is
// 6.18's table_perturb entry for the destination, advanced past the port
// found and by a little randomness; 4.9's was one static hint for all
// destinations, advanced past the port found.
// A port some socket bound by bind() is skipped; a port whose 4-tuple has a
// socket is skipped unless it is a timewait socket tcp_twsk_unique lets
// go. It returns the port, and the timewait socket to take over if any.
//
// The hash is tcpsim's (seeded), not the kernel's secret siphash, so the
// numbers differ from a real kernel's; the order they follow is Linux's.
func (h *Host) pickPort(local netip.Addr, remote netip.AddrPort) (uint16, *epRec, bool) {
	low, high := uint32(h.opts.FirstPort), uint32(h.opts.LastPort)+1
	remaining := high - low
	if remaining > 1 {
		remaining &^= 1
	}
	off := h.portOffset(local, remote)
	index := uint32(off & (1<<perturbShift - 1))
	old := h.opts.Kernel == timewait.Linux49
	var offset uint32
	if old {
		offset = (h.hint + uint32(off>>32)) % remaining // one static hint
	} else {
		offset = (h.perturbAt(index) + uint32(off>>32)) % remaining
	}
	offset &^= 1
	// Ports held by bind() and ports whose tuple to remote is in
	// TIME-WAIT are looked up in sets, not maps: when most of the range
	// is in TIME-WAIT each search steps over thousands of them.
	t := tuple{netip.AddrPortFrom(local, 0), remote}
	inTW := h.twPorts[destOf(t)]
	mayReuse := h.reuse(t, false).Allowed(h.opts.Kernel)
	for {
		port := low + offset
		for i := uint32(0); i < remaining; i, port = i+2, port+2 {
			if port >= high {
				port -= remaining
			}
			if h.boundPorts.has(uint16(port)) {
				continue
			}
			t.local = netip.AddrPortFrom(local, uint16(port))
			var tw *epRec
			if inTW.has(uint16(port)) {
				if !mayReuse {
					continue
				}
				var ok bool
				if ok, tw = h.tupleFree(t, false); !ok {
					continue
				}
			} else if h.hasEndpoint(t) {
				continue
			}
			if old {
				h.hint += i + 2
				return uint16(port), tw, true
			}
			// A little randomness for the next search to this
			// destination: max(i, random(8) * 2) + 2.
			i = max(i, uint32(h.portRNG.IntN(8))*2)
			h.perturb[index] = h.perturbAt(index) + i + 2
			return uint16(port), tw, true
		}
		offset++
		if offset&1 == 0 || remaining <= 1 {
			return 0, nil, false
		}
	}
}

// portOffset stands for inet_sk_port_offset (a keyed hash of the source
// and destination addresses and the destination port).
func (h *Host) portOffset(local netip.Addr, remote netip.AddrPort) uint64 {
	l, r := local.As4(), remote.Addr().As4()
	x := h.portSeed ^ uint64(binary.BigEndian.Uint32(l[:]))<<32 ^ uint64(binary.BigEndian.Uint32(r[:]))
	return splitmix(splitmix(x) ^ uint64(remote.Port()))
}

// perturbAt is table_perturb[index], filled with random values on first
// use as get_random_sleepable_once does (here from the seed, lazily).
func (h *Host) perturbAt(index uint32) uint32 {
	if v, ok := h.perturb[index]; ok {
		return v
	}
	return uint32(splitmix(h.portSeed ^ uint64(index)<<1 ^ 1))
}

// hasEndpoint reports whether gVisor has an endpoint on exactly the tuple t
// (not a listener that would take it).
func (h *Host) hasEndpoint(t tuple) bool {
	ep, ok := h.stack.FindTransportEndpoint(ipv4.ProtocolNumber, tcp.ProtocolNumber, t.endpointID(), 0).(*tcp.Endpoint)
	return ok && ep.ID.RemotePort != 0
}

// linuxConnectPort readies a connect from s to remote on a linux-profile
// host: it checks a bound socket's 4-tuple, or searches a port as Linux
// does, takes over a timewait socket tcp_twsk_unique lets go, and pins
// gVisor's ephemeral range to the chosen port. The returned function puts
// the range back once gVisor has connected.
func (h *Host) linuxConnectPort(s *Socket, local, remote netip.AddrPort) (func(), tcpip.Error) {
	if local.Port() != 0 {
		h.portBind(s.rec, local, s.opts.ReuseAddr)
		t := tuple{local, remote}
		ok, tw := h.tupleFree(t, true)
		if !ok {
			return nil, &tcpip.ErrBadLocalAddress{} // __inet_check_established: EADDRNOTAVAIL
		}
		if tw != nil {
			h.takeOver(tw, t, "linux: a connect bound to the port takes the tuple over (tcp_twsk_unique)")
		}
		return func() {}, nil
	}
	// A search that may take a timewait socket over depends on the
	// time; one that may not fails again until a port comes free.
	mayReuse := h.reuse(tuple{netip.AddrPortFrom(local.Addr(), 0), remote}, false).Allowed(h.opts.Kernel)
	if !mayReuse && h.knownFull(local.Addr(), remote) {
		return nil, &tcpip.ErrNoPortAvailable{}
	}
	port, tw, ok := h.pickPort(local.Addr(), remote)
	if !ok {
		if !mayReuse {
			h.searchFailed(local.Addr(), remote)
		}
		return nil, &tcpip.ErrNoPortAvailable{}
	}
	if tw != nil {
		h.takeOver(tw, tuple{netip.AddrPortFrom(local.Addr(), port), remote}, "linux tcp_tw_reuse: a new connection takes the tuple over")
	}
	first, last := h.stack.PortRange()
	if terr := h.stack.SetPortRange(port, port); terr != nil {
		return nil, terr
	}
	return func() { _ = h.stack.SetPortRange(first, last) }, nil
}

// takeOver ends the timewait socket r so that a new connection can open
// on its tuple t, starting at the timewait socket's SND.NXT + 65537 and
// echoing its ts_recent (tcp_twsk_unique), and counts TcpExtTWRecycled
// (__inet_check_established).
func (h *Host) takeOver(r *epRec, t tuple, cause string) {
	isn, ecr := r.tw.ReuseISN(), r.tw.TSRecent
	h.count(cTWRecycled)
	h.twEnd(r, cause)
	h.pol.adj[t.key()] = &seqAdj{want: isn, ecr: ecr, setEcr: ecr != 0}
}
