package sim_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// topo builds hosts, hops and links from short descriptions; every link has
// 1 ms each way.
type topo struct {
	tb testing.TB
	w  *sim.World
}

func newTopo(tb testing.TB) *topo {
	tb.Helper()
	w := sim.New(sim.Options{Seed: 7})
	tb.Cleanup(func() {
		if n := w.AsyncOps(); n != 0 {
			tb.Errorf("AsyncOps = %d, want 0", n)
		}
		w.Close()
	})
	return &topo{tb: tb, w: w}
}

func (t *topo) host(name, addr string) *sim.Host {
	t.tb.Helper()
	h, err := t.w.AddHost(sim.HostOptions{Name: name, Addr: netip.MustParseAddr(addr)})
	require.NoError(t.tb, err)
	return h
}

func (t *topo) hop(o sim.HopOptions) *sim.Hop {
	t.tb.Helper()
	h, err := t.w.AddHop(o)
	require.NoError(t.tb, err)
	return h
}

func (t *topo) link(a, b sim.Node) *sim.Link {
	t.tb.Helper()
	l, err := t.w.AddLink(a, b, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}})
	require.NoError(t.tb, err)
	return l
}

func nat(name, addr, outside string) sim.HopOptions {
	return sim.HopOptions{Name: name, NAT: &netem.NATOptions{Addr: netip.MustParseAddr(addr)}, Outside: outside}
}

// echo makes h answer every request with the same bytes and close after
// the client does.
func echo(tb testing.TB, h *sim.Host, port uint16, opts sim.SocketOptions) {
	tb.Helper()
	l, err := h.Listen(port, opts)
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, b []byte) { _, _ = a.Send(b) }
		a.OnEOF = func(a *sim.Socket) { _ = a.Close() }
	}
}

// ask connects c to dst, sends msg and records what comes back.
func ask(tb testing.TB, c *sim.Host, dst netip.AddrPort, msg string, opts sim.SocketOptions) *[]byte {
	tb.Helper()
	got := new([]byte)
	s, err := c.Connect(dst, opts)
	require.NoError(tb, err)
	s.OnConnect = func(s *sim.Socket) { _, _ = s.Send([]byte(msg)) }
	s.OnData = func(s *sim.Socket, b []byte) {
		*got = append(*got, b...)
		_ = s.Close()
	}
	return got
}

// onLink returns the decoded headers of the packets that crossed from>to.
func onLink(w *sim.World, from, to string) []netem.Header {
	var out []netem.Header
	for _, p := range w.Packets() {
		if p.From == from && p.To == to && p.Fate != netem.Dropped {
			h, _ := netem.Decode(p.Data)
			out = append(out, h)
		}
	}
	return out
}

// TestNATBehindNAT: c1 and c2 sit behind a home NAT, which sits with c3
// behind a carrier-grade NAT in front of the server. Each translation is
// seen on its own link, every flow gets a distinct outside port at the
// server, and the replies find their way back through both NATs.
func TestNATBehindNAT(t *testing.T) {
	tp := newTopo(t)
	c1 := tp.host("c1", "192.168.1.2")
	c2 := tp.host("c2", "192.168.1.3")
	c3 := tp.host("c3", "100.64.0.9")
	srv := tp.host("server", "203.0.113.10")
	home := tp.hop(nat("home", "100.64.0.2", "cgn"))
	cgn := tp.hop(nat("cgn", "198.51.100.1", "server"))
	tp.link(c1, home)
	tp.link(c2, home)
	tp.link(home, cgn)
	tp.link(c3, cgn)
	tp.link(cgn, srv)
	echo(t, srv, 80, sim.SocketOptions{})

	assert.Equal(t, []string{"c1", "home", "cgn", "server"}, sim.NodeNames(tp.w.Route(c1, srv.Addr())))
	assert.Nil(t, tp.w.Route(srv, c1.Addr()), "the server has no route into the home network")
	assert.Nil(t, tp.w.Route(srv, home.Addr()), "nor to the home NAT's address, which is inside the CGN")
	assert.Equal(t, []string{"server", "cgn"}, sim.NodeNames(tp.w.Route(srv, cgn.Addr())))

	dst := netip.AddrPortFrom(srv.Addr(), 80)
	// c1 and c2 use the same local port: the home NAT must tell them apart.
	g1 := ask(t, c1, dst, "one", sim.SocketOptions{LocalPort: 40000})
	g2 := ask(t, c2, dst, "two", sim.SocketOptions{LocalPort: 40000})
	g3 := ask(t, c3, dst, "three", sim.SocketOptions{LocalPort: 40000})
	require.NoError(t, tp.w.RunFor(10*time.Second))
	assert.Equal(t, "one", string(*g1))
	assert.Equal(t, "two", string(*g2))
	assert.Equal(t, "three", string(*g3))

	// On the home>cgn link every source is the home NAT's address; on
	// cgn>server every source is the CGN's, and the three flows keep three
	// distinct ports.
	for _, h := range onLink(tp.w, "home", "cgn") {
		assert.Equal(t, home.Addr(), h.Src.Addr(), "home>cgn source")
	}
	ports := map[uint16]bool{}
	for _, h := range onLink(tp.w, "cgn", "server") {
		assert.Equal(t, cgn.Addr(), h.Src.Addr(), "cgn>server source")
		ports[h.Src.Port()] = true
	}
	assert.Len(t, ports, 3, "the server sees three flows")

	// Both tables list their mappings: two at home, three at the CGN.
	assert.Len(t, home.Table(), 2)
	assert.Len(t, cgn.Table(), 3)
	var insides []netip.Addr
	for _, b := range cgn.Table() {
		insides = append(insides, b.Inside.Addr())
	}
	slices.SortFunc(insides, netip.Addr.Compare)
	assert.Equal(t, []netip.Addr{home.Addr(), home.Addr(), c3.Addr()}, insides, "the CGN's inside hosts")

	// A forwarded packet points at the packet it came from, and keeps its
	// sender.
	for _, p := range tp.w.Packets() {
		if p.From == "cgn" && p.To == "server" {
			require.NotZero(t, p.Prev)
			prev := tp.w.Packets()[p.Prev-1]
			assert.Contains(t, []string{"home", "c3"}, prev.From)
			assert.Equal(t, "cgn", prev.To)
			assert.Contains(t, []string{"c1", "c2", "c3"}, p.Sender)
		}
	}
}

// TestNoRouteInside: the server has no route to an address inside a NAT;
// its SYN is dropped where it is sent, and the connect times out.
func TestNoRouteInside(t *testing.T) {
	tp := newTopo(t)
	c := tp.host("c", "192.168.1.2")
	srv := tp.host("server", "203.0.113.10")
	gw := tp.hop(nat("gw", "198.51.100.1", "server"))
	tp.link(c, gw)
	tp.link(gw, srv)
	echo(t, c, 80, sim.SocketOptions{})
	_, err := srv.Connect(netip.AddrPortFrom(c.Addr(), 80), sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, tp.w.RunFor(time.Second))
	pkts := tp.w.Packets()
	require.NotEmpty(t, pkts)
	assert.Equal(t, "server", pkts[0].From)
	assert.Equal(t, netem.Dropped, pkts[0].Fate)
	assert.Equal(t, "no route", pkts[0].Rule)

	// And a SYN to the NAT's address with no mapping is filtered there.
	_, err = srv.Connect(netip.AddrPortFrom(gw.Addr(), 80), sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, tp.w.RunFor(100*time.Millisecond))
	var filtered []sim.Packet
	for _, p := range tp.w.Packets() {
		if p.From == "gw" && p.Fate == netem.Dropped {
			filtered = append(filtered, p)
		}
	}
	require.Len(t, filtered, 1)
	assert.Equal(t, "nat: no mapping for port 80 from 203.0.113.10:54042", filtered[0].Rule)
}

// TestSharedSegment: three hosts on one switch (a router hop). Any two talk
// through it; each crossing decrements the TTL once, and a host's packets
// reach only the host they are addressed to.
func TestSharedSegment(t *testing.T) {
	tp := newTopo(t)
	lan := tp.hop(sim.HopOptions{Name: "lan"})
	var hs []*sim.Host
	for i, n := range []string{"a", "b", "c"} {
		h := tp.host(n, netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}).String())
		tp.link(h, lan)
		echo(t, h, 80, sim.SocketOptions{})
		hs = append(hs, h)
	}
	got := ask(t, hs[0], netip.AddrPortFrom(hs[2].Addr(), 80), "a to c", sim.SocketOptions{})
	got2 := ask(t, hs[1], netip.AddrPortFrom(hs[0].Addr(), 80), "b to a", sim.SocketOptions{})
	require.NoError(t, tp.w.RunFor(5*time.Second))
	assert.Equal(t, "a to c", string(*got))
	assert.Equal(t, "b to a", string(*got2))
	for _, p := range tp.w.Packets() {
		ttl := p.Data[8]
		switch {
		case p.From == "lan":
			assert.Equal(t, byte(63), ttl, "#%d after the switch", p.ID)
		default:
			assert.Equal(t, byte(64), ttl, "#%d as sent", p.ID)
		}
	}
	for _, h := range hs {
		got := onLink(tp.w, "lan", h.Name())
		assert.NotEmpty(t, got)
		for _, hd := range got {
			assert.Equal(t, h.Addr(), hd.Dst.Addr(), "lan>%s carries only what is addressed to %s", h.Name(), h.Name())
		}
	}
	assert.Equal(t, []string{"a", "lan", "c"}, sim.NodeNames(tp.w.Path(hs[0], hs[2])))
}

// TestHairpin: c2 is reachable at its mapping on the NAT's outside address
// (made by an earlier connection from its port 8080 to the server). c1,
// behind the same NAT, connects to that outside address and port; the NAT
// turns the packets around (RFC 5382 REQ-9), so c1 and c2 talk with no link
// between them, each seeing the other at the NAT's address.
func TestHairpin(t *testing.T) {
	tp := newTopo(t)
	c1 := tp.host("c1", "192.168.1.2")
	c2 := tp.host("c2", "192.168.1.3")
	srv := tp.host("server", "203.0.113.10")
	gw := tp.hop(nat("gw", "198.51.100.1", "server"))
	tp.link(c1, gw)
	tp.link(c2, gw)
	tp.link(gw, srv)
	echo(t, srv, 80, sim.SocketOptions{})

	reuse := sim.SocketOptions{LocalPort: 8080, ReuseAddr: true}
	first := ask(t, c2, netip.AddrPortFrom(srv.Addr(), 80), "hello", reuse)
	require.NoError(t, tp.w.RunFor(time.Second))
	require.Equal(t, "hello", string(*first))
	echo(t, c2, 8080, reuse)

	got := ask(t, c1, netip.AddrPortFrom(gw.Addr(), 8080), "via the NAT", sim.SocketOptions{})
	require.NoError(t, tp.w.RunFor(time.Second))
	assert.Equal(t, "via the NAT", string(*got))
	turned := 0
	for _, h := range onLink(tp.w, "gw", "c2") {
		if h.Dst.Port() == 8080 && h.Src.Port() != 80 {
			assert.Equal(t, gw.Addr(), h.Src.Addr(), "c2 sees c1 at the NAT's address")
			turned++
		}
	}
	assert.GreaterOrEqual(t, turned, 4, "c1's SYN, ACK, data and FIN reach c2 hairpinned")

	// With hairpinning off, the SYN dies at the NAT.
	tp2 := newTopo(t)
	c1 = tp2.host("c1", "192.168.1.2")
	o := nat("gw", "198.51.100.1", "server")
	o.NAT.NoHairpin = true
	gw = tp2.hop(o)
	tp2.link(c1, gw)
	_, err := c1.Connect(netip.AddrPortFrom(gw.Addr(), 8080), sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, tp2.w.RunFor(100*time.Millisecond))
	pkts := tp2.w.Packets()
	require.Len(t, pkts, 2)
	assert.Equal(t, "nat: hairpinning is off", pkts[1].Rule)
}

// TestConnectToOwnAddress: a host that connects to its own address talks to
// itself, as Linux does through lo (its local routing table: "local
// 10.0.0.1 dev lo"): every packet is from the host to the host, and none
// leaves on its link. The packets went to the link and were dropped as
// having no route before. (Their size is the NIC's MTU's, not lo's as in
// Linux: docs/gvisor-vs-linux.md.)
func TestConnectToOwnAddress(t *testing.T) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		t.Run(p.String(), func(t *testing.T) {
			tp := newTopo(t)
			a, err := tp.w.AddHost(sim.HostOptions{Name: "a", Addr: clientIP, Profile: p})
			require.NoError(t, err)
			tp.link(a, tp.host("b", "10.0.0.2"))
			echo(t, a, 80, sim.SocketOptions{})
			got := ask(t, a, netip.AddrPortFrom(clientIP, 80), "to myself", sim.SocketOptions{})
			require.NoError(t, tp.w.RunFor(time.Second))
			assert.Equal(t, "to myself", string(*got))
			pkts := tp.w.Packets()
			require.GreaterOrEqual(t, len(pkts), 6, "handshake, data, echo, FINs")
			for _, pk := range pkts {
				assert.Equal(t, [2]string{"a", "a"}, [2]string{pk.From, pk.To}, "#%d", pk.ID)
				assert.Equal(t, netem.Delivered, pk.Fate, "#%d", pk.ID)
			}
		})
	}
}

// TestBadTopology: names, addresses and NAT options are checked when the
// hop is added.
func TestBadTopology(t *testing.T) {
	tp := newTopo(t)
	tp.host("c", "10.0.0.1")
	for _, tc := range []struct {
		o    sim.HopOptions
		want string
	}{
		{sim.HopOptions{}, "a name is required"},
		{sim.HopOptions{Name: "c"}, "the name is taken"},
		{nat("gw", "10.0.0.1", "c"), "address 10.0.0.1 is c's"},
		{sim.HopOptions{Name: "gw", NAT: &netem.NATOptions{Addr: netip.MustParseAddr("10.0.0.9")}}, "name its outside neighbour"},
		{sim.HopOptions{Name: "gw", Outside: "c"}, "Outside is for a NAT"},
	} {
		_, err := tp.w.AddHop(tc.o)
		if assert.Error(t, err, "%+v", tc.o) {
			assert.Contains(t, err.Error(), tc.want)
		}
	}
	gw := tp.hop(nat("gw", "10.0.0.9", "c"))
	_, err := tp.w.AddHost(sim.HostOptions{Name: "d", Addr: netip.MustParseAddr("10.0.0.9")})
	assert.ErrorContains(t, err, "address 10.0.0.9 is already gw's")
	_, err = tp.w.AddLink(gw, gw, netem.Options{})
	assert.ErrorContains(t, err, "cannot be linked to itself")
}
