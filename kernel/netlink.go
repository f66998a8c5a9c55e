package kernel

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// This file is the little of netlink the backend speaks: one request on a
// fresh socket of the calling thread's namespace, and the messages of its
// answer.

var ne = binary.NativeEndian

// netlinkRequest opens a netlink socket of protocol proto in the calling
// thread's namespace, sends a request of type typ with flags and body, and
// hands each message of the answer (its type and body) to fn until an
// NLMSG_DONE, an error message, or (for a request without NLM_F_DUMP) the
// end of the first datagram. An NLMSG_ERROR with code 0 is the ACK. fn must
// not keep body: the buffer is reused.
func netlinkRequest(proto int, typ, flags uint16, body []byte, fn func(typ uint16, body []byte)) error {
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(nl)
	return netlinkRoundTrip(nl, typ, flags, body, fn)
}

// replyBufs hold netlink replies. A listing of sockets runs on every tick
// of a kernel run, on the run loop; a fresh 64 KiB buffer each time made it
// wait on the garbage collector (voluntary context switches inside the
// listing), and packets waited behind it: in one kernel run of
// linux-time-wait-reuse 57 to 74 listings took over 1 ms (up to 6 ms,
// against 40 µs in BenchmarkTCPConnections), with the buffer reused 1 to 3.
var replyBufs = sync.Pool{New: func() any { b := make([]byte, 65536); return &b }}

// netlinkRoundTrip is netlinkRequest on an open socket nl.
func netlinkRoundTrip(nl int, typ, flags uint16, body []byte, fn func(typ uint16, body []byte)) error {
	msg := make([]byte, unix.NLMSG_HDRLEN+len(body))
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|flags)
	ne.PutUint32(msg[8:], 1) // sequence
	copy(msg[unix.NLMSG_HDRLEN:], body)
	if err := unix.Sendto(nl, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	bp := replyBufs.Get().(*[]byte)
	defer replyBufs.Put(bp)
	buf := *bp
	for {
		n, _, err := unix.Recvfrom(nl, buf, 0)
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(ne.Uint32(b[0:]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("netlink: a message of %d bytes in %d", l, len(b))
			}
			switch t := ne.Uint16(b[4:]); t {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if l < unix.NLMSG_HDRLEN+4 {
					return fmt.Errorf("netlink: a short error message")
				}
				if code := int32(ne.Uint32(b[unix.NLMSG_HDRLEN:])); code != 0 {
					return unix.Errno(-code)
				}
				return nil // the ACK
			default:
				fn(t, b[unix.NLMSG_HDRLEN:l])
			}
			b = b[min(nlmsgAlign(l), len(b)):]
		}
		if flags&unix.NLM_F_DUMP == 0 {
			return nil
		}
	}
}

// nlmsgAlign is NLMSG_ALIGN.
func nlmsgAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// ifIoctl runs an interface ioctl req on interface name in the calling
// thread's namespace; set fills the request beforehand (nil for none). It
// returns the request as the kernel left it.
func ifIoctl(name string, req uint, set func(*unix.Ifreq) error) (*unix.Ifreq, error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	if set != nil {
		if err := set(ifr); err != nil {
			return nil, err
		}
	}
	return ifr, unix.IoctlIfreq(s, req, ifr)
}
