package kernel

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// defaultRoute adds "default dev name" (scope link) in the calling
// thread's namespace, by rtnetlink: every destination is reached through
// the device, with no gateway.
func defaultRoute(name string) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(s)
		return err
	}
	err = unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr)
	unix.Close(s)
	if err != nil {
		return fmt.Errorf("SIOCGIFINDEX %s: %w", name, err)
	}
	index := ifr.Uint32()

	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(nl)
	// nlmsghdr, rtmsg, one attribute: RTA_OIF.
	msg := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofRtMsg+unix.SizeofRtAttr+4)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.RTM_NEWROUTE)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL)
	ne.PutUint32(msg[8:], 1) // sequence
	rt := msg[unix.NLMSG_HDRLEN:]
	rt[0] = unix.AF_INET       // family
	rt[1] = 0                  // dst_len: default
	rt[4] = unix.RT_TABLE_MAIN // table
	rt[5] = unix.RTPROT_BOOT   // protocol
	rt[6] = unix.RT_SCOPE_LINK // scope
	rt[7] = unix.RTN_UNICAST   // type
	attr := rt[unix.SizeofRtMsg:]
	ne.PutUint16(attr[0:], unix.SizeofRtAttr+4)
	ne.PutUint16(attr[2:], unix.RTA_OIF)
	ne.PutUint32(attr[unix.SizeofRtAttr:], index)
	if err := unix.Sendto(nl, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("RTM_NEWROUTE: %w", err)
	}
	return netlinkAck(nl)
}

// netlinkAck reads the kernel's answer to a request sent with NLM_F_ACK.
func netlinkAck(nl int) error {
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(nl, buf, 0)
	if err != nil {
		return err
	}
	ne := binary.NativeEndian
	for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
		l := int(ne.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return fmt.Errorf("netlink: a message of %d bytes in %d", l, len(b))
		}
		if ne.Uint16(b[4:]) == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 {
			if code := int32(ne.Uint32(b[unix.NLMSG_HDRLEN:])); code != 0 {
				return unix.Errno(-code)
			}
		}
		b = b[min(nlmsgAlign(l), len(b)):]
	}
	return nil
}

// nlmsgAlign is NLMSG_ALIGN.
func nlmsgAlign(l int) int { return (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }
