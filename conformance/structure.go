package conformance

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// Structure is what of a run can be compared with another run of the same
// notebook on another backend: nothing in it depends on the ephemeral ports,
// ISNs, timestamp offsets or exact times a backend chose.
type Structure struct {
	// Sockets are the endpoints of every host, in the order they
	// appeared.
	Sockets []Socket
	// Conns are the segments of each connection on each link.
	Conns []Conn
	// Counters are every host's counters at the end, by host.
	Counters map[string][]sim.Counter
}

// Socket is one endpoint's life: the states it rested in (a state entered
// and left at one instant is left out: a kernel cannot be seen passing
// through it) and how long each stay lasted.
type Socket struct {
	// Name says which endpoint it is without its ephemeral port:
	// "server :80 ← client *" for the server side of a connection to port
	// 80, "server LISTEN :80", with "#2" for the second of that name.
	Name   string
	States []sim.State
	// Stays are how long each state but the last lasted.
	Stays []time.Duration
}

// Conn is the segments of one connection as one link carried them, in
// the order they were sent.
type Conn struct {
	// Name is the link and the connection: "client-server: client * ↔
	// server :80", with "#2" for the second of that name.
	Name     string
	Segments []Segment
	// Loopback names the host when the connection is over its loopback
	// interface ("" otherwise).
	Loopback string
}

// Names gives a run's endpoints the names its notebook gave them
// (scenarios.Result.SocketName): a socket then keeps its name whichever
// order a backend made it appear in. It returns "" for one without.
type Names func(host string, endpoint int) string

// Extract reads a finished run's structure; names may be nil.
func Extract(w *sim.World, names Names) Structure {
	n := newNamer(w, names)
	s := Structure{Counters: map[string][]sim.Counter{}}
	for _, h := range w.Hosts() {
		s.Counters[h.Name()] = h.Counters()
	}
	s.Sockets = sockets(w, n)
	s.Conns = conns(w, n)
	return s
}

// namer names addresses by the node that owns them and ports by whether
// they are fixed (a port some host listens on) or chosen (any other).
type namer struct {
	owner  map[netip.Addr]string // lookups only
	listen map[netip.AddrPort]bool
	// names are the notebook's names; byTuple the name of the endpoint
	// that first had a tuple (local, remote).
	names   Names
	byTuple map[[2]netip.AddrPort]string
}

func newNamer(w *sim.World, names Names) *namer {
	n := &namer{owner: map[netip.Addr]string{}, listen: map[netip.AddrPort]bool{}, names: names,
		byTuple: map[[2]netip.AddrPort]string{}}
	for _, h := range w.Hosts() {
		n.owner[h.Addr()] = h.Name()
	}
	for _, h := range w.Hops() {
		if a := h.Addr(); a.IsValid() {
			n.owner[a] = h.Name()
		}
	}
	for _, t := range w.Transitions() {
		if t.To == sim.Listen {
			n.listen[t.Local] = true
		}
		k := [2]netip.AddrPort{t.Local, t.Remote}
		if name := n.socket(t.Host, t.Endpoint); name != "" && t.Remote.IsValid() && n.byTuple[k] == "" {
			n.byTuple[k] = name
		}
	}
	return n
}

// socket is the notebook's name of an endpoint, with its host, or "".
func (n *namer) socket(host string, endpoint int) string {
	if n.names == nil {
		return ""
	}
	if s := n.names(host, endpoint); s != "" {
		return host + " " + s
	}
	return ""
}

func (n *namer) addr(a netip.AddrPort) string {
	who, ok := n.owner[a.Addr()]
	if !ok {
		who = a.Addr().String()
	}
	if n.listen[a] || (a.Addr().IsLoopback() && n.listenPort(a.Port())) {
		return who + " :" + strconv.Itoa(int(a.Port()))
	}
	return who + " *"
}

func (n *namer) listenPort(p uint16) bool {
	for a := range n.listen {
		if a.Port() == p {
			return true
		}
	}
	return false
}

// numbered gives each name its occurrence number when it has more than one.
type numbered struct{ seen map[string]int }

func (c *numbered) next(name string) string {
	if c.seen == nil {
		c.seen = map[string]int{}
	}
	c.seen[name]++
	if k := c.seen[name]; k > 1 {
		return fmt.Sprintf("%s #%d", name, k)
	}
	return name
}

// sockets follows each endpoint's transitions.
func sockets(w *sim.World, n *namer) []Socket {
	type key struct {
		host string
		ep   int
	}
	type hist struct {
		name string
		ts   []sim.Transition
	}
	idx := map[key]int{}
	var hs []hist
	var names numbered
	for _, t := range w.Transitions() {
		k := key{t.Host, t.Endpoint}
		i, ok := idx[k]
		if !ok {
			i = len(hs)
			idx[k] = i
			name := n.socket(t.Host, t.Endpoint)
			switch {
			case name != "":
			case !t.Remote.IsValid():
				name = fmt.Sprintf("%s LISTEN :%d", t.Host, t.Local.Port())
			default:
				name = fmt.Sprintf("%s %s ↔ %s", t.Host, strings.TrimPrefix(n.addr(t.Local), t.Host+" "), n.addr(t.Remote))
			}
			hs = append(hs, hist{name: names.next(name)})
		}
		hs[i].ts = append(hs[i].ts, t)
	}
	out := make([]Socket, 0, len(hs))
	for _, h := range hs {
		s := Socket{Name: h.name}
		// Rested states: each transition's target, unless the next
		// transition leaves it at the same instant.
		var since time.Duration
		for i, t := range h.ts {
			if i+1 < len(h.ts) && h.ts[i+1].At == t.At {
				continue
			}
			if len(s.States) > 0 {
				s.Stays = append(s.Stays, t.At-since)
			}
			s.States = append(s.States, t.To)
			since = t.At
		}
		out = append(out, s)
	}
	return out
}

// conns lists each connection's segments per link.
func conns(w *sim.World, n *namer) []Conn {
	byTuple := map[string]*conn{} // lookups only
	var order []*conn
	var names numbered
	for _, r := range trace.Rows(w.Packets()) {
		if !r.TCP {
			continue
		}
		link := r.From + "-" + r.To
		if r.Fate == netem.Injected {
			link = "injected to " + r.To
		} else if r.From > r.To {
			link = r.To + "-" + r.From
		}
		a, b := r.H.Src, r.H.Dst
		if b.Compare(a) < 0 {
			a, b = b, a
		}
		tk := fmt.Sprintf("%s|%v|%v", link, a, b)
		c := byTuple[tk]
		if c == nil {
			name := n.byTuple[[2]netip.AddrPort{r.H.Src, r.H.Dst}]
			if name == "" {
				name = n.byTuple[[2]netip.AddrPort{r.H.Dst, r.H.Src}]
			}
			if name == "" {
				name = n.addr(r.H.Src) + " ↔ " + n.addr(r.H.Dst)
			}
			c = &conn{c: Conn{Name: names.next(link + ": " + name), Loopback: loopback(r)},
				isn: map[netip.AddrPort]uint32{}, got: map[netip.AddrPort][]arrival{}}
			byTuple[tk] = c
			order = append(order, c)
		}
		c.c.Segments = append(c.c.Segments, c.segment(r, n))
	}
	out := make([]Conn, 0, len(order))
	for _, c := range order {
		out = append(out, c.c)
	}
	return out
}

// conn is a connection on one link as the segments are read.
type conn struct {
	c Conn
	// isn holds each direction's ISN once its SYN was seen; got what
	// each side received, with its arrival, for what a TSecr echoes.
	isn map[netip.AddrPort]uint32
	got map[netip.AddrPort][]arrival
}

// arrival is a TSval that reached a side, and when.
type arrival struct {
	at    time.Duration
	tsval uint32
}

// Segment is one segment of a connection without its absolute numbers.
type Segment struct {
	// Dir is "client>server"; Flags its flags; Core the sequence and
	// acknowledgement numbers relative to each side's ISN and the length,
	// Fate what the link did to it.
	Dir, Core, Fate string
	Flags           netem.Flags
	// TS is what its TSecr is: "" (no timestamp option), "ecr 0", "echo"
	// (a TSval the sender received, which reached it at EchoedAt; NewerAt
	// is when the first newer one reached it before the segment left, -1
	// if none did) or "other".
	TS                string
	EchoedAt, NewerAt time.Duration
	// Sent is when it was sent, Arrived when it reached the other end
	// of the link (-1: never).
	Sent, Arrived time.Duration
}

// String is the segment as compare prints it: "client>server [F.] seq 1
// ack 1 ts echo last".
func (g Segment) String() string { return g.text(0) }

// text is String with the echo judged as a sender instant late would
// have: a TSval that reached it less than instant before it sent counts
// as not yet received.
func (g Segment) text(instant time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%v]%s", g.Dir, g.Flags, g.Core)
	switch g.TS {
	case "":
	case "echo":
		if g.NewerAt < 0 || g.NewerAt > g.Sent-instant {
			b.WriteString(" ts echo last")
		} else {
			b.WriteString(" ts echo older")
		}
	default:
		b.WriteString(" ts " + g.TS)
	}
	if g.Fate != "" {
		b.WriteString(" " + g.Fate)
	}
	return b.String()
}

// segment describes one segment without its absolute numbers.
func (c *conn) segment(r trace.Row, n *namer) Segment {
	h := r.H
	if h.Flags&netem.SYN != 0 {
		c.isn[h.Src] = h.Seq
	}
	g := Segment{Dir: strings.Fields(n.addr(h.Src))[0] + ">" + strings.Fields(n.addr(h.Dst))[0], Flags: h.Flags, Sent: r.Sent, Arrived: -1}
	if r.Fate != netem.Dropped && r.Delivered >= 0 {
		g.Arrived = r.Delivered
	}
	var b strings.Builder
	if isn, ok := c.isn[h.Src]; ok {
		fmt.Fprintf(&b, " seq %d", h.Seq-isn)
	} else {
		b.WriteString(" seq ?")
	}
	if h.Flags&netem.ACK != 0 {
		if isn, ok := c.isn[h.Dst]; ok {
			fmt.Fprintf(&b, " ack %d", h.Ack-isn)
		} else {
			b.WriteString(" ack ?")
		}
	}
	if h.PayloadLen > 0 {
		fmt.Fprintf(&b, " len %d", h.PayloadLen)
	}
	g.Core = b.String()
	if h.HasTS {
		// Of what the sender had received when it sent the segment, the
		// last arrival of the echoed TSval and the first newer arrival.
		g.TS, g.EchoedAt, g.NewerAt = "other", -1, -1
		got := c.got[h.Src]
		for _, a := range got {
			if a.at <= r.Sent && a.tsval == h.TS.Ecr && a.at >= g.EchoedAt {
				g.TS, g.EchoedAt = "echo", a.at
			}
		}
		for _, a := range got {
			if g.TS == "echo" && a.at <= r.Sent && a.at > g.EchoedAt && a.tsval != h.TS.Ecr && (g.NewerAt < 0 || a.at < g.NewerAt) {
				g.NewerAt = a.at
			}
		}
		if h.TS.Ecr == 0 {
			g.TS = "ecr 0"
		}
	}
	switch {
	case r.Fate == netem.Dropped && r.Rule != "":
		g.Fate = fmt.Sprintf("dropped (%s)", r.Rule)
	case r.Fate == netem.Dropped:
		g.Fate = "dropped"
	case r.Fate == netem.Duplicated:
		g.Fate = "duplicate"
	}
	if h.HasTS && r.Fate != netem.Dropped && r.Delivered >= 0 {
		c.got[h.Dst] = append(c.got[h.Dst], arrival{at: r.Delivered, tsval: h.TS.Val})
	}
	return g
}

// loopback is the host of a packet over its loopback interface, or "".
func loopback(r trace.Row) string {
	if r.From == r.To {
		return r.From
	}
	return ""
}
