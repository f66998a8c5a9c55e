package kernel

import (
	"fmt"
	"net/netip"
	"os"

	"golang.org/x/sys/unix"
)

// TUN is a TUN device in a namespace: what the namespace's stack sends
// comes out of Read as an IPv4 packet, and what is written to it arrives at
// the stack as if from a wire.
type TUN struct {
	f    *os.File
	name string
}

// tunName is the device's name inside its namespace (each namespace has
// its own).
const tunName = "tsim0"

// NewTUN creates the namespace's TUN device with addr/32 on it and a
// default route through it, so a host reaches any other address through
// tcpsim.
func (n *Netns) NewTUN(addr netip.Addr) (*TUN, error) {
	if !addr.Is4() {
		return nil, fmt.Errorf("kernel backend: %v is not an IPv4 address", addr)
	}
	var t *TUN
	err := n.Do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(tunName)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			if err == unix.EPERM {
				return ErrPrivilege
			}
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := setAddr(tunName, addr); err != nil {
			unix.Close(fd)
			return err
		}
		if err := linkUp(tunName); err != nil {
			unix.Close(fd)
			return fmt.Errorf("%s up: %w", tunName, err)
		}
		if err := defaultRoute(tunName); err != nil {
			unix.Close(fd)
			return fmt.Errorf("default route: %w", err)
		}
		t = &TUN{f: os.NewFile(uintptr(fd), tunName), name: tunName}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel backend: TUN for %v: %w", addr, err)
	}
	return t, nil
}

// setAddr puts addr/32 on interface name (SIOCSIFADDR, SIOCSIFNETMASK).
func setAddr(name string, addr netip.Addr) error {
	set := func(req uint, a [4]byte) error {
		_, err := ifIoctl(name, req, func(r *unix.Ifreq) error { return r.SetInet4Addr(a[:]) })
		return err
	}
	if err := set(unix.SIOCSIFADDR, addr.As4()); err != nil {
		return fmt.Errorf("SIOCSIFADDR %v: %w", addr, err)
	}
	if err := set(unix.SIOCSIFNETMASK, [4]byte{255, 255, 255, 255}); err != nil {
		return fmt.Errorf("SIOCSIFNETMASK /32: %w", err)
	}
	return nil
}

// Read reads one packet the namespace sent. It blocks until one comes or
// the device is closed.
func (t *TUN) Read(b []byte) (int, error) { return t.f.Read(b) }

// Write hands one IPv4 packet to the namespace's stack.
func (t *TUN) Write(b []byte) (int, error) { return t.f.Write(b) }

// Close removes the device; a blocked Read returns.
func (t *TUN) Close() error { return t.f.Close() }
