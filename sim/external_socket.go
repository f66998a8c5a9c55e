package sim

import (
	"net/netip"
	"slices"
)

// This file is the sockets of a kernel host (external.go): opened by the
// kernel, served when the kernel says they became ready, with the same
// Socket methods and callbacks as a gVisor host's.

// kernelListen opens a listening socket on a kernel host.
func (h *Host) kernelListen(local netip.AddrPort, opts SocketOptions) (*Socket, error) {
	ks, err := h.kern.k.Listen(local, opts)
	if err != nil {
		return nil, h.kernelErr("listen", local.String(), err)
	}
	s := h.newKernelSocket(ks, opts, netip.AddrPort{})
	s.listener = true
	h.kern.relist = true
	return s, nil
}

// kernelConnect starts a connection from a kernel host.
func (h *Host) kernelConnect(local, remote netip.AddrPort, opts SocketOptions) (*Socket, error) {
	ks, err := h.kern.k.Connect(local, remote, opts)
	if err != nil {
		return nil, h.kernelErr("connect", remote.String(), err)
	}
	s := h.newKernelSocket(ks, opts, remote)
	s.connecting = true
	return s, nil
}

func (h *Host) newKernelSocket(ks KernelSocket, opts SocketOptions, remote netip.AddrPort) *Socket {
	h.nsockets++
	s := &Socket{h: h, id: h.nsockets, kern: ks, opts: opts, idx: len(h.sockets), klocal: ks.Local(), kremote: remote}
	h.sockets = append(h.sockets, s)
	h.kern.socks[ks] = s
	h.attachSocket(s)
	return s
}

// kernelErr makes a kernel's error an OpError; the kernel backend names
// the errno in an error of type interface{ Errno() string }.
func (h *Host) kernelErr(op, addr string, err error) error {
	name := "EIO"
	if e, ok := err.(interface{ Errno() string }); ok {
		name = e.Errno()
	}
	return &OpError{Op: op, Host: h.name, Addr: addr, Errno: name, Err: err}
}

// dispatchKernel serves the sockets the kernel says became ready, in the
// order they were created.
func (h *Host) dispatchKernel() {
	var ready []*Socket
	for _, ks := range h.kern.k.Ready() {
		if s := h.kern.socks[ks]; s != nil {
			ready = append(ready, s)
		}
	}
	slices.SortFunc(ready, func(a, b *Socket) int { return a.id - b.id })
	for _, s := range ready {
		s.serveKernel()
	}
}

// serveKernel is serve for a kernel host's socket: it asks the kernel what
// the socket is ready for instead of waiting for a notification.
func (s *Socket) serveKernel() {
	if s.kern == nil {
		return
	}
	if s.listener {
		for !s.closed {
			ks, remote, ok, err := s.kern.Accept()
			if err != nil || !ok {
				return
			}
			c := s.h.newKernelSocket(ks, s.opts, remote)
			c.connected = true
			c.parent, c.aidx = s, len(s.accepted)
			s.accepted = append(s.accepted, c)
			if s.OnAccept != nil {
				s.OnAccept(c)
			}
			c.serveKernel()
		}
		return
	}
	r := s.kern.Ready()
	if s.connecting {
		switch {
		case r.Err || (r.HUp && !r.Out):
			s.connecting = false
			s.failKernel("connect")
			s.h.countConnect(s.err)
		case r.Out:
			s.connecting = false
			s.connected = true
			s.h.countConnect(nil)
			s.flush()
			if s.OnConnect != nil {
				s.OnConnect(s)
			}
		}
	}
	if !s.connecting && r.Out {
		s.flush()
	}
	if !s.opts.NoAutoRead && !s.closed && !s.connecting && r.In {
		if b := s.readKernel(); len(b) > 0 && s.OnData != nil {
			s.OnData(s, b)
		}
	}
	if !s.connecting && s.err == nil && !s.closed && r.Err {
		s.failKernel("socket")
	}
	s.notifyEOF()
}

func (s *Socket) failKernel(op string) {
	err := s.kern.Err()
	if err == nil || s.err != nil {
		return
	}
	s.setErr(s.h.kernelErr(op, s.remoteString(), err))
}

// readKernel reads what the kernel holds for s.
func (s *Socket) readKernel() []byte {
	if s.eof || s.closed {
		return nil
	}
	b, eof, err := s.kern.Read()
	if eof {
		s.eof = true
	}
	if err != nil {
		s.failKernel("recv")
	}
	if len(b) == 0 {
		return nil
	}
	start := len(s.received)
	s.received = append(s.received, b...)
	return s.received[start:len(s.received):len(s.received)]
}
