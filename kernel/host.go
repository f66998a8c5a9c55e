package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tcpsim/tcpsim/sim"
)

// host is one notebook host as a network namespace: its TUN device, whose
// reader hands every IPv4 packet the kernel sends to the World, and its
// sockets. It implements sim.Kernel.
type host struct {
	ns   *Netns
	tun  *TUN
	done chan struct{}
	// ep is an epoll instance with every socket of the host
	// (edge-triggered), and socks its sockets by descriptor: Ready asks
	// the kernel which sockets changed instead of asking every socket.
	ep    int
	socks map[int]*socket
	evs   []unix.EpollEvent
}

var _ sim.Kernel = (*host)(nil)

// MSL is the only MSL a kernel host has: Linux's TIME-WAIT is
// TCP_TIMEWAIT_LEN, 60 s, a constant of include/net/tcp.h.
const MSL = 30 * time.Second

// NewWorld returns a World on the wall clock, for kernel hosts: o.Clock,
// or a new Clock. Its MaxTime is real time.
func NewWorld(o sim.Options) *sim.World {
	if o.Clock == nil {
		o.Clock = NewClock()
	}
	return sim.New(o)
}

// AddHost adds a host to w whose TCP is the running kernel's: a new
// network namespace with a TUN device carrying o.Addr, o's port range and
// FIN timeout as the namespace's sysctls. An MSL other than 30 s, or a
// kernel version other than the running one, is refused: a real kernel
// cannot have them.
func AddHost(w *sim.World, o sim.HostOptions) (*sim.Host, error) {
	if o.MSL != 0 && o.MSL != MSL {
		return nil, fmt.Errorf("msl=%v: the kernel's TIME-WAIT is TCP_TIMEWAIT_LEN, 60 s (an MSL of 30 s); it cannot be changed, so kernel mode runs only hosts with msl=30s", o.MSL)
	}
	if o.Profile == sim.Linux && o.Kernel != 0 {
		return nil, fmt.Errorf("kernel=%v: kernel mode runs the machine's kernel, Linux %s, not a model of another version", o.Kernel, Release())
	}
	ns, err := NewNetns()
	if err != nil {
		return nil, err
	}
	tun, err := ns.NewTUN(o.Addr)
	if err != nil {
		ns.Close()
		return nil, err
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		tun.Close()
		ns.Close()
		return nil, fmt.Errorf("kernel backend: epoll: %w", err)
	}
	k := &host{ns: ns, tun: tun, done: make(chan struct{}), ep: ep, socks: map[int]*socket{}, evs: make([]unix.EpollEvent, 64)}
	set := func(name, value string) error {
		if err := ns.SetSysctl(name, value); err != nil {
			k.Close()
			return err
		}
		return nil
	}
	// A namespace with a hash table of its own (see childEhash) sizes
	// tcp_max_tw_buckets and tcp_max_syn_backlog from it
	// (tcp_set_hashinfo); they are set back to what the linux profile
	// and this machine's own namespace have.
	if err := set("net.ipv4.tcp_max_tw_buckets", fmt.Sprint(sim.DefaultMaxTWBuckets)); err != nil {
		return nil, err
	}
	if err := set("net.ipv4.tcp_max_syn_backlog", "2048"); err != nil {
		return nil, err
	}
	if o.FirstPort != 0 || o.LastPort != 0 {
		if err := set("net.ipv4.ip_local_port_range", fmt.Sprintf("%d %d", o.FirstPort, o.LastPort)); err != nil {
			return nil, err
		}
	}
	if o.FinTimeout != 0 {
		if err := set("net.ipv4.tcp_fin_timeout", fmt.Sprint(int(o.FinTimeout/time.Second))); err != nil {
			return nil, err
		}
	}
	o.Profile, o.Kernel, o.MSL = sim.Linux, 0, MSL
	h, err := w.AddKernelHost(o, k)
	if err != nil {
		k.Close()
		return nil, err
	}
	go k.read(h)
	return h, nil
}

// read hands every IPv4 packet the kernel sends through the TUN device to
// the World, until the device is closed.
func (k *host) read(h *sim.Host) {
	defer close(k.done)
	buf := make([]byte, 65536)
	for {
		n, err := k.tun.Read(buf)
		if err != nil {
			return
		}
		if n < 20 || buf[0]>>4 != 4 {
			continue // IPv6 (router solicitations and such): not tcpsim's
		}
		h.Emit(append([]byte(nil), buf[:n]...))
	}
}

// Write implements sim.Kernel: the packet arrives through the TUN device
// (tun_get_user hands it to the stack before write returns).
func (k *host) Write(data []byte) error {
	_, err := k.tun.Write(data)
	return err
}

// Listen implements sim.Kernel.
func (k *host) Listen(local netip.AddrPort, o sim.SocketOptions) (sim.KernelSocket, error) {
	s, err := k.ns.open(local, true, o)
	if err != nil {
		return nil, err
	}
	if err := listen(s.fd); err != nil {
		s.Close()
		return nil, err
	}
	return s, k.watch(s)
}

// Connect implements sim.Kernel.
func (k *host) Connect(local, remote netip.AddrPort, o sim.SocketOptions) (sim.KernelSocket, error) {
	s, err := k.ns.open(local, local.Port() != 0 || o.LocalAddr.IsValid(), o)
	if err != nil {
		return nil, err
	}
	if err := connect(s.fd, remote); err != nil {
		s.Close()
		return nil, err
	}
	return s, k.watch(s)
}

// watch adds s to the host's epoll instance.
func (k *host) watch(s *socket) error {
	s.h = k
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(s.fd)}
	if err := unix.EpollCtl(k.ep, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
		s.Close()
		return errnoOf(err)
	}
	k.socks[s.fd] = s
	return nil
}

// Ready implements sim.Kernel.
func (k *host) Ready() []sim.KernelSocket {
	var out []sim.KernelSocket
	for {
		n, err := unix.EpollWait(k.ep, k.evs, 0)
		if err == unix.EINTR {
			continue
		}
		for _, ev := range k.evs[:max(n, 0)] {
			if s := k.socks[int(ev.Fd)]; s != nil {
				out = append(out, s)
			}
		}
		if n < len(k.evs) {
			return out
		}
	}
}

// Sockets implements sim.Kernel.
func (k *host) Sockets(listeners bool) ([]sim.KernelEndpoint, error) {
	list, err := k.ns.tcpSockets(listeners)
	if err != nil {
		return nil, err
	}
	out := make([]sim.KernelEndpoint, 0, len(list))
	for _, s := range list {
		st, ok := simState(s.State)
		if !ok {
			continue // CLOSE (bound, not connected) and bound-inactive sockets
		}
		out = append(out, sim.KernelEndpoint{Local: s.Local, Remote: s.Remote, State: st,
			Timer: s.Timer != 0, Expires: time.Duration(s.Expires) * time.Millisecond, TimeWaitSocket: s.TimeWait})
	}
	return out, nil
}

// simState names a kernel state as sim does.
func simState(s State) (sim.State, bool) {
	switch s {
	case Close, 0:
		return 0, false
	case NewSynRecv:
		return sim.SynReceived, true
	}
	if int(s) >= len(stateNames) {
		return 0, false
	}
	st, err := sim.ParseState(s.String())
	return st, err == nil
}

// Counters implements sim.Kernel: the namespace's Tcp and TcpExt
// counters.
func (k *host) Counters() ([]sim.Counter, error) {
	list, err := k.ns.Counters()
	if err != nil {
		return nil, err
	}
	var out []sim.Counter
	for _, c := range list {
		if strings.HasPrefix(c.Name, "Tcp") {
			out = append(out, sim.Counter{Name: c.Name, Value: c.Value})
		}
	}
	return out, nil
}

// SetSysctl implements sim.Kernel.
func (k *host) SetSysctl(name, value string) error {
	if strings.HasSuffix(name, "ip_local_port_range") {
		// Notebooks write the range as 40000-40001 or "40000 40001".
		value = strings.Join(strings.Fields(strings.ReplaceAll(value, "-", " ")), " ")
	}
	err := k.ns.SetSysctl(name, value)
	if errors.Is(err, ErrNoKnob) && strings.HasSuffix(name, "tcp_tw_recycle") {
		return fmt.Errorf("%s: Linux %s has no such knob: it was removed in 4.12 (commit 4396e46187ca, \"tcp: remove tcp_tw_recycle\"); use profile=linux kernel=4.9 in the simulator", name, Release())
	}
	return err
}

// Sysctl implements sim.Kernel.
func (k *host) Sysctl(name string) (string, error) { return k.ns.Sysctl(name) }

// Close implements sim.Kernel: the TUN device and the namespace go (the
// kernel frees them when the last socket in the namespace is closed).
func (k *host) Close() error {
	err := k.tun.Close()
	<-k.done
	unix.Close(k.ep)
	k.ns.Close()
	return err
}
