package sim

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// SocketOptions are set on a socket before it binds.
type SocketOptions struct {
	// LocalAddr is the address to bind: the host's address (the zero
	// value) or Loopback. A connect to a loopback address binds Loopback.
	LocalAddr netip.Addr
	// LocalPort binds the socket to this port before connecting; zero
	// picks an ephemeral port.
	LocalPort uint16
	// ReuseAddr sets SO_REUSEADDR.
	ReuseAddr bool
	// Linger sets SO_LINGER: on close, wait up to LingerTimeout for unsent
	// data; {on, 0} makes Close send RST and skip TIME-WAIT.
	Linger        bool
	LingerTimeout time.Duration
	// NoAutoRead leaves received bytes in the socket's receive buffer
	// instead of reading them as they arrive (closing with unread data then
	// sends RST).
	NoAutoRead bool
}

// Socket is a TCP socket of a host, driven from the simulation goroutine.
// Received bytes are read as they arrive (unless NoAutoRead) and kept in
// order; callbacks, when set, run on the simulation goroutine after the
// event that made them due.
type Socket struct {
	h    *Host
	id   int
	ep   tcpip.Endpoint
	wq   *waiter.Queue
	we   waiter.Entry
	rec  *epRec
	opts SocketOptions
	// kern is the socket of a kernel host (then ep and wq are nil), and
	// klocal and kremote its tuple as the application knows it.
	kern            KernelSocket
	klocal, kremote netip.AddrPort
	// unsent is what the application wrote that the socket has not taken
	// yet: a blocking write() still in progress, while a kernel socket is
	// connecting or while the send buffer is full. The bytes go in as the
	// buffer drains (flush); a close or shutdown the application made
	// after that write waits for it (closeAfter, shutAfter).
	unsent     []byte
	closeAfter bool
	shutAfter  [2]bool // read, write

	listener   bool
	connecting bool
	connected  bool
	eof        bool
	closed     bool
	queued     bool // in h.ready
	deadEP     bool // counted in h.deadEPs (account.go)
	idx        int  // in h.sockets; -1 once released
	err        error
	received   []byte
	// accepted are the listener's accepted connections that are not yet
	// released; parent and aidx place an accepted socket in its
	// listener's list.
	accepted []*Socket
	parent   *Socket
	aidx     int
	final    State // the state when released
	endpoint int   // the endpoint number when released
	// local and remote are the addresses when released.
	local, remote netip.AddrPort

	// OnAccept runs for each connection a listener accepts.
	OnAccept func(*Socket)
	// OnConnect runs when an outgoing connection is established.
	OnConnect func(*Socket)
	// OnData runs with each chunk of bytes read.
	OnData func(*Socket, []byte)
	// OnEOF runs once, when the peer's FIN has been read.
	OnEOF func(*Socket)
	// OnError runs once with the first asynchronous error (refused, reset,
	// timed out).
	OnError func(*Socket, error)
}

func (h *Host) newSocket(ep tcpip.Endpoint, wq *waiter.Queue, opts SocketOptions) *Socket {
	h.nsockets++
	s := &Socket{h: h, id: h.nsockets, ep: ep, wq: wq, opts: opts, idx: len(h.sockets)}
	s.we = waiter.NewFunctionEntry(waiter.EventIn|waiter.EventOut|waiter.EventErr|waiter.EventHUp, func(waiter.EventMask) {
		h.markReady(s)
	})
	wq.EventRegister(&s.we)
	if tep, ok := ep.(*tcp.Endpoint); ok {
		s.rec = h.obs.track(tep)
		s.rec.sock = s
	}
	h.sockets = append(h.sockets, s)
	return s
}

func (h *Host) applyOptions(ep tcpip.Endpoint, o SocketOptions) {
	so := ep.SocketOptions()
	so.SetReuseAddress(o.ReuseAddr)
	if o.Linger {
		so.SetLinger(tcpip.LingerOption{Enabled: true, Timeout: o.LingerTimeout})
	}
}

func (h *Host) opErr(op, addr string, err tcpip.Error) *OpError {
	return &OpError{Op: op, Host: h.name, Addr: addr, Errno: errnoOf(err), Err: stackError{err}}
}

// call wraps an application call on socket s (nil for one that creates
// its socket): outside the run loop it becomes an event of its own;
// inside, it is observed on return, so that each call's transitions are
// seen on their own. (It needs no barrier: gVisor runs the
// call synchronously; see barrier.) The transitions are ordered before the
// packets the call sent: gVisor changes state first in connect, close and
// shutdown, then sends.
func (h *Host) call(s *Socket) func() {
	done := h.ln.enter()
	start := h.w.order.Add(1)
	if h.kern != nil {
		// The kernel may now send, or change state, on its own.
		h.w.kernelActive()
	}
	return func() {
		h.ln.touch(h)
		if s != nil {
			h.obs.mark(s.rec)
		}
		h.obs.order = start
		h.observe()
		h.obs.order = 0
		done()
	}
}

// Listen opens a listening socket on port of the host's address. Connections
// are accepted as they complete; OnAccept, if set, runs for each.
func (h *Host) Listen(port uint16, opts SocketOptions) (*Socket, error) {
	defer h.call(nil)()
	local, err := h.localAddr(opts.LocalAddr, netip.Addr{})
	addr := netip.AddrPortFrom(local, port).String()
	if err != nil {
		return nil, &OpError{Op: "bind", Host: h.name, Addr: addr, Errno: "EADDRNOTAVAIL", Err: stackError{&tcpip.ErrBadLocalAddress{}}}
	}
	if port == 0 {
		return nil, &OpError{Op: "listen", Host: h.name, Addr: addr, Errno: "EINVAL", Err: stackError{&tcpip.ErrInvalidEndpointState{}}}
	}
	if h.kern != nil {
		return h.kernelListen(netip.AddrPortFrom(local, port), opts)
	}
	wq := &waiter.Queue{}
	ep, terr := h.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if terr != nil {
		return nil, h.opErr("listen", addr, terr)
	}
	h.applyOptions(ep, opts)
	la := netip.AddrPortFrom(local, port)
	if err := h.bindTimeWaitErr(la, opts.ReuseAddr); err != nil {
		ep.Close()
		return nil, err
	}
	if terr := ep.Bind(tcpip.FullAddress{Addr: tcpip.AddrFrom4(local.As4()), Port: port}); terr != nil {
		ep.Close()
		return nil, h.opErr("bind", addr, terr)
	}
	s := h.newSocket(ep, wq, opts)
	s.listener = true
	h.obs.ownsPort(s.rec)
	if terr := ep.Listen(1024); terr != nil {
		h.portsMayFree()
		s.closed = true
		ep.Close()
		s.release()
		return nil, h.opErr("listen", addr, terr)
	}
	h.portBind(s.rec, la, opts.ReuseAddr)
	return s, nil
}

// Connect opens a connection to remote. The handshake proceeds as events
// run; errors the call itself returns (EADDRNOTAVAIL when the ephemeral
// ports are spent, EADDRINUSE for a taken LocalPort) come back at once, the
// others through Err and OnError.
func (h *Host) Connect(remote netip.AddrPort, opts SocketOptions) (s *Socket, err error) {
	defer h.call(nil)()
	defer func() {
		switch {
		case err != nil:
			h.countConnect(err)
		case s.connected:
			h.countConnect(nil)
		}
	}()
	if !remote.Addr().Is4() || remote.Port() == 0 {
		return nil, &OpError{Op: "connect", Host: h.name, Addr: remote.String(), Errno: "EINVAL", Err: stackError{&tcpip.ErrBadAddress{}}}
	}
	if h.kern != nil {
		la, err := h.localAddr(opts.LocalAddr, remote.Addr())
		if err != nil {
			return nil, &OpError{Op: "bind", Host: h.name, Addr: la.String(), Errno: "EADDRNOTAVAIL", Err: err}
		}
		return h.kernelConnect(netip.AddrPortFrom(la, opts.LocalPort), remote, opts)
	}
	wq := &waiter.Queue{}
	ep, terr := h.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if terr != nil {
		return nil, h.opErr("connect", remote.String(), terr)
	}
	h.applyOptions(ep, opts)
	la, err := h.localAddr(opts.LocalAddr, remote.Addr())
	local := netip.AddrPortFrom(la, opts.LocalPort)
	if err != nil {
		ep.Close()
		return nil, &OpError{Op: "bind", Host: h.name, Addr: local.String(), Errno: "EADDRNOTAVAIL", Err: stackError{&tcpip.ErrBadLocalAddress{}}}
	}
	if opts.LocalPort != 0 || opts.LocalAddr.IsValid() {
		if opts.LocalPort != 0 {
			if err := h.bindTimeWaitErr(local, opts.ReuseAddr); err != nil {
				ep.Close()
				return nil, err
			}
		}
		if terr := ep.Bind(tcpip.FullAddress{Addr: tcpip.AddrFrom4(la.As4()), Port: opts.LocalPort}); terr != nil {
			ep.Close()
			return nil, h.opErr("bind", local.String(), terr)
		}
	}
	s = h.newSocket(ep, wq, opts)
	h.obs.ownsPort(s.rec)
	fail := func(terr tcpip.Error) (*Socket, error) {
		if opts.LocalPort != 0 || opts.LocalAddr.IsValid() {
			h.portsMayFree() // the port bind() reserved
		}
		s.closed = true
		h.portRelease(s.rec)
		ep.Close()
		s.release()
		return nil, h.opErr("connect", remote.String(), terr)
	}
	if h.opts.Profile == Linux {
		restore, terr := h.linuxConnectPort(s, local, remote)
		if terr != nil {
			return fail(terr)
		}
		defer restore()
	}
	// gVisor searches a port here for a socket not bound before.
	search := h.opts.Profile != Linux && opts.LocalPort == 0 && !opts.LocalAddr.IsValid() && !h.gvisorMayReuse(la, remote)
	if search && h.knownFull(la, remote) {
		return fail(h.failNoPort())
	}
	if search && !opts.ReuseAddr {
		h.armPick(la, remote)
	}
	terr = ep.Connect(tcpip.FullAddress{Addr: tcpip.AddrFrom4(remote.Addr().As4()), Port: remote.Port()})
	h.disarmPick()
	if _, full := terr.(*tcpip.ErrNoPortAvailable); full && search {
		h.searchFailed(la, remote)
	}
	switch terr.(type) {
	case nil:
		s.connected = true
	case *tcpip.ErrConnectStarted:
		s.connecting = true
	default:
		return fail(terr)
	}
	if search && !opts.ReuseAddr && s.rec != nil {
		if a, terr := ep.GetLocalAddress(); terr == nil {
			h.pickedAdd(s.rec, netip.AddrPortFrom(la, a.Port), remote)
		}
	}
	return s, nil
}

// FailedSocket returns a socket that never opened because a call failed
// with err: it is closed, has no endpoint, and Err returns err. A caller
// that names sockets keeps the name of a failed connect with it.
func (h *Host) FailedSocket(err error) *Socket {
	return &Socket{h: h, idx: -1, closed: true, err: err}
}

// localAddr is the address a socket binds: want if given (the host's
// address or Loopback), else Loopback toward a loopback address and the
// host's address otherwise.
func (h *Host) localAddr(want, remote netip.Addr) (netip.Addr, error) {
	switch {
	case !want.IsValid() && remote.IsLoopback():
		return Loopback, nil
	case !want.IsValid():
		return h.addr, nil
	case want == h.addr || want == Loopback:
		return want, nil
	}
	return want, fmt.Errorf("%v is not an address of %s", want, h.name)
}

// Released reports whether the World has let go of the socket: the
// application closed it and its connection is gone, or (linux profile)
// it entered TIME-WAIT, where Linux frees the full socket and keeps a
// timewait socket (tcp_time_wait). What a test may still ask of it
// (bytes, error, state) it still answers.
func (s *Socket) Released() bool { return s.ep == nil && s.kern == nil }

// released reports an error for a call on a socket that is closed and
// gone.
func (s *Socket) released(op string) error {
	if s.ep != nil || s.kern != nil {
		return nil
	}
	return &OpError{Op: op, Host: s.h.name, Addr: s.remoteString(), Errno: "EBADF", Err: stackError{&tcpip.ErrClosedForSend{}}}
}

// release lets go of a socket the application closed and whose connection
// is gone: the World keeps only what a test may still ask (bytes, error,
// final state), not the stack's endpoint.
func (s *Socket) release() {
	if s.ep == nil && s.kern == nil {
		return
	}
	s.final, s.local, s.remote, s.endpoint = s.State(), s.Local(), s.Remote(), s.Endpoint()
	if s.ep != nil {
		s.h.held -= int64(len(s.received))
	}
	if s.deadEP {
		s.deadEP = false
		s.h.deadEPs--
	}
	if s.kern != nil {
		delete(s.h.kern.socks, s.kern)
		s.rec, s.kern = nil, nil
	}
	if s.rec != nil {
		if s.rec.ep != nil {
			delete(s.h.obs.byEP, s.rec.ep)
		}
		if s.rec.tw == nil {
			s.rec = nil
		}
		// A linux-profile timewait socket goes on after the socket: the
		// socket keeps following its record (State, Local, Remote).
	}
	if s.wq != nil {
		s.wq.EventUnregister(&s.we)
	}
	s.ep, s.wq = nil, nil
	s.OnAccept, s.OnConnect, s.OnData, s.OnEOF, s.OnError = nil, nil, nil, nil, nil
	if p := s.parent; p != nil {
		last := p.accepted[len(p.accepted)-1]
		p.accepted[s.aidx], last.aidx = last, s.aidx
		p.accepted[len(p.accepted)-1] = nil
		p.accepted = p.accepted[:len(p.accepted)-1]
		s.parent = nil
	}
	h := s.h
	last := h.sockets[len(h.sockets)-1]
	h.sockets[s.idx], last.idx = last, s.idx
	h.sockets[len(h.sockets)-1] = nil
	h.sockets = h.sockets[:len(h.sockets)-1]
	s.idx = -1
}

// Send writes b as a blocking write(2) would: the socket takes what its
// send buffer holds now and the rest as the buffer drains, while the
// simulation runs. It returns len(b), or an error the stack returned.
func (s *Socket) Send(b []byte) (int, error) {
	if err := s.released("send"); err != nil {
		return 0, err
	}
	if s.closeAfter || s.shutAfter[1] {
		return 0, &OpError{Op: "send", Host: s.h.name, Addr: s.remoteString(), Errno: "EPIPE", Err: stackError{&tcpip.ErrClosedForSend{}}}
	}
	if len(s.unsent) > 0 || (s.kern != nil && s.connecting) {
		s.unsent = append(s.unsent, b...)
		return len(b), nil
	}
	defer s.h.call(s)()
	n, err := s.write(b)
	if err != nil {
		return n, err
	}
	if n < len(b) {
		s.unsent = append([]byte(nil), b[n:]...)
	}
	return len(b), nil
}

// write hands b to the stack or the kernel and returns what it took (0
// when the buffer is full).
func (s *Socket) write(b []byte) (int, error) {
	if s.kern != nil {
		n, err := s.kern.Send(b)
		if err != nil {
			return n, s.h.kernelErr("send", s.remoteString(), err)
		}
		return n, nil
	}
	var r bytes.Reader
	r.Reset(b)
	n, terr := s.ep.Write(&r, tcpip.WriteOptions{})
	if _, full := terr.(*tcpip.ErrWouldBlock); full {
		return int(n), nil
	}
	if terr != nil {
		return int(n), s.h.opErr("send", s.remoteString(), terr)
	}
	return int(n), nil
}

// flush writes what a blocking write still holds, as far as the buffer
// takes it; once it is all in, the close or shutdown that waited for it
// happens. An error ends the write: the socket keeps it.
func (s *Socket) flush() {
	if len(s.unsent) == 0 || s.ep == nil && s.kern == nil {
		return
	}
	done := s.h.call(s)
	n, err := s.write(s.unsent)
	done()
	switch {
	case err != nil:
		s.unsent = nil
		if s.err == nil {
			s.setErr(err)
		}
	case n == len(s.unsent):
		s.unsent = nil
	default:
		s.unsent = s.unsent[n:]
		return
	}
	if s.shutAfter != [2]bool{} {
		read, write := s.shutAfter[0], s.shutAfter[1]
		s.shutAfter = [2]bool{}
		_ = s.Shutdown(read, write)
	}
	if s.closeAfter {
		s.closeAfter = false
		_ = s.Close()
	}
}

// Shutdown closes the write side (like shutdown(SHUT_WR)), the read side,
// or both.
func (s *Socket) Shutdown(read, write bool) error {
	if err := s.released("shutdown"); err != nil {
		return err
	}
	if len(s.unsent) > 0 && write {
		// The write before it has not returned yet.
		s.shutAfter = [2]bool{s.shutAfter[0] || read, true}
		return nil
	}
	defer s.h.call(s)()
	if s.kern != nil {
		if err := s.kern.Shutdown(read, write); err != nil {
			return s.h.kernelErr("shutdown", s.remoteString(), err)
		}
		return nil
	}
	var f tcpip.ShutdownFlags
	if read {
		f |= tcpip.ShutdownRead
	}
	if write {
		f |= tcpip.ShutdownWrite
	}
	if terr := s.ep.Shutdown(f); terr != nil {
		return s.h.opErr("shutdown", s.remoteString(), terr)
	}
	return nil
}

// Close closes the socket. The connection goes on closing in the stack (and
// is still observed) after the application let go of it.
func (s *Socket) Close() error {
	if s.closed || s.closeAfter {
		return &OpError{Op: "close", Host: s.h.name, Errno: "EBADF", Err: stackError{&tcpip.ErrClosedForSend{}}}
	}
	if len(s.unsent) > 0 && s.err == nil {
		// The write before it has not returned yet: close follows it.
		s.closeAfter = true
		return nil
	}
	done := s.h.call(s)
	s.closed = true
	s.h.portsMayFree()
	if s.kern != nil {
		// The kernel counts and resets itself (__tcp_close).
		s.h.kern.relist = s.h.kern.relist || s.listener
		err := s.kern.Close()
		done()
		if s.State() == Closed {
			s.release()
		}
		if err != nil {
			return s.h.kernelErr("close", s.remoteString(), err)
		}
		return nil
	}
	open := (s.connected || s.connecting) && s.State() != Closed
	unread, _ := s.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
	switch {
	case open && unread > 0 && !s.listener:
		// __tcp_close: unread data makes close reset (RFC 2525 2.17;
		// gVisor's shutdownLocked does the same).
		s.h.count(cAbortOnClose)
		if s.rec != nil {
			s.rec.cause = fmt.Sprintf("close with %d unread bytes resets the connection", unread)
		}
	case open && s.opts.Linger && s.opts.LingerTimeout == 0:
		s.h.count(cAbortOnData) // __tcp_close: SO_LINGER {1, 0} resets
		if s.rec != nil {
			s.rec.cause = "SO_LINGER {1, 0}: close resets the connection"
		}
	}
	s.ep.Close()
	done()
	switch st := s.State(); {
	case st == Closed:
		s.release() // it was gone already (reset, refused, never connected)
	case st == FinWait2 && s.rec != nil:
		s.h.closing(s.rec) // tcp_close of a FIN-WAIT-2 socket (linux profile)
	}
	return nil
}

// Read takes whatever the stack has received for a NoAutoRead socket.
func (s *Socket) Read() []byte {
	if s.kern != nil {
		defer s.h.call(s)()
		return s.readKernel()
	}
	if s.ep == nil {
		return nil
	}
	defer s.h.call(s)()
	return s.readAll()
}

// Received returns every byte read on the socket so far, in order.
func (s *Socket) Received() []byte { return slices.Clone(s.received) }

// Accepted returns the connections a listener accepted that are still
// held: a connection the application closed and that is gone leaves the
// list, so a long run keeps no trace of its past connections. They come in
// the order they were accepted. Use OnAccept to keep every one.
func (s *Socket) Accepted() []*Socket {
	out := slices.Clone(s.accepted)
	slices.SortFunc(out, func(a, b *Socket) int { return a.id - b.id })
	return out
}

// Err returns the first asynchronous error, or nil.
func (s *Socket) Err() error { return s.err }

// EOF reports whether the peer's FIN has been read.
func (s *Socket) EOF() bool { return s.eof }

// Connected reports whether the connection was established.
func (s *Socket) Connected() bool { return s.connected }

// Endpoint returns the number the observer gave the socket's endpoint (see
// Transition.Endpoint), or 0.
func (s *Socket) Endpoint() int {
	if s.rec != nil {
		return s.rec.id
	}
	return s.endpoint
}

// Host returns the socket's host.
func (s *Socket) Host() *Host { return s.h }

// State returns the connection's current state as last observed.
func (s *Socket) State() State {
	if s.rec == nil {
		return s.final
	}
	return s.rec.state
}

// Local returns the socket's local address as last observed.
func (s *Socket) Local() netip.AddrPort {
	if s.rec != nil && s.rec.local.IsValid() {
		return s.rec.local
	}
	if s.kern != nil {
		return s.klocal
	}
	if s.ep == nil {
		return s.local
	}
	if a, err := s.ep.GetLocalAddress(); err == nil && a.Addr.Len() == 4 {
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr.As4()), a.Port)
	}
	return netip.AddrPort{}
}

// Remote returns the socket's peer address as last observed.
func (s *Socket) Remote() netip.AddrPort {
	if s.rec != nil {
		return s.rec.remote
	}
	if s.kern != nil {
		return s.kremote
	}
	return s.remote
}

func (s *Socket) remoteString() string {
	if r := s.Remote(); r.IsValid() {
		return r.String()
	}
	return ""
}

// markReady queues s for dispatch; called from waiter callbacks on any
// goroutine.
func (h *Host) markReady(s *Socket) {
	h.readyMu.Lock()
	if !s.queued {
		s.queued = true
		h.ready = append(h.ready, s)
	}
	h.readyMu.Unlock()
}

// dispatch serves the sockets that became ready during the event, in the
// order they were created.
func (h *Host) dispatch() {
	h.readyMu.Lock()
	ready := h.ready
	h.ready = nil
	for _, s := range ready {
		s.queued = false
	}
	h.readyMu.Unlock()
	slices.SortFunc(ready, func(a, b *Socket) int { return a.id - b.id })
	for _, s := range ready {
		s.serve()
	}
	if h.kern != nil {
		h.dispatchKernel()
	}
}

// serve reacts to a socket's readiness: accept, connect completion, data,
// EOF, error.
func (s *Socket) serve() {
	if s.ep == nil {
		return
	}
	if s.listener {
		s.acceptAll()
		return
	}
	defer s.flush()
	if s.connecting {
		ev := s.ep.Readiness(waiter.WritableEvents | waiter.EventErr | waiter.EventHUp)
		switch {
		case ev&(waiter.EventErr|waiter.EventHUp) != 0 && s.err == nil && s.State() != Established:
			s.connecting = false
			s.fail("connect", s.ep.LastError())
			s.h.countConnect(s.err)
		case ev&waiter.WritableEvents != 0:
			s.connecting = false
			s.connected = true
			s.h.countConnect(nil)
			if s.OnConnect != nil {
				s.OnConnect(s)
			}
		}
	}
	if !s.opts.NoAutoRead && !s.closed {
		if b := s.readAll(); len(b) > 0 && s.OnData != nil {
			s.OnData(s, b)
		}
	}
	if !s.connecting && s.err == nil && !s.closed && s.ep.Readiness(waiter.EventErr)&waiter.EventErr != 0 {
		// The stack set the socket's error (a reset, a timeout): a
		// program sees it on its next call or in SO_ERROR, whether or
		// not it reads.
		s.fail("socket", s.ep.LastError())
	}
	s.notifyEOF()
}

func (s *Socket) fail(op string, terr tcpip.Error) {
	if terr == nil || s.err != nil {
		return
	}
	s.setErr(s.h.opErr(op, s.remoteString(), terr))
}

// setErr records the socket's first asynchronous error and tells the
// application.
func (s *Socket) setErr(err error) {
	s.err = err
	if s.OnError != nil {
		s.OnError(s, err)
	}
}

// notifyEOF tells the application, once, that the peer's FIN was read.
func (s *Socket) notifyEOF() {
	if s.eof && !s.closed && s.OnEOF != nil {
		f := s.OnEOF
		s.OnEOF = nil
		f(s)
	}
}

// readAll reads what the stack holds for s.
func (s *Socket) readAll() []byte {
	if s.eof || s.closed {
		return nil
	}
	rbuf := &s.h.rbuf
	rbuf.Reset()
	for {
		_, terr := s.ep.Read(rbuf, tcpip.ReadOptions{})
		switch terr.(type) {
		case nil:
			continue
		case *tcpip.ErrWouldBlock:
		case *tcpip.ErrClosedForReceive:
			s.eof = true
		default:
			s.fail("recv", terr)
		}
		break
	}
	if rbuf.Len() == 0 {
		return nil
	}
	start := len(s.received)
	s.received = append(s.received, rbuf.Bytes()...)
	s.h.held += int64(len(s.received) - start)
	return s.received[start:len(s.received):len(s.received)]
}

func (s *Socket) acceptAll() {
	for !s.closed {
		ep, wq, terr := s.ep.Accept(nil)
		if terr != nil {
			return
		}
		c := s.h.newSocket(ep, wq, s.opts)
		c.connected = true
		s.h.portBind(c.rec, s.Local(), s.opts.ReuseAddr) // a child shares its listener's port
		c.parent, c.aidx = s, len(s.accepted)
		s.accepted = append(s.accepted, c)
		if s.OnAccept != nil {
			s.OnAccept(c)
		}
		// Data or a FIN may have arrived before the socket existed.
		c.serve()
	}
}
