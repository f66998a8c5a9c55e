package kernel

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpsim/tcpsim/sim"
)

// Errno is a system call's error, named as errno names it.
type Errno struct{ N unix.Errno }

// Errno returns the errno's name ("ECONNREFUSED").
func (e Errno) Errno() string { return unix.ErrnoName(e.N) }

func (e Errno) Error() string { return e.N.Error() }

func (e Errno) Unwrap() error { return e.N }

// errnoOf wraps a system call's error; nil stays nil.
func errnoOf(err error) error {
	var en unix.Errno
	if errors.As(err, &en) {
		return Errno{N: en}
	}
	return err
}

// socket is a non-blocking TCP socket of a namespace. It implements
// sim.KernelSocket.
type socket struct {
	fd    int
	local netip.AddrPort
	buf   []byte
	h     *host
}

var _ sim.KernelSocket = (*socket)(nil)

func sockaddr(a netip.AddrPort) *unix.SockaddrInet4 {
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()}
}

// open creates a socket in the namespace with the options, bound to
// local when bind is set.
func (n *Netns) open(local netip.AddrPort, bind bool, o sim.SocketOptions) (*socket, error) {
	var fd int
	err := n.Do(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, errnoOf(err)
	}
	s := &socket{fd: fd}
	fail := func(err error) (*socket, error) {
		unix.Close(fd)
		return nil, errnoOf(err)
	}
	if o.ReuseAddr {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail(err)
		}
	}
	if o.Linger {
		l := &unix.Linger{Onoff: 1, Linger: int32(o.LingerTimeout / time.Second)}
		if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, l); err != nil {
			return fail(err)
		}
	}
	if bind {
		if err := unix.Bind(fd, sockaddr(local)); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// Local implements sim.KernelSocket.
func (s *socket) Local() netip.AddrPort {
	if s.local.Port() != 0 {
		return s.local
	}
	sa, err := unix.Getsockname(s.fd)
	if in, ok := sa.(*unix.SockaddrInet4); ok && err == nil {
		s.local = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
	}
	return s.local
}

// Ready implements sim.KernelSocket.
func (s *socket) Ready() sim.Readiness {
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN | unix.POLLOUT | unix.POLLRDHUP}}
	if n, err := unix.Poll(fds, 0); err != nil || n == 0 {
		return sim.Readiness{}
	}
	r := fds[0].Revents
	return sim.Readiness{In: r&unix.POLLIN != 0, Out: r&unix.POLLOUT != 0, Err: r&unix.POLLERR != 0, HUp: r&unix.POLLHUP != 0}
}

// Accept implements sim.KernelSocket.
func (s *socket) Accept() (sim.KernelSocket, netip.AddrPort, bool, error) {
	fd, sa, err := unix.Accept4(s.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if errors.Is(err, unix.EAGAIN) {
		return nil, netip.AddrPort{}, false, nil
	}
	if err != nil {
		return nil, netip.AddrPort{}, false, errnoOf(err)
	}
	var remote netip.AddrPort
	if in, ok := sa.(*unix.SockaddrInet4); ok {
		remote = netip.AddrPortFrom(netip.AddrFrom4(in.Addr), uint16(in.Port))
	}
	c := &socket{fd: fd}
	if err := s.h.watch(c); err != nil {
		return nil, netip.AddrPort{}, false, err
	}
	return c, remote, true, nil
}

// Read implements sim.KernelSocket.
func (s *socket) Read() ([]byte, bool, error) {
	if s.buf == nil {
		s.buf = make([]byte, 64<<10)
	}
	var out []byte
	for {
		n, err := unix.Read(s.fd, s.buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return out, false, nil
		case err != nil:
			return out, false, errnoOf(err)
		case n == 0:
			return out, true, nil
		}
		out = append(out, s.buf[:n]...)
	}
}

// Send implements sim.KernelSocket: it writes what the socket's buffer
// takes now, 0 bytes when it is full.
func (s *socket) Send(b []byte) (int, error) {
	n, err := unix.Write(s.fd, b)
	if errors.Is(err, unix.EAGAIN) {
		return 0, nil
	}
	if err != nil {
		return max(n, 0), errnoOf(err)
	}
	return n, nil
}

// Shutdown implements sim.KernelSocket.
func (s *socket) Shutdown(read, write bool) error {
	how := unix.SHUT_RDWR
	switch {
	case read && !write:
		how = unix.SHUT_RD
	case write && !read:
		how = unix.SHUT_WR
	}
	return errnoOf(unix.Shutdown(s.fd, how))
}

// Unread implements sim.KernelSocket.
func (s *socket) Unread() int {
	n, err := unix.IoctlGetInt(s.fd, unix.SIOCINQ)
	if err != nil {
		return 0
	}
	return n
}

// Err implements sim.KernelSocket.
func (s *socket) Err() error {
	v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return errnoOf(err)
	}
	if v == 0 {
		return nil
	}
	return Errno{N: unix.Errno(v)}
}

// Close implements sim.KernelSocket.
func (s *socket) Close() error {
	if s.fd < 0 {
		return Errno{N: unix.EBADF}
	}
	if s.h != nil {
		delete(s.h.socks, s.fd) // close takes it out of the epoll set
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return errnoOf(err)
}

func listen(fd int) error { return errnoOf(unix.Listen(fd, 1024)) }

// connect starts the handshake; EINPROGRESS is the non-blocking success.
func connect(fd int, remote netip.AddrPort) error {
	err := unix.Connect(fd, sockaddr(remote))
	if err == nil || errors.Is(err, unix.EINPROGRESS) {
		return nil
	}
	return errnoOf(err)
}
