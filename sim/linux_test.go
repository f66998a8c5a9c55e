package sim_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

// natWorld builds two clients behind a NAT (10.0.1.1) and a server with
// the given sysctls under the linux profile; the server closes first.
func natWorld(tb testing.TB, seed uint64, sysctls ...string) (*sim.World, *sim.Host, *sim.Host, *sim.Host) {
	tb.Helper()
	w := sim.New(sim.Options{Seed: seed})
	tb.Cleanup(w.Close)
	c1, err := w.AddHost(sim.HostOptions{Name: "c1", Addr: netip.MustParseAddr("10.0.0.1")})
	require.NoError(tb, err)
	c2, err := w.AddHost(sim.HostOptions{Name: "c2", Addr: netip.MustParseAddr("10.0.0.3")})
	require.NoError(tb, err)
	s, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP, Profile: sim.Linux, Kernel: timewait.Linux49, Sysctls: sysctls})
	require.NoError(tb, err)
	gw, err := w.AddHop(sim.HopOptions{Name: "gw", NAT: &netem.NATOptions{Addr: netip.MustParseAddr("10.0.1.1")}, Outside: "server"})
	require.NoError(tb, err)
	_, err = w.AddLink(gw, s, netem.Options{AtoB: netem.Path{Delay: 4 * time.Millisecond}, BtoA: netem.Path{Delay: 4 * time.Millisecond}})
	require.NoError(tb, err)
	for _, c := range []*sim.Host{c1, c2} {
		_, err := w.AddLink(c, gw, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}})
		require.NoError(tb, err)
	}
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, _ []byte) { _, _ = a.Send([]byte("bye")); _ = a.Close() }
	}
	return w, c1, c2, s
}

// request makes one request from c; the server answers and closes first.
func request(tb testing.TB, c *sim.Host) *sim.Socket {
	tb.Helper()
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(tb, err)
	cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("hi")) }
	cs.OnEOF = func(cs *sim.Socket) { _ = cs.Close() }
	return cs
}

func counter(tb testing.TB, h *sim.Host, name string) uint64 {
	tb.Helper()
	v, ok := h.CounterValue(name)
	require.True(tb, ok, "no counter %s", name)
	return v
}

// TestTWRecycleBehindNAT: two clients share 10.0.1.1. With tcp_tw_recycle=1
// the server caches c1's timestamp when its connection enters TIME-WAIT; c2's
// timestamp clock is behind (seed 1), so its SYN and every retransmission are
// dropped silently and counted as PAWSPassive, until the cache entry is 60 s
// old. With tcp_tw_recycle=0 both connect at once.
func TestTWRecycleBehindNAT(t *testing.T) {
	w, c1, c2, s := natWorld(t, 1, "tcp_tw_recycle=1")
	request(t, c1)
	require.NoError(t, w.RunFor(time.Second))
	c2s := request(t, c2)
	require.NoError(t, w.RunFor(70*time.Second))

	var dropped []sim.Packet
	var cachedAt time.Duration
	for _, p := range w.Packets() {
		h, _ := netem.Decode(p.Data)
		if p.To != "server" {
			continue // the same segment on the link into the NAT
		}
		if p.Sender == "c1" && h.Flags == netem.ACK|netem.FIN {
			cachedAt = p.Delivered // the last timestamp the server took from c1
		}
		if p.Sender == "c2" && h.Flags == netem.SYN {
			if p.Discarded != "" {
				assert.Contains(t, p.Discarded, "tcp_tw_recycle")
				dropped = append(dropped, p)
			} else {
				assert.GreaterOrEqual(t, p.Delivered-cachedAt, 60*time.Second, "SYN #%d accepted %v after the cache", p.ID, p.Delivered-cachedAt)
			}
		}
	}
	assert.Len(t, dropped, 6, "c2's SYNs at 1, 2, 4, 8, 16, 32 s are dropped")
	for _, p := range dropped {
		assert.Less(t, p.Delivered-cachedAt, 60*time.Second)
	}
	assert.Equal(t, uint64(6), counter(t, s, "TcpExtPAWSPassive"))
	assert.Equal(t, uint64(6), counter(t, s, "TcpExtListenDrops"))
	assert.True(t, c2s.Connected(), "c2 connects once the cached timestamp is 60 s old")
	assert.Equal(t, uint64(0), counter(t, s, "TcpOutRsts"), "a dropped SYN gets no answer")

	w0, c1, c2, s0 := natWorld(t, 1, "tcp_tw_recycle=0")
	request(t, c1)
	require.NoError(t, w0.RunFor(time.Second))
	c2s = request(t, c2)
	require.NoError(t, w0.RunFor(100*time.Millisecond))
	assert.True(t, c2s.Connected(), "without tw_recycle c2 connects at once")
	assert.Equal(t, uint64(0), counter(t, s0, "TcpExtPAWSPassive"))
}

// reusePair is a client that closes first to a server, with a two-port
// range, the given client profile and sysctls.
func reuseRun(tb testing.TB, p sim.Profile, sysctls ...string) (w *sim.World, c *sim.Host, third error) {
	tb.Helper()
	w, c, s := pair(tb, sim.Options{}, sim.HostOptions{Profile: p, Sysctls: append([]string{"ip_local_port_range=40000 40001"}, sysctls...)},
		sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	for i := 0; i < 2; i++ {
		cs, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(tb, err)
		require.NoError(tb, w.RunFor(10*time.Millisecond))
		require.NoError(tb, cs.Close())
		require.NoError(tb, w.RunFor(10*time.Millisecond))
	}
	require.NoError(tb, w.RunFor(2*time.Second)) // more than 1 s since the last timestamp
	_, third = c.Connect(server80, sim.SocketOptions{})
	require.NoError(tb, w.RunFor(10*time.Millisecond))
	return w, c, third
}

// TestTWReuse: under the linux profile tcp_tw_reuse=1 reuses a TIME-WAIT
// tuple only when the old connection had timestamps; gVisor reuses it
// without.
func TestTWReuse(t *testing.T) {
	_, c, err := reuseRun(t, sim.Linux, "tcp_tw_reuse=1")
	assert.NoError(t, err, "linux, timestamps on: reuse after 1 s")
	assert.Equal(t, uint64(1), counter(t, c, "TcpExtTWRecycled"))

	_, c, err = reuseRun(t, sim.Linux, "tcp_tw_reuse=1", "tcp_timestamps=0")
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(err), "linux, timestamps off: no reuse: %v", err)
	assert.Equal(t, uint64(0), counter(t, c, "TcpExtTWRecycled"))

	// gVisor's Global mode reuses a tuple whose connection had no
	// timestamps at once: the second connect already takes over the first
	// one's TIME-WAIT, and the third the second's.
	_, c, err = reuseRun(t, sim.GVisor, "tcp_tw_reuse=1", "tcp_timestamps=0")
	assert.NoError(t, err, "gvisor Global mode reuses without timestamps")
	assert.Equal(t, uint64(2), counter(t, c, "TcpExtTWRecycled"))

	_, c, err = reuseRun(t, sim.Linux) // Linux's default, 2: loopback only
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(err))
	assert.Equal(t, "2", must(c.Sysctl("tcp_tw_reuse")))
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestMaxTWBuckets: with tcp_max_tw_buckets=N, N+K active closes leave
// exactly N sockets in TIME-WAIT, count K overflows, log nothing (6.18's
// tcp_time_wait only counts), and put nothing extra on the wire.
func TestMaxTWBuckets(t *testing.T) {
	const n, k = 3, 2
	closes := func(sysctls ...string) (*sim.World, *sim.Host) {
		w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Sysctls: sysctls}, sim.HostOptions{}, netem.Options{})
		l, err := s.Listen(80, sim.SocketOptions{})
		require.NoError(t, err)
		l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
		for i := 0; i < n+k; i++ {
			w.At(time.Duration(i)*100*time.Millisecond, func() {
				cs, err := c.Connect(server80, sim.SocketOptions{})
				require.NoError(t, err)
				cs.OnConnect = func(cs *sim.Socket) { _ = cs.Close() }
			})
		}
		require.NoError(t, w.RunFor(10*time.Second))
		return w, c
	}
	w, c := closes("tcp_max_tw_buckets=3")
	assert.Equal(t, n, c.StateCount(sim.TimeWait))
	assert.Equal(t, uint64(k), counter(t, c, "TcpExtTCPTimeWaitOverflow"))
	assert.Equal(t, n, c.TimeWaitSockets())
	assert.Empty(t, c.Log(), "kernel log")

	ref, _ := closes() // the same run without a limit
	assert.Equal(t, len(ref.Packets()), len(w.Packets()), "packets with and without the limit")
	for _, tr := range w.Transitions() {
		if tr.From == sim.TimeWait && tr.At < 10*time.Second {
			assert.Contains(t, tr.Cause, "tcp_max_tw_buckets")
		}
	}
}

// TestRFC1337: with tcp_rfc1337=0 (Linux's default) an RST at RCV.NXT kills
// TIME-WAIT at once; with 1 it is ignored and TIME-WAIT ends on time.
func TestRFC1337(t *testing.T) {
	run := func(v string) (began, end, rstAt time.Duration) {
		w, c, _, rst := inTimeWait(t, sim.HostOptions{Profile: sim.Linux, MSL: 5 * time.Second, Sysctls: []string{"tcp_rfc1337=" + v}})
		rstAt = time.Second
		_, err := w.Inject(c, rstAt, rst)
		require.NoError(t, err)
		require.NoError(t, w.Run())
		for _, tr := range w.Transitions() {
			if tr.Host == "client" && tr.To == sim.TimeWait {
				began = tr.At
			}
			if tr.Host == "client" && tr.From == sim.TimeWait {
				return began, tr.At, rstAt
			}
		}
		t.Fatal("TIME-WAIT never ended")
		return 0, 0, 0
	}
	_, end, rstAt := run("0")
	assert.Equal(t, rstAt, end, "rfc1337=0: the RST kills TIME-WAIT when it arrives")
	began, end, _ := run("1")
	onTheWheel(t, began, 10*time.Second, end, "rfc1337=1: TIME-WAIT ends after 2×MSL")
}

func TestBadSysctls(t *testing.T) {
	w := sim.New(sim.Options{})
	defer w.Close()
	for _, c := range []struct {
		o    sim.HostOptions
		want string
	}{
		{sim.HostOptions{Sysctls: []string{"tcp_tw_reuse=3"}}, "net.ipv4.tcp_tw_reuse = \"3\": want 0 (off), 1 (global) or 2 (loopback only)"},
		{sim.HostOptions{Sysctls: []string{"tcp_bogus=1"}}, "unknown knob \"tcp_bogus\": want one of net.ipv4.tcp_timestamps"},
		{sim.HostOptions{Sysctls: []string{"ip_local_port_range=60999 32768"}}, "net.ipv4.ip_local_port_range = \"60999 32768\": want \"FIRST LAST\" with 1 <= FIRST <= LAST <= 65535"},
		{sim.HostOptions{Sysctls: []string{"tcp_tw_recycle=1"}}, "net.ipv4.tcp_tw_recycle = 1: gVisor has no tw_recycle; it is modelled only under profile=linux"},
		{sim.HostOptions{Sysctls: []string{"tcp_rfc1337=0"}}, "gVisor has RFC 1337 always on"},
		{sim.HostOptions{Sysctls: []string{"tcp_max_tw_buckets=-1"}}, "want a number of TIME-WAIT sockets from 0 to 2147483647"},
		{sim.HostOptions{Sysctls: []string{"tcp_timestamps"}}, "sysctl \"tcp_timestamps\": want NAME=VALUE"},
		// Linux's ranges (a value past them would overflow the model).
		{sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_tw_reuse_delay=4294967297"}}, "want milliseconds from 1 to 60000 (TCP_PAWS_MSL)"},
		{sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_tw_reuse_delay=60001"}}, "want milliseconds from 1 to 60000"},
		{sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_fin_timeout=10000000000"}}, "want a number of seconds from 1 to 8589934"},
		{sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_invalid_ratelimit=2147483648"}}, "want milliseconds from 0 to 2147483647"},
		{sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_max_tw_buckets=2147483648"}}, "want a number of TIME-WAIT sockets from 0 to 2147483647"},
	} {
		c.o.Name, c.o.Addr = "h", clientIP
		_, err := w.AddHost(c.o)
		assert.ErrorContains(t, err, c.want)
	}
	assert.True(t, strings.HasPrefix(sim.SysctlNames()[0], "net.ipv4."))
}

// TestParsePortRange: the range check shared by ip_local_port_range and
// the scenario NAT's port_range.
func TestParsePortRange(t *testing.T) {
	for _, c := range []struct {
		first, last string
		lo, hi      uint16
		ok          bool
	}{
		{"32768", "60999", 32768, 60999, true},
		{"1", "65535", 1, 65535, true},
		{"5000", "5000", 5000, 5000, true},
		{"0", "10", 0, 0, false},
		{"10", "65536", 0, 0, false},
		{"20", "10", 0, 0, false},
		{"x", "10", 0, 0, false},
		{"10", "", 0, 0, false},
	} {
		lo, hi, ok := sim.ParsePortRange(c.first, c.last)
		assert.Equal(t, []any{c.lo, c.hi, c.ok}, []any{lo, hi, ok}, "ParsePortRange(%q, %q): got (lo, hi, ok), want", c.first, c.last)
	}
}

// TestRejectedPortRangeKeepsOld: a rejected ip_local_port_range leaves the
// host's range as it was.
func TestRejectedPortRangeKeepsOld(t *testing.T) {
	w := sim.New(sim.Options{})
	defer w.Close()
	h, err := w.AddHost(sim.HostOptions{Name: "h", Addr: clientIP, Sysctls: []string{"ip_local_port_range=40000 40010"}})
	require.NoError(t, err)
	for _, bad := range []string{"40010 40000", "0 10", "1 2 3", "x"} {
		assert.Error(t, h.SetSysctl("net.ipv4.ip_local_port_range", bad), "%q", bad)
	}
	got, err := h.Sysctl("net.ipv4.ip_local_port_range")
	require.NoError(t, err)
	assert.Equal(t, "40000\t40010", got, "range after rejected values: got, want")
}

// A linux-profile host closes a listener: the listener reaches CLOSED and
// the policy layer lets go of it (a listener's tuple has no remote; this
// once panicked in forget).
func TestLinuxCloseListener(t *testing.T) {
	w, _, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(time.Second))
	require.NoError(t, l.Close())
	assert.Equal(t, sim.Closed, l.State(), "a closed listener")
	var got []string
	for _, tr := range w.Transitions() {
		got = append(got, tr.From.String()+">"+tr.To.String())
	}
	assert.Equal(t, []string{"CLOSED>LISTEN", "LISTEN>CLOSED"}, got)
}

// TestLinuxEchoesTheFIN: Linux takes a segment's TSval into ts_recent
// before it acknowledges it (tcp_ack with FLAG_UPDATE_TS_RECENT, then
// tcp_replace_ts_recent: the segment starts at or before RCV.WUP), and
// every segment's TSecr is ts_recent (tcp_established_options). So the
// linux-profile server's ACK of the client's FIN echoes the FIN's TSval;
// gVisor's echoed the segment before.
func TestLinuxEchoesTheFIN(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	clientCloses(t, w, c, s, 100*time.Millisecond, 100*time.Millisecond)
	var fin *netem.Header
	answered := false
	for _, p := range w.Packets() {
		h, _ := netem.Decode(p.Data)
		switch {
		case p.From == "client" && h.Flags&netem.FIN != 0:
			fin = &h
		case p.From == "server" && fin != nil && h.Flags&netem.ACK != 0 && h.Ack == fin.Seq+1:
			require.True(t, h.HasTS)
			assert.Equal(t, fin.TS.Val, h.TS.Ecr, "TSecr of the server's %v acknowledging the FIN: got %d, want the FIN's TSval %d", h.Flags, h.TS.Ecr, fin.TS.Val)
			answered = true
		}
	}
	require.NotNil(t, fin, "the client sent no FIN")
	assert.True(t, answered, "the server never acknowledged the FIN")
}

// finACK runs one connection to a linux-profile server that reads what
// arrives and, when closeOnEOF, closes as soon as it reads the client's
// FIN; the client sends data first when data is set. It returns the
// server's segments after the client's FIN and the FIN's arrival.
func finACK(t *testing.T, data string, closeOnEOF bool) (after []netem.Header, at []time.Duration, finArrived time.Duration) {
	t.Helper()
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) {
		if closeOnEOF {
			a.OnEOF = func(a *sim.Socket) { require.NoError(t, a.Close()) }
		}
	}
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(100*time.Millisecond))
	if data != "" {
		_, err := cs.Send([]byte(data))
		require.NoError(t, err)
		require.NoError(t, w.RunFor(50*time.Millisecond))
	}
	require.NoError(t, cs.Close())
	require.NoError(t, w.RunFor(500*time.Millisecond))
	finArrived = -1
	for _, p := range w.Packets() {
		h, _ := netem.Decode(p.Data)
		switch {
		case p.From == "client" && h.Flags&netem.FIN != 0 && finArrived < 0:
			finArrived = p.Delivered
		case p.From == "server" && finArrived >= 0:
			after, at = append(after, h), append(at, p.Sent)
		}
	}
	require.GreaterOrEqual(t, finArrived, time.Duration(0), "the client sent no FIN")
	return after, at, finArrived
}

// TestLinuxDelaysTheACKOfAFIN: a FIN in ESTABLISHED puts Linux in pingpong
// mode (tcp_fin), so its ACK waits for the delayed-ACK timer
// (__tcp_ack_snd_check, tcp_send_delayed_ack): ato is 0 on a connection
// that received no data, so the timer fires at the next tick (0-4 ms at
// HZ=250), and TCP_ATO_MIN, 10 jiffies, after data, so it fires at the
// 11th tick (40-44 ms). An application that closes on reading EOF sends
// its FIN first, and the FIN carries the ACK: no pure ACK at all. (The
// real kernel: 195 of 200 closes folded the ACK into the FIN.)
func TestLinuxDelaysTheACKOfAFIN(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     string
		min, max time.Duration
	}{
		{"no data", "", 0, 4 * time.Millisecond},
		{"after data", "GET / HTTP/1.1\r\n\r\n", 40 * time.Millisecond, 44 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			segs, at, fin := finACK(t, c.data, false)
			require.NotEmpty(t, segs, "the server never acknowledged the FIN")
			assert.Equal(t, netem.ACK, segs[0].Flags)
			d := at[0] - fin
			assert.True(t, d > c.min && d <= c.max, "ACK of the FIN %v after it arrived, want in (%v, %v]", d, c.min, c.max)

			segs, _, _ = finACK(t, c.data, true)
			require.NotEmpty(t, segs)
			assert.Equal(t, netem.FIN|netem.ACK, segs[0].Flags, "an application that closes on EOF: its FIN carries the ACK, no pure ACK comes first")
		})
	}
}

// TestLinuxDelayedACKsOfOneTickNewestFirst: three FINs arriving in one
// jiffy arm three delayed-ACK timers that expire in the same tick, and a
// timer wheel bucket runs its timers newest first (enqueue_timer adds at
// the head of the bucket's list, expire_timers takes from the head): the
// kernel ACKed the third FIN first (the conformance run of
// linux-fin-wait-2). In the order they were set, the first would go
// first.
func TestLinuxDelayedACKsOfOneTickNewestFirst(t *testing.T) {
	w, socks := connections(t, 3, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, false)
	for _, cs := range socks {
		require.NoError(t, cs.Close())
	}
	require.NoError(t, w.RunFor(100*time.Millisecond))
	var fins, acks []uint16
	var finAt, ackAt []time.Duration
	for _, p := range w.Packets() {
		h, _ := netem.Decode(p.Data)
		switch {
		case p.From == "client" && h.Flags&netem.FIN != 0:
			fins, finAt = append(fins, h.Src.Port()), append(finAt, p.Delivered)
		case p.From == "server" && h.Flags == netem.ACK && p.Sent > finAt[0]:
			acks, ackAt = append(acks, h.Dst.Port()), append(ackAt, p.Sent)
		}
	}
	require.Len(t, fins, 3)
	require.Len(t, acks, 3, "the server's pure ACKs of the three FINs")
	require.Equal(t, finAt[0], finAt[2], "the FINs arrive in one instant")
	require.Equal(t, ackAt[0], ackAt[2], "their timers expire in one tick")
	assert.Equal(t, []uint16{fins[2], fins[1], fins[0]}, acks, "the ACKs leave newest timer first")
}

// TestLinuxCountsSegmentsToNoSocket: tcp_v4_rcv counts TCP_MIB_INSEGS
// before it looks a socket up, so a SYN to a port nobody listens on is an
// InSeg of the host that resets it; gVisor counts only segments an
// endpoint takes.
func TestLinuxCountsSegmentsToNoSocket(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	_, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(100*time.Millisecond))
	in, _ := s.CounterValue("TcpInSegs")
	rst, _ := s.CounterValue("TcpOutRsts")
	assert.Equal(t, uint64(1), in, "the SYN to a closed port is counted in TcpInSegs")
	assert.Equal(t, uint64(1), rst, "and reset")
}

// TestLinuxCounters: Linux counts a connection in TcpCurrEstab while it is
// ESTABLISHED or CLOSE-WAIT (tcp_set_state), and leaves retransmissions out
// of TcpOutSegs (__tcp_transmit_skb counts a segment only when it sends new
// sequence space or none); gVisor drops a CLOSE-WAIT connection from
// CurrentEstablished and counts every segment sent.
func TestLinuxCounters(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux}, sim.HostOptions{Profile: sim.Linux},
		netem.Options{AtoB: netem.Path{Delay: 10 * time.Millisecond}, BtoA: netem.Path{Delay: 10 * time.Millisecond}})
	clientCloses(t, w, c, s, 100*time.Millisecond, 100*time.Millisecond) // the server's application never closes: CLOSE-WAIT
	v, _ := s.CounterValue("TcpCurrEstab")
	assert.Equal(t, uint64(1), v, "server TcpCurrEstab with its connection in CLOSE-WAIT")
	v, _ = c.CounterValue("TcpCurrEstab")
	assert.Equal(t, uint64(0), v, "client TcpCurrEstab in FIN-WAIT-2")

	// The link drops the client's FIN twice: it is sent three times.
	w2, c2, s2 := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	l := w2.Link(c2, s2)
	require.NoError(t, l.AddRule(netem.Rule{Name: "lose the FIN", Match: netem.Match{Dir: l.Dir(c2), Flags: netem.FIN}, Action: netem.Action{Kind: netem.Drop}, Count: 2}))
	clientCloses(t, w2, c2, s2, 100*time.Millisecond, 5*time.Second)
	fins := 0
	for _, f := range flagsFrom(w2, "client") {
		if strings.Contains(f, "F") {
			fins++
		}
	}
	require.Equal(t, 3, fins, "the client's FINs: %v", flagsFrom(w2, "client"))
	out, _ := c2.CounterValue("TcpOutSegs")
	retrans, _ := c2.CounterValue("TcpRetransSegs")
	assert.Equal(t, uint64(2), retrans)
	assert.Equal(t, uint64(len(flagsFrom(w2, "client"))-2), out, "TcpOutSegs leaves the two retransmissions out")
}

// TestLinuxPassesFinWait2: a FIN that carries the ACK of our FIN takes
// Linux through FIN-WAIT-2 (tcp_rcv_state_process sets it on the ACK, then
// tcp_fin moves on to TIME-WAIT); gVisor goes straight to TIME-WAIT, so the
// linux profile places FIN-WAIT-2 between, inferred.
func TestLinuxPassesFinWait2(t *testing.T) {
	segs, _, _ := finACK(t, "", true)
	require.NotEmpty(t, segs)
	require.Equal(t, netem.FIN|netem.ACK, segs[0].Flags, "the server's FIN carries the ACK of the client's")
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { require.NoError(t, a.Close()) } }
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(100*time.Millisecond))
	require.NoError(t, cs.Close())
	require.NoError(t, w.RunFor(100*time.Millisecond))
	var got []string
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.From == sim.FinWait1 || tr.Host == "client" && tr.To == sim.TimeWait {
			got = append(got, fmt.Sprintf("%v>%v inferred=%v", tr.From, tr.To, tr.Inferred))
		}
	}
	assert.Equal(t, []string{"FIN-WAIT-1>FIN-WAIT-2 inferred=true", "FIN-WAIT-2>TIME-WAIT inferred=false"}, got)
}

// TestLinuxCountsCorruptSegments: tcp_v4_rcv counts TCP_MIB_INSEGS ("Count
// it even if it's bad") before skb_checksum_init drops a segment whose TCP
// checksum is wrong; a packet whose IPv4 header checksum is wrong never
// reaches it (ip_rcv drops it). gVisor counts neither.
func TestLinuxCountsCorruptSegments(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	_, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	syn, err := netem.Segment{Src: netip.AddrPortFrom(c.Addr(), 40000), Dst: server80, Seq: 1, Flags: netem.SYN, Window: 512}.Marshal()
	require.NoError(t, err)
	badTCP := append([]byte(nil), syn...)
	badTCP[len(badTCP)-1] ^= 0xff // the last byte of the TCP header: its checksum no longer fits
	badIP := append([]byte(nil), syn...)
	badIP[10] ^= 0xff // the IPv4 header checksum
	for _, p := range [][]byte{badTCP, badIP} {
		_, err = w.Inject(s, w.Now(), p)
		require.NoError(t, err)
	}
	require.NoError(t, w.RunFor(100*time.Millisecond))
	in, _ := s.CounterValue("TcpInSegs")
	assert.Equal(t, uint64(1), in, "the segment with a bad TCP checksum is counted, the packet with a bad IPv4 header is not")
	assert.Zero(t, s.StateCount(sim.SynReceived), "neither opened a connection")
}
