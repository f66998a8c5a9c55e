package kernel

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// State is a TCP state as the kernel numbers it (include/net/tcp_states.h).
type State uint8

// The kernel's TCP states.
const (
	Established State = 1 + iota
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
)

var stateNames = [...]string{"", "ESTABLISHED", "SYN-SENT", "SYN-RECEIVED", "FIN-WAIT-1", "FIN-WAIT-2",
	"TIME-WAIT", "CLOSED", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "SYN-RECEIVED"}

// String is the state's RFC 9293 name (NEW_SYN_RECV, a request socket, is
// SYN-RECEIVED; CLOSE is CLOSED).
func (s State) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Socket is one TCP socket as sock_diag reports it (struct inet_diag_msg).
type Socket struct {
	Local, Remote netip.AddrPort
	State         State
	// Timer is idiag_timer: 0 none, 1 retransmit, 2 keepalive, 3
	// timewait, 4 zero-window probe; Expires its time left in ms.
	Timer   uint8
	Expires uint32
	// TimeWait says the socket is a timewait socket (its timer is the
	// timewait timer): TIME-WAIT, or an orphaned FIN-WAIT-2 after
	// tcp_time_wait.
	TimeWait bool
}

// sockid is struct inet_diag_sockid's size; inet_diag_req_v2 is 8 bytes
// more, inet_diag_msg 24.
const (
	sizeofSockID  = 48
	sizeofReqV2   = 8 + sizeofSockID
	sizeofDiagMsg = 4 + sizeofSockID + 20
)

// TCPSockets lists every IPv4 TCP socket of the namespace, timewait and
// request sockets included (inet_diag dump, all states).
func (n *Netns) TCPSockets() ([]Socket, error) { return n.tcpSockets(true) }

// TCPConnections is TCPSockets without the listeners: asking for
// listeners walks the machine's listening hash table (shared by every
// namespace), 0.2 ms a listing here; without them a listing walks only the
// namespace's own table.
func (n *Netns) TCPConnections() ([]Socket, error) { return n.tcpSockets(false) }

func (n *Netns) tcpSockets(listeners bool) ([]Socket, error) {
	req := make([]byte, sizeofReqV2)
	req[0], req[1] = unix.AF_INET, unix.IPPROTO_TCP
	// Every state but TCP_BOUND_INACTIVE (13): bound-only sockets are not
	// connections, and asking for them walks the machine's whole bind
	// hash table.
	states := uint32(0xffffffff &^ (1 << 13))
	if !listeners {
		states &^= 1 << Listen
	}
	ne.PutUint32(req[4:], states)
	var out []Socket
	if n.diag < 0 {
		// One sock_diag socket per namespace, opened inside it: it speaks
		// for the namespace from any thread.
		err := n.Do(func() error {
			var err error
			n.diag, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
			return err
		})
		if err != nil {
			n.diag = -1
			return nil, fmt.Errorf("kernel backend: sock_diag: %w", err)
		}
	}
	err := netlinkRoundTrip(n.diag, unix.SOCK_DIAG_BY_FAMILY, unix.NLM_F_DUMP, req, func(typ uint16, m []byte) {
		if typ == unix.SOCK_DIAG_BY_FAMILY && len(m) >= sizeofDiagMsg {
			out = append(out, parseDiagMsg(m))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("kernel backend: sock_diag: %w", err)
	}
	return out, nil
}

// parseDiagMsg decodes struct inet_diag_msg.
func parseDiagMsg(m []byte) Socket {
	be := binary.BigEndian
	id := m[4:]
	addr := func(b []byte) netip.Addr { return netip.AddrFrom4([4]byte(b[:4])) }
	s := Socket{
		State:  State(m[1]),
		Timer:  m[2],
		Local:  netip.AddrPortFrom(addr(id[4:]), be.Uint16(id[0:])),
		Remote: netip.AddrPortFrom(addr(id[20:]), be.Uint16(id[2:])),
	}
	rest := m[4+sizeofSockID:]
	s.Expires = ne.Uint32(rest[0:])
	s.TimeWait = s.Timer == 3
	return s
}
