package sim

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	randv2 "math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tcpsim/tcpsim/timewait"
)

// Defaults for HostOptions, following Linux.
const (
	// DefaultMSL gives Linux's 60 s TIME-WAIT (TCP_TIMEWAIT_LEN = 2×30 s).
	DefaultMSL = 30 * time.Second
	// DefaultFinTimeout is Linux's net.ipv4.tcp_fin_timeout.
	DefaultFinTimeout = 60 * time.Second
	// DefaultFirstPort and DefaultLastPort are Linux's ip_local_port_range.
	DefaultFirstPort = 32768
	DefaultLastPort  = 60999
)

// TWReuse selects gVisor's TIME-WAIT reuse mode for outgoing connections.
type TWReuse uint8

// TIME-WAIT reuse modes.
const (
	// TWReuseLoopback reuses only on loopback: gVisor's default and, as
	// tcp_tw_reuse=2, Linux's. Between simulated hosts it never reuses.
	TWReuseLoopback TWReuse = iota
	// TWReuseOff never reuses (tcp_tw_reuse=0).
	TWReuseOff
	// TWReuseGlobal reuses a TIME-WAIT tuple for a new outgoing connection
	// (gVisor's Global mode: once 1 s has passed since the last timestamp,
	// or at once if the connection had no timestamps).
	TWReuseGlobal
)

func (r TWReuse) String() string {
	switch r {
	case TWReuseOff:
		return "off"
	case TWReuseGlobal:
		return "global"
	}
	return "loopback"
}

// HostOptions configures a host. Only Name and Addr are required; every
// other zero value means Linux's default.
type HostOptions struct {
	Name string
	// Addr is the host's IPv4 address.
	Addr netip.Addr
	// MSL is the maximum segment lifetime; TIME-WAIT lasts 2×MSL.
	MSL time.Duration
	// FirstPort and LastPort bound the ephemeral port range.
	FirstPort, LastPort uint16
	// TWReuse is the TIME-WAIT reuse mode.
	TWReuse TWReuse
	// FinTimeout is how long an orphaned FIN-WAIT-2 lasts
	// (net.ipv4.tcp_fin_timeout).
	FinTimeout time.Duration
	// Profile is whose behaviour the host shows where gVisor and Linux
	// differ: GVisor (default) or Linux.
	Profile Profile
	// Kernel is the Linux version a Linux-profile host models: 6.18 (the
	// zero value) or 4.9. A gVisor host ignores it.
	Kernel timewait.Kernel
	// Sysctls set Linux knobs by name, "net.ipv4.tcp_tw_reuse=1" or
	// "tcp_tw_reuse=1" (see SetSysctl and docs/knobs.md). They apply after
	// the fields above.
	Sysctls []string
}

// Host is one simulated machine: a gVisor network stack with IPv4 and TCP on
// a NIC of the World's own.
type Host struct {
	w     *World
	ln    *lane
	name  string
	addr  netip.Addr
	taddr tcpip.Address
	opts  HostOptions

	stack *stack.Stack
	tcp   stack.TransportProtocol
	nic   *nic
	// lo is the host's loopback interface, with 127.0.0.1.
	lo *nic

	// kern is set when the host's TCP is a real kernel's (external.go);
	// then stack, tcp, nic and lo are nil.
	kern *kernelHost

	touched bool
	// pending is set when a packet was handed to the stack: its TCP
	// processor may have work until the next barrier.
	pending bool
	closed  bool

	// readyMu guards ready: waiter callbacks run on processor goroutines.
	readyMu sync.Mutex
	ready   []*Socket

	// sockets are the live sockets (not yet closed and gone); a socket's
	// idx is its place here.
	// knobs are the Linux knobs; pol, counters and logs the policy
	// layer's state (linux.go).
	knobs     knobs
	reuseMode tcpip.TCPTimeWaitReuseOption
	reuseSet  bool
	pol       policy
	counters  [numCounters]uint64
	logs      []LogLine
	// silent swallows what the host sends (guarded by the lane's mu);
	// swallowed counts what it swallowed.
	silent                  bool
	swallowed, swallowedRST uint64

	// The linux profile's timewait sockets (timewait.go): their timers
	// (a heap, with one World event at the earliest) and how many there
	// are.
	twq   []*epRec
	twEv  *event
	twSeq uint64
	ntw   int
	// delackTicks are the linux profile's delayed-ACK timers by the jiffy
	// they fire in (delack.go; lookups only, guarded by the lane's mu).
	delackTicks map[time.Duration]*delackTick
	// twRestarts holds the new expiry of each gVisor TIME-WAIT timer the
	// stack reset since the last observation (guarded by the lane's mu).
	twRestarts []time.Duration
	// The segments the linux profile's own code (timewait sockets, the
	// policy layer) received or sent in gVisor's place, for nstat.
	ownIn, ownOut, ownRST uint64
	// held is the bytes the host's live sockets received and keep
	// (account.go).
	held int64
	// deadEPs counts the ended endpoints that open sockets still hold
	// (account.go).
	deadEPs int
	// validIn is gVisor's count of segments an endpoint took.
	validIn *tcpip.StatCounter
	// ports is the linux profile's table of local ports (ports.go).
	ports map[uint64]portUse
	// boundPorts holds the ports with a bound owner on any address
	// (boundAddrs: on how many); twPorts, per destination, the ports
	// whose tuple is in TIME-WAIT after connect() picked them (ports.go).
	boundPorts portSet
	boundAddrs map[uint16]int32
	twPorts    destPorts
	// perturb is the linux profile's table_perturb (6.18), hint the
	// static hint of 4.9's __inet_hash_connect (ports.go).
	perturb  map[uint32]uint32
	hint     uint32
	portRNG  *randv2.Rand
	portSeed uint64

	// exhausted remembers the destinations connect() found no port for
	// (exhaust.go).
	exhausted exhaustion
	// rng is the stack's secure RNG; picked, per destination, the ports
	// gVisor's search gave connect() whose connection is not yet CLOSED
	// (pick.go).
	rng    *lockedReader
	picked destPorts

	sockets  []*Socket
	nsockets int
	// connects counts how connect calls ended, by "ok" or errno (see
	// Connects); lookups only.
	connects map[string]uint64
	rbuf     bytes.Buffer
	obs      observer
}

// loopbackAddr is every host's address on its lo.
var loopbackAddr = tcpip.AddrFrom4([4]byte{127, 0, 0, 1})

// Loopback is every host's address on its loopback interface: a host
// connects to itself over 127.0.0.1.
var Loopback = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// creating serialises stack creation: GOMAXPROCS is process-wide, and it
// must be 1 while tcp.NewProtocol decides how many processors to start.
var creating sync.Mutex

// AddHost creates a host with its own gVisor stack.
func (w *World) AddHost(o HostOptions) (*Host, error) {
	if err := w.checkHost(&o); err != nil {
		return nil, err
	}
	h := &Host{w: w, ln: w.laneFor(o.Name), name: o.Name, addr: o.Addr, taddr: tcpip.AddrFrom4(o.Addr.As4()), opts: o,
		knobs: defaultKnobs(o),
		pol:   policy{conns: map[tkey]*lconn{}, peers: map[netip.Addr]peerTS{}, adj: map[tkey]*seqAdj{}}}
	h.nic = &nic{h: h, mtu: 1500}
	h.lo = &nic{h: h, mtu: 65536, loopback: true}
	h.obs.init(h)
	h.picked = destPorts{}
	if o.Profile == Linux {
		h.portSeed = w.subSeed("ports", o.Name)
		h.portRNG = randv2.New(randv2.NewPCG(h.portSeed, splitmix(h.portSeed)))
		h.ports, h.perturb = map[uint64]portUse{}, map[uint32]uint32{}
		h.boundAddrs, h.twPorts = map[uint16]int32{}, destPorts{}
	}

	seed := w.subSeed("host", o.Name)
	var key [32]byte
	r := randv2.New(randv2.NewPCG(seed, splitmix(seed)))
	for i := range key {
		key[i] = byte(r.Uint32())
	}
	h.rng = &lockedReader{r: randv2.NewChaCha8(key)}
	sopts := stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{ipv4.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{func(s *stack.Stack) stack.TransportProtocol {
			h.tcp = tcp.NewProtocol(s)
			return h.tcp
		}},
		Clock:      hostClock{h: h},
		RandSource: &lockedSource{src: rand.NewSource(int64(splitmix(seed ^ 1)))},
		SecureRNG:  h.rng,
	}
	done := h.ln.enter()
	defer done()

	creating.Lock()
	prev := runtime.GOMAXPROCS(1)
	h.stack = stack.New(sopts)
	h.validIn = h.stack.Stats().TCP.ValidSegmentsReceived
	runtime.GOMAXPROCS(prev)
	creating.Unlock()

	if err := h.configure(); err != nil {
		h.stack.Destroy()
		return nil, fmt.Errorf("sim: host %s: %v", o.Name, err)
	}
	if err := h.setSysctls(o.Sysctls); err != nil {
		h.stack.Destroy()
		return nil, err
	}
	w.lockAll()
	w.hosts = append(w.hosts, h)
	w.forgetRoutesLocked()
	w.unlockAll()
	return h, nil
}

// CheckHostAddr says why a is not an address a host can have, or nil: a
// host's address is IPv4 unicast, outside 0.0.0.0/8 and 127.0.0.0/8 (Linux
// takes neither as a packet's source: martians, in ip_route_input_slow; and
// every host has 127.0.0.1 on its lo already).
func CheckHostAddr(a netip.Addr) error {
	if !a.Is4() {
		return fmt.Errorf("address %v: want an IPv4 address", a)
	}
	if b := a.As4(); b[0] == 0 || b[0] == 127 || a.IsMulticast() || b == [4]byte{255, 255, 255, 255} {
		return fmt.Errorf("address %v: want a unicast address outside 0.0.0.0/8 and 127.0.0.0/8 (every host's lo), not multicast or 255.255.255.255", a)
	}
	return nil
}

func (w *World) checkHost(o *HostOptions) error {
	if o.Name == "" {
		return fmt.Errorf("sim: host: a name is required")
	}
	if err := CheckHostAddr(o.Addr); err != nil {
		return fmt.Errorf("sim: host %s: %v", o.Name, err)
	}
	if len(w.hosts) >= w.opts.MaxHosts {
		return fmt.Errorf("sim: host %s: the World has %d hosts, its limit (Options.MaxHosts)", o.Name, len(w.hosts))
	}
	if w.Node(o.Name) != nil {
		return fmt.Errorf("sim: host %s: the name is taken", o.Name)
	}
	if n := w.owner(o.Addr); n != nil {
		return fmt.Errorf("sim: host %s: address %v is already %s's", o.Name, o.Addr, n.Name())
	}
	if o.MSL == 0 {
		o.MSL = DefaultMSL
	}
	if o.MSL < 0 {
		return fmt.Errorf("sim: host %s: MSL %v: want a positive duration", o.Name, o.MSL)
	}
	if o.FinTimeout == 0 {
		o.FinTimeout = DefaultFinTimeout
	}
	if o.FinTimeout < 0 {
		return fmt.Errorf("sim: host %s: FIN-WAIT-2 timeout %v: want a positive duration", o.Name, o.FinTimeout)
	}
	if o.FirstPort == 0 && o.LastPort == 0 {
		o.FirstPort, o.LastPort = DefaultFirstPort, DefaultLastPort
	}
	if o.FirstPort == 0 || o.LastPort < o.FirstPort {
		return fmt.Errorf("sim: host %s: port range %d-%d: want 1 <= first <= last <= 65535", o.Name, o.FirstPort, o.LastPort)
	}
	if o.Profile > Linux {
		return fmt.Errorf("sim: host %s: profile %d: want gvisor or linux", o.Name, o.Profile)
	}
	if o.Kernel > timewait.Linux49 {
		return fmt.Errorf("sim: host %s: kernel %d: want 6.18 or 4.9", o.Name, o.Kernel)
	}
	if o.TWReuse > TWReuseGlobal {
		return fmt.Errorf("sim: host %s: tw_reuse mode %d: want off, global or loopback", o.Name, o.TWReuse)
	}
	return nil
}

func (h *Host) configure() error {
	s := h.stack
	if err := s.CreateNIC(1, h.nic); err != nil {
		return fmt.Errorf("create NIC: %s", err)
	}
	pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: h.taddr.WithPrefix()}
	if err := s.AddProtocolAddress(1, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("add address: %s", err)
	}
	if err := s.CreateNIC(2, h.lo); err != nil {
		return fmt.Errorf("create lo: %s", err)
	}
	lo := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: loopbackAddr, PrefixLen: 8}}
	if err := s.AddProtocolAddress(2, lo, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("add address to lo: %s", err)
	}
	loNet, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{127, 0, 0, 0}), tcpip.MaskFromBytes([]byte{255, 0, 0, 0}))
	s.SetRouteTable([]tcpip.Route{{Destination: loNet, NIC: 2}, {Destination: header.IPv4EmptySubnet, NIC: 1}})
	tw := tcpip.TCPTimeWaitTimeoutOption(2 * h.opts.MSL)
	fin := tcpip.TCPLingerTimeoutOption(h.opts.FinTimeout)
	if err := h.applyReuse(h.defaultReuseMode()); err != nil {
		return err
	}
	for _, opt := range []tcpip.SettableTransportProtocolOption{&tw, &fin} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("set %T: %s", opt, err)
		}
	}
	if err := s.SetPortRange(h.opts.FirstPort, h.opts.LastPort); err != nil {
		return fmt.Errorf("port range %d-%d: %s", h.opts.FirstPort, h.opts.LastPort, err)
	}
	return nil
}

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// Addr returns the host's IPv4 address.
func (h *Host) Addr() netip.Addr { return h.addr }

// Options returns the host's options with defaults filled in.
func (h *Host) Options() HostOptions { return h.opts }

// MSL returns the host's maximum segment lifetime.
func (h *Host) MSL() time.Duration { return h.opts.MSL }

// TimeWait returns how long TIME-WAIT lasts on this host (2×MSL).
func (h *Host) TimeWait() time.Duration { return 2 * h.opts.MSL }

// Stack returns the host's gVisor stack, for what tcpsim does not wrap.
// Calls on it must come from the simulation goroutine, inside World.At.
func (h *Host) Stack() *stack.Stack { return h.stack }

// barrier waits until the host's TCP processor has nothing left to do.
//
// Only packet deliveries need it. gVisor's processor gets work only from
// segments waiting in an endpoint's queue, and segments enter queues only on
// delivery (tcp.dispatcher.queuePacket); every other call that wakes the
// processor (notifyProcessor, queueEndpoint, UnlockUser) hands it segments
// already queued. Once a delivery is barriered every queue is empty, so
// timers and application calls, which run synchronously on the simulation
// goroutine, leave the processor nothing to do. docs/determinism.md gives
// the full argument; the determinism tests guard it.
func (h *Host) barrier() {
	if h.closed || h.kern != nil {
		return // Pause on a closed stack blocks forever.
	}
	h.tcp.Pause()
	h.tcp.Resume()
}

func (h *Host) close() {
	if h.closed {
		return
	}
	if h.kern != nil {
		h.closed = true
		for _, s := range h.sockets {
			if s.kern != nil {
				s.kern.Close()
			}
		}
		h.kern.k.Close()
		return
	}
	for _, s := range h.sockets {
		if s.ep != nil {
			s.ep.Abort()
		}
	}
	h.closed = true
	h.stack.Close()
	h.stack.Wait()
}

// lockedSource is a math/rand Source safe for concurrent use.
type lockedSource struct {
	mu  sync.Mutex
	src rand.Source
}

func (s *lockedSource) Int63() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src.Int63()
}

func (s *lockedSource) Seed(seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src.Seed(seed)
}

// lockedReader is a deterministic byte stream safe for concurrent use.
// next, when set, rewrites the next read once (pick.go).
type lockedReader struct {
	mu   sync.Mutex
	r    io.Reader
	next func([]byte)
}

func (r *lockedReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, err := r.r.Read(p)
	if f := r.next; f != nil && err == nil {
		r.next = nil
		f(p[:n])
	}
	return n, err
}
