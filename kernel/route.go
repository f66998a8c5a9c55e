package kernel

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// defaultRoute adds "default dev name" (scope link) in the calling
// thread's namespace, by rtnetlink: every destination is reached through
// the device, with no gateway.
func defaultRoute(name string) error {
	ifr, err := ifIoctl(name, unix.SIOCGIFINDEX, nil)
	if err != nil {
		return fmt.Errorf("SIOCGIFINDEX %s: %w", name, err)
	}
	// rtmsg, then one attribute: RTA_OIF.
	body := make([]byte, unix.SizeofRtMsg+unix.SizeofRtAttr+4)
	body[0] = unix.AF_INET       // family
	body[1] = 0                  // dst_len: default
	body[4] = unix.RT_TABLE_MAIN // table
	body[5] = unix.RTPROT_BOOT   // protocol
	body[6] = unix.RT_SCOPE_LINK // scope
	body[7] = unix.RTN_UNICAST   // type
	attr := body[unix.SizeofRtMsg:]
	ne.PutUint16(attr[0:], unix.SizeofRtAttr+4)
	ne.PutUint16(attr[2:], unix.RTA_OIF)
	ne.PutUint32(attr[unix.SizeofRtAttr:], ifr.Uint32())
	err = netlinkRequest(unix.NETLINK_ROUTE, unix.RTM_NEWROUTE, unix.NLM_F_ACK|unix.NLM_F_CREATE|unix.NLM_F_EXCL, body, func(uint16, []byte) {})
	if err != nil {
		return fmt.Errorf("RTM_NEWROUTE: %w", err)
	}
	return nil
}
