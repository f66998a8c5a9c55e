package kernel

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrPrivilege is returned when the process may not create network
// namespaces or TUN devices (it lacks CAP_NET_ADMIN).
var ErrPrivilege = errors.New("kernel backend: creating a network namespace needs CAP_NET_ADMIN (run as root, or under unshare -rn where user namespaces are allowed)")

// Netns is an anonymous network namespace, held open by a file
// descriptor: it lives until Close and the last socket in it are gone.
type Netns struct {
	fd int
	// diag is the namespace's sock_diag socket, opened on first use.
	diag int
}

// childEhash is the size of each host namespace's own established-socket
// hash table (net.ipv4.tcp_child_ehash_entries of the namespace it is
// created from). Without one, a namespace shares the machine's table,
// which sock_diag walks whole on every listing (262,144 buckets here: 1.3
// ms a listing); with one it walks only the host's (1,024 buckets: 25 µs,
// BenchmarkTCPConnections). The chains grow with the host's sockets, as
// they would in a table sized for them.
const childEhash = 1024

// parent is the namespace every host namespace is created from: it exists
// only to carry tcp_child_ehash_entries without changing the machine's.
var parent struct {
	once sync.Once
	ns   *Netns
	err  error
}

// NewNetns creates a network namespace with its loopback interface up and
// a hash table of its own.
func NewNetns() (*Netns, error) {
	parent.once.Do(func() {
		parent.ns, parent.err = newNetns(nil)
		if parent.err == nil {
			parent.err = parent.ns.SetSysctl("net.ipv4.tcp_child_ehash_entries", fmt.Sprint(childEhash))
		}
	})
	if parent.err != nil {
		return nil, parent.err
	}
	return newNetns(parent.ns)
}

// newNetns creates a namespace from from's (nil: the process's).
func newNetns(from *Netns) (*Netns, error) {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("kernel backend: %w", err)
	}
	defer unix.Close(orig)
	if from != nil {
		if err := unix.Setns(from.fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("kernel backend: setns: %w", err)
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		if from != nil {
			if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
				return nil, fmt.Errorf("kernel backend: back to the original namespace: %w", err)
			}
		}
		runtime.UnlockOSThread()
		if errors.Is(err, unix.EPERM) {
			return nil, ErrPrivilege
		}
		return nil, fmt.Errorf("kernel backend: unshare: %w", err)
	}
	fd, openErr := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	var upErr error
	if openErr == nil {
		upErr = linkUp("lo")
	}
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the new namespace: leave it locked, so
		// that it ends with this goroutine instead of serving others.
		return nil, fmt.Errorf("kernel backend: back to the original namespace: %w", err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		return nil, fmt.Errorf("kernel backend: %w", openErr)
	}
	n := &Netns{fd: fd, diag: -1}
	if upErr != nil {
		n.Close()
		return nil, fmt.Errorf("kernel backend: lo up: %w", upErr)
	}
	return n, nil
}

// Do runs fn on a thread that is inside the namespace. Sockets, TUN devices
// and netlink sockets fn creates belong to the namespace for their whole
// life, whichever thread uses them later; files under /proc/thread-self/net
// and /proc/sys/net that fn opens show the namespace's.
func (n *Netns) Do(fn func() error) error {
	if n == nil || n.fd < 0 {
		return errors.New("kernel backend: namespace is closed")
	}
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel backend: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernel backend: setns: %w", err)
	}
	ferr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("kernel backend: back to the original namespace: %w", err) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
	return ferr
}

// Close lets go of the namespace. It disappears once no socket or device
// in it holds it.
func (n *Netns) Close() {
	if n != nil && n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
	if n != nil && n.diag >= 0 {
		unix.Close(n.diag)
		n.diag = -1
	}
}

// linkUp sets interface name up in the calling thread's namespace.
func linkUp(name string) error {
	ifr, err := ifIoctl(name, unix.SIOCGIFFLAGS, nil)
	if err != nil {
		return err
	}
	_, err = ifIoctl(name, unix.SIOCSIFFLAGS, func(r *unix.Ifreq) error {
		r.SetUint16(ifr.Uint16() | unix.IFF_UP)
		return nil
	})
	return err
}
