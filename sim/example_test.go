package sim_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// Two hosts, one connection, the client closes first: every state change of
// both endpoints, TIME-WAIT included, on the virtual clock.
func ExampleWorld() {
	w := sim.New(sim.Options{Seed: 1})
	defer w.Close()
	client, _ := w.AddHost(sim.HostOptions{Name: "client", Addr: netip.MustParseAddr("10.0.0.1")})
	server, _ := w.AddHost(sim.HostOptions{Name: "server", Addr: netip.MustParseAddr("10.0.0.2"), MSL: 5 * time.Second})
	_, _ = w.AddLink(client, server, netem.Options{
		AtoB: netem.Path{Delay: 10 * time.Millisecond},
		BtoA: netem.Path{Delay: 10 * time.Millisecond},
	})
	l, _ := server.Listen(80, sim.SocketOptions{})
	l.OnAccept = func(c *sim.Socket) { c.OnEOF = func(c *sim.Socket) { _ = c.Close() } }
	c, _ := client.Connect(netip.MustParseAddrPort("10.0.0.2:80"), sim.SocketOptions{LocalPort: 40000})
	w.At(100*time.Millisecond, func() { _ = c.Close() })
	if err := w.Run(); err != nil {
		fmt.Println(err)
	}
	for _, t := range w.Transitions() {
		fmt.Printf("%-8v %s %v -> %v\n", t.At, t.Host, t.From, t.To)
	}
	// Output:
	// 0s       server CLOSED -> LISTEN
	// 0s       client CLOSED -> SYN-SENT
	// 10ms     server CLOSED -> SYN-RECEIVED
	// 20ms     client SYN-SENT -> ESTABLISHED
	// 30ms     server SYN-RECEIVED -> ESTABLISHED
	// 100ms    client ESTABLISHED -> FIN-WAIT-1
	// 110ms    server ESTABLISHED -> CLOSE-WAIT
	// 110ms    server CLOSE-WAIT -> LAST-ACK
	// 120ms    client FIN-WAIT-1 -> FIN-WAIT-2
	// 120ms    client FIN-WAIT-2 -> TIME-WAIT
	// 130ms    server LAST-ACK -> CLOSED
	// 1m0.12s  client TIME-WAIT -> CLOSED
}

// A connect that the ephemeral port range cannot serve fails at once with
// the errno Linux gives.
func ExampleHost_Connect_portExhaustion() {
	w := sim.New(sim.Options{})
	defer w.Close()
	client, _ := w.AddHost(sim.HostOptions{Name: "client", Addr: netip.MustParseAddr("10.0.0.1"), FirstPort: 50000, LastPort: 50000})
	server, _ := w.AddHost(sim.HostOptions{Name: "server", Addr: netip.MustParseAddr("10.0.0.2")})
	_, _ = w.AddLink(client, server, netem.Options{})
	_, _ = server.Listen(80, sim.SocketOptions{})
	dst := netip.MustParseAddrPort("10.0.0.2:80")
	_, err := client.Connect(dst, sim.SocketOptions{})
	fmt.Println("first:", err)
	_, err = client.Connect(dst, sim.SocketOptions{})
	fmt.Println("second:", sim.Errno(err))
	// Output:
	// first: <nil>
	// second: EADDRNOTAVAIL
}

// ParsePortRange checks the two ends of a port range the way
// net.ipv4.ip_local_port_range does.
func ExampleParsePortRange() {
	fmt.Println(sim.ParsePortRange("32768", "60999"))
	fmt.Println(sim.ParsePortRange("60999", "32768"))
	// Output:
	// 32768 60999 true
	// 0 0 false
}

// A client behind a NAT: the SYN crosses two links, once with the client's
// address and once with the NAT's, and the NAT's table holds the mapping.
func ExampleWorld_AddHop() {
	w := sim.New(sim.Options{Seed: 1})
	defer w.Close()
	client, _ := w.AddHost(sim.HostOptions{Name: "client", Addr: netip.MustParseAddr("192.168.1.2")})
	server, _ := w.AddHost(sim.HostOptions{Name: "server", Addr: netip.MustParseAddr("203.0.113.10")})
	gw, _ := w.AddHop(sim.HopOptions{Name: "gw", NAT: &netem.NATOptions{Addr: netip.MustParseAddr("198.51.100.1")}, Outside: "server"})
	ms := netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}}
	_, _ = w.AddLink(client, gw, ms)
	_, _ = w.AddLink(gw, server, ms)
	_, _ = server.Listen(80, sim.SocketOptions{})
	_, _ = client.Connect(netip.MustParseAddrPort("203.0.113.10:80"), sim.SocketOptions{LocalPort: 40000})
	_ = w.RunFor(10 * time.Millisecond)
	fmt.Println(sim.NodeNames(w.Route(client, server.Addr())))
	for _, p := range w.Packets()[:2] {
		h, _ := netem.Decode(p.Data)
		fmt.Printf("#%d %s>%s %v > %v ttl %d prev %d\n", p.ID, p.From, p.To, h.Src, h.Dst, p.Data[8], p.Prev)
	}
	for _, b := range gw.Table() {
		fmt.Println(b.Inside, "->", b.Outside, b.State)
	}
	// Output:
	// [client gw server]
	// #1 client>gw 192.168.1.2:40000 > 203.0.113.10:80 ttl 64 prev 0
	// #2 gw>server 198.51.100.1:40000 > 203.0.113.10:80 ttl 63 prev 1
	// 192.168.1.2:40000 -> 198.51.100.1:40000 ESTABLISHED
}
