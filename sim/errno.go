package sim

import (
	"errors"
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// This file maps gVisor's errors to the errnos a Linux program would see.

// OpError is the error of a socket call, carrying the errno a Linux
// application would see.
type OpError struct {
	Op    string // "connect", "listen", "send", ...
	Host  string
	Addr  string // the address the call was about, if any
	Errno string // e.g. "EADDRNOTAVAIL"
	// Err is what the stack said: a gVisor error, or a kernel host's
	// errno.
	Err error
}

// stackError makes a gVisor error an error.
type stackError struct{ err tcpip.Error }

func (e stackError) Error() string { return e.err.String() }

func (e *OpError) Error() string {
	a := ""
	if e.Addr != "" {
		a = " " + e.Addr
	}
	return fmt.Sprintf("%s: %s%s: %s (%v)", e.Host, e.Op, a, e.Errno, e.Err)
}

// Errno returns the errno name of err if it is, or wraps, an *OpError, and
// "" otherwise.
func Errno(err error) string {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Errno
	}
	return ""
}

// errnoOf names a gVisor error the way Linux's errno would.
func errnoOf(err tcpip.Error) string {
	switch err.(type) {
	case *tcpip.ErrNoPortAvailable:
		return "EADDRNOTAVAIL"
	case *tcpip.ErrPortInUse:
		return "EADDRINUSE"
	case *tcpip.ErrConnectionRefused:
		return "ECONNREFUSED"
	case *tcpip.ErrConnectionReset:
		return "ECONNRESET"
	case *tcpip.ErrConnectionAborted:
		return "ECONNABORTED"
	case *tcpip.ErrTimeout:
		return "ETIMEDOUT"
	case *tcpip.ErrClosedForSend, *tcpip.ErrAborted:
		return "EPIPE" // ErrAborted: an RST in CLOSE-WAIT (gVisor's syserr says EPIPE, as tcp_reset does)
	case *tcpip.ErrNotConnected:
		return "ENOTCONN"
	case *tcpip.ErrAlreadyConnected:
		return "EISCONN"
	case *tcpip.ErrAlreadyConnecting, *tcpip.ErrConnectStarted:
		return "EALREADY"
	case *tcpip.ErrWouldBlock:
		return "EAGAIN"
	case *tcpip.ErrInvalidEndpointState:
		return "EINVAL"
	case *tcpip.ErrBadLocalAddress:
		return "EADDRNOTAVAIL"
	case *tcpip.ErrHostUnreachable, *tcpip.ErrNetworkUnreachable:
		return "EHOSTUNREACH"
	}
	return "EIO"
}
