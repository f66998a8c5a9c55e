package sim

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// This file is the World's side of hosts whose TCP runs outside it: a real
// Linux kernel in a network namespace (package kernel implements the
// interfaces below). Links, middle hops, rules, NATs, the trace and the
// views are the simulator's own code; only the host is someone else's. Such
// a World runs on a real clock (Options.Clock), and the host is observed
// the way one observes a kernel: by listing its sockets (sock_diag) after
// everything that touched it and every KernelTick while anything is in
// motion.

// Kernel is a host's TCP when it is a real kernel's. Every method is called
// from the simulation goroutine.
type Kernel interface {
	// Write hands a packet arriving at the host to its kernel.
	Write(data []byte) error
	// Listen and Connect open a socket with the options (bind to local
	// first, when its port is set; Connect then starts the handshake
	// without waiting for it).
	Listen(local netip.AddrPort, o SocketOptions) (KernelSocket, error)
	Connect(local, remote netip.AddrPort, o SocketOptions) (KernelSocket, error)
	// Sockets lists the host's TCP sockets, request and timewait sockets
	// included, and listeners when asked (listing them costs more, and
	// they change only when the application listens or closes).
	Sockets(listeners bool) ([]KernelEndpoint, error)
	// Ready returns the sockets whose readiness changed since the last
	// call (an accept, a connect completing, data, EOF, an error), each
	// once.
	Ready() []KernelSocket
	// Counters are the host's counters, named as nstat names them.
	Counters() ([]Counter, error)
	// SetSysctl and Sysctl set and read a knob of the host (a name as
	// sim.IsSysctl accepts it).
	SetSysctl(name, value string) error
	Sysctl(name string) (string, error)
	// Close tears the host down.
	Close() error
}

// KernelSocket is one socket of a Kernel. Every call is non-blocking.
type KernelSocket interface {
	// Local is the socket's bound address.
	Local() netip.AddrPort
	// Ready says what the socket is ready for.
	Ready() Readiness
	// Accept takes one pending connection (ok false when none is).
	Accept() (c KernelSocket, remote netip.AddrPort, ok bool, err error)
	// Read takes what is in the receive queue; eof is set once the
	// peer's FIN has been read.
	Read() (b []byte, eof bool, err error)
	// Send writes what the socket's buffer takes now (0 bytes, and no
	// error, when it is full).
	Send(b []byte) (int, error)
	Shutdown(read, write bool) error
	// Unread is how many bytes wait in the receive queue.
	Unread() int
	// Err takes the socket's pending error (SO_ERROR), if any.
	Err() error
	Close() error
}

// Readiness is what poll(2) says of a socket.
type Readiness struct{ In, Out, Err, HUp bool }

// KernelEndpoint is one socket as the kernel lists it.
type KernelEndpoint struct {
	// Local and Remote are its addresses (Remote is invalid for a
	// listener).
	Local, Remote netip.AddrPort
	State         State
	// Timer is set when one of its timers is pending (retransmission,
	// probe, keepalive, TIME-WAIT): the socket will change, or send,
	// without anything arriving. Expires is its time left.
	Timer   bool
	Expires time.Duration
	// TimeWaitSocket is set for a timewait socket (TIME-WAIT, or an
	// orphaned FIN-WAIT-2).
	TimeWaitSocket bool
}

// KernelTick is how often a real-time World lists its kernel hosts'
// sockets while one has a timer pending or a packet passed within
// KernelQuiet: a transition a timer makes with no packet (TIME-WAIT
// ending) is seen up to KernelTick late.
const KernelTick = 10 * time.Millisecond

// KernelQuiet is how long a real-time World with no timer pending on any
// socket and no event waits for a packet before it calls itself idle (a
// delayed ACK leaves no trace in sock_diag's timers).
const KernelQuiet = 250 * time.Millisecond

// kernelWorld is a World's bookkeeping for its kernel hosts.
type kernelWorld struct {
	hosts []*Host
	// tick is the pending KernelTick event, if any; last is the time of
	// the last packet to or from a kernel host.
	tick *event
	last time.Duration
}

// kernelHost is what a host that is a kernel keeps: the kernel and the
// last listing of its sockets, by tuple.
type kernelHost struct {
	k    Kernel
	last map[tkey]KernelEndpoint // lookups only
	// socks finds a kernel socket's Socket (lookups only).
	socks map[KernelSocket]*Socket
	err   error
	// relist says the listeners may have changed since the last listing
	// (the application listened or closed a listener); timers that a
	// socket had a timer pending at the last one.
	relist, timers bool
}

// AddKernelHost adds a host whose TCP is k. The World must run on a real
// clock. The host's packets come in through Emit.
func (w *World) AddKernelHost(o HostOptions, k Kernel) (*Host, error) {
	if w.opts.Clock == nil {
		return nil, fmt.Errorf("sim: host %s: a kernel host needs a World on a real clock (Options.Clock)", o.Name)
	}
	if err := w.checkHost(&o); err != nil {
		return nil, err
	}
	h := &Host{w: w, ln: w.lanes[0], name: o.Name, addr: o.Addr, opts: o, knobs: defaultKnobs(o),
		kern: &kernelHost{k: k, last: map[tkey]KernelEndpoint{}, socks: map[KernelSocket]*Socket{}, relist: true}}
	h.obs.init(h)
	if err := h.setSysctls(o.Sysctls); err != nil {
		return nil, err
	}
	w.lockAll()
	w.hosts = append(w.hosts, h)
	w.forgetRoutesLocked()
	w.unlockAll()
	w.kernel.hosts = append(w.kernel.hosts, h)
	return h, nil
}

// IsKernel reports whether the host's TCP is a real kernel's.
func (h *Host) IsKernel() bool { return h.kern != nil }

// Emit sends a packet the host's kernel wrote. It may be called from any
// goroutine: the packet leaves in an event of its own, at the real time of
// the call.
func (h *Host) Emit(data []byte) {
	w := h.w
	w.Post(func() {
		ln := h.ln
		ln.mu.Lock()
		ln.sendLocked(h, nil, data, 0, h.name)
		ln.mu.Unlock()
		ln.touch(h)
		w.kernelActive()
	})
}

// kernelActive notes a packet to or from a kernel host and makes sure
// the tick runs.
func (w *World) kernelActive() {
	w.kernel.last = w.Now()
	w.armKernelTick()
}

func (w *World) armKernelTick() {
	if w.kernel.tick != nil || len(w.kernel.hosts) == 0 {
		return
	}
	ev := &event{kind: evApp, index: -1}
	ev.fn = func() {
		w.kernel.tick = nil
		for _, h := range w.kernel.hosts {
			h.ln.touch(h)
		}
		// settle lists the sockets; the next tick is armed after it
		// (kernelSettled).
	}
	w.kernel.tick = ev
	ln := w.lanes[0] // a real-time World has one lane
	ln.mu.Lock()
	ln.scheduleLocked(ev, KernelTick)
	ln.mu.Unlock()
}

// kernelSettled re-arms the tick while anything is in motion.
func (w *World) kernelSettled() {
	if len(w.kernel.hosts) == 0 {
		return
	}
	busy := w.Now()-w.kernel.last < KernelQuiet
	for _, h := range w.kernel.hosts {
		busy = busy || h.kern.timers
	}
	if busy {
		w.armKernelTick()
	}
}

// deliverKernel hands a packet to a kernel host.
func (w *World) deliverKernel(h *Host, data []byte) {
	if err := h.kern.k.Write(data); err != nil && h.kern.err == nil {
		h.kern.err = fmt.Errorf("host %s: writing a packet to the kernel: %w", h.name, err)
	}
	w.kernelActive()
}

// KernelErr returns the first error the host's kernel gave outside a
// socket call (listing its sockets, writing a packet), or nil.
func (h *Host) KernelErr() error {
	if h.kern == nil {
		return nil
	}
	return h.kern.err
}

// observeKernel lists the host's sockets and records what changed since
// the last listing. A tuple keeps its record from SYN to the end of its
// TIME-WAIT (the timewait socket that replaces the full one continues it);
// a tuple that disappears from the listing has reached CLOSED.
func (h *Host) observeKernel() {
	kh, o, now := h.kern, &h.obs, h.w.Now()
	list, err := kh.k.Sockets(kh.relist)
	if err != nil {
		if kh.err == nil {
			kh.err = fmt.Errorf("host %s: %w", h.name, err)
		}
		return
	}
	if !kh.relist {
		for _, e := range kh.last {
			if e.State == Listen {
				list = append(list, e) // unchanged since the last full listing
			}
		}
	}
	kh.relist, kh.timers = false, false
	clear(kh.last)
	for _, e := range list {
		kh.timers = kh.timers || e.Timer
		if e.Remote.Port() == 0 {
			e.Remote = netip.AddrPort{}
		}
		t := tuple{e.Local, e.Remote}
		kh.last[t.key()] = e
		r := o.twByTuple[t.key()]
		if r != nil && r.state == TimeWait && e.State != TimeWait {
			// A TIME-WAIT leads nowhere but CLOSED: the tuple is a new
			// connection's (a SYN reopened it, or a connect took it over).
			r.cause = "a new connection took the tuple over"
			o.moveKernel(r, Closed, now)
			o.dropActive(r)
			r = nil
		}
		if r == nil {
			r = o.newRec()
			r.local, r.remote = e.Local, e.Remote
			o.twByTuple[t.key()] = r
			h.attachKernel(r)
		}
		o.moveKernel(r, e.State, now)
	}
	kept := o.active[:0]
	for _, r := range o.active {
		if _, ok := kh.last[tuple{r.local, r.remote}.key()]; !ok {
			o.moveKernel(r, Closed, now)
			delete(o.twByTuple, tuple{r.local, r.remote}.key())
			continue
		}
		kept = append(kept, r)
	}
	clear(o.active[len(kept):])
	o.active = kept
}

// dropActive takes r out of the active records.
func (o *observer) dropActive(r *epRec) {
	if i := slices.Index(o.active, r); i >= 0 {
		o.active = slices.Delete(o.active, i, i+1)
	}
}

// moveKernel records r's transitions to s, through the states between when
// the listing skipped some.
func (o *observer) moveKernel(r *epRec, s State, now time.Duration) {
	if s == r.state {
		return
	}
	o.transit(r, now, s)
	if s == Closed {
		o.ended(r)
	}
}

// attachKernel gives a new record the socket of the same tuple, if the
// application holds one.
func (h *Host) attachKernel(r *epRec) {
	for _, s := range h.sockets {
		if s.rec == nil && s.kern != nil && s.klocal == r.local && s.kremote == r.remote {
			s.rec, r.sock = r, s
			return
		}
	}
}

// attachSocket gives a new socket the record of its tuple, if the
// observer has one.
func (h *Host) attachSocket(s *Socket) {
	if r := h.obs.twByTuple[tuple{s.klocal, s.kremote}.key()]; r != nil && r.sock == nil && r.state != Closed && r.state != TimeWait {
		s.rec, r.sock = r, s
	}
}

// kernelEndpoints lists the host's sockets as last listed.
func (h *Host) kernelEndpoints() []Endpoint {
	var out []Endpoint
	for _, r := range h.obs.active {
		e, ok := h.kern.last[tuple{r.local, r.remote}.key()]
		if !ok || r.state == Closed {
			continue
		}
		ep := Endpoint{Local: r.local, Remote: r.remote, State: r.state, Orphan: r.sock == nil || r.sock.closed,
			TimeWaitSocket: e.TimeWaitSocket}
		if e.TimeWaitSocket {
			ep.Expires = e.Expires
		}
		out = append(out, ep)
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		if c := a.Local.Compare(b.Local); c != 0 {
			return c
		}
		return a.Remote.Compare(b.Remote)
	})
	return out
}
