package sim_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

// The tests in this file replay, on a linux-profile host, what the real
// Linux 6.18 kernel did with each kind of segment sent into its TIME-WAIT
// and orphaned FIN-WAIT-2 sockets (two network namespaces, a crafted peer on
// a TUN device; docs/knobs.md has the measurements).

// linuxTW has a linux-profile client (TIME-WAIT 60 s) close first and hold
// TIME-WAIT; from then on the client's segments to the server are dropped,
// so the server is a silent peer, as a crafted one is. It returns the
// server's FIN and the client's.
type twFixture struct {
	w              *sim.World
	c              *sim.Host
	cs             *sim.Socket
	began          time.Duration
	fin, clientFIN netem.Header
}

func linuxTW(t *testing.T, silent bool, sysctls ...string) twFixture {
	t.Helper()
	w, c, cs, _ := inTimeWait(t, sim.HostOptions{Profile: sim.Linux, Sysctls: sysctls})
	f := twFixture{w: w, c: c, cs: cs}
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.To == sim.TimeWait {
			f.began = tr.At
		}
	}
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); h.Flags&netem.FIN != 0 {
			if p.From == "server" {
				f.fin = h
			} else {
				f.clientFIN = h
			}
		}
	}
	if silent {
		require.NoError(t, w.Links()[0].AddRule(netem.Rule{Match: netem.Match{Dir: netem.AtoB}, Count: -1, Action: netem.Action{Kind: netem.Drop}}))
	}
	return f
}

// seg is a segment from the server to the client at RCV.NXT, acking the
// client's FIN, with a timestamp ts after the FIN's (none if ts is 0).
func (f twFixture) seg(flags netem.Flags, seqOff int32, ts int32) netem.Segment {
	s := netem.Segment{Src: server80, Dst: f.cs.Local(), Seq: f.fin.Seq + 1 + uint32(seqOff), Ack: f.fin.Ack, Flags: flags, Window: 1000}
	if ts != 0 {
		s.TS = &netem.Timestamp{Val: f.fin.TS.Val + uint32(ts), Ecr: f.clientFIN.TS.Val}
	}
	return s
}

func (f twFixture) inject(t *testing.T, after time.Duration, s netem.Segment) {
	t.Helper()
	b, err := s.Marshal()
	require.NoError(t, err)
	_, err = f.w.Inject(f.c, f.began+after, b)
	require.NoError(t, err)
}

// replies returns what the client sent from after on (relative to when
// TIME-WAIT began).
func (f twFixture) replies(after time.Duration) []netem.Header {
	var out []netem.Header
	for _, p := range f.w.Packets() {
		if p.From == "client" && p.Sent >= f.began+after {
			h, _ := netem.Decode(p.Data)
			out = append(out, h)
		}
	}
	return out
}

// end returns when the client's TIME-WAIT ended, relative to its start.
func (f twFixture) end(t *testing.T) time.Duration {
	t.Helper()
	for _, tr := range f.w.Transitions() {
		if tr.Host == "client" && tr.From == sim.TimeWait {
			return tr.At - f.began
		}
	}
	t.Fatal("TIME-WAIT never ended")
	return 0
}

// Kernel case 1: a bare ACK at RCV.NXT is answered by nothing but restarts
// the timer: TIME-WAIT ends 60 s after it (and the timer wheel's rounding).
func TestLinuxTimeWaitBareACKRestarts(t *testing.T) {
	f := linuxTW(t, true)
	f.inject(t, 20*time.Second, f.seg(netem.ACK, 0, 20000))
	require.NoError(t, f.w.Run())
	assert.Empty(t, f.replies(20*time.Second), "answer to an in-window ACK")
	onTheWheel(t, f.began+20*time.Second, 60*time.Second, f.began+f.end(t), "TIME-WAIT restarted by the ACK")
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTW"))
}

// Kernel case 2: an out-of-window ACK is ACKed (echoing the FIN's TSval,
// the ts_recent kept) and restarts the timer; a second within 500 ms is not
// ACKed but still restarts it; a third 600 ms after the first is ACKed.
func TestLinuxTimeWaitOutOfWindow(t *testing.T) {
	f := linuxTW(t, true)
	for _, at := range []time.Duration{10 * time.Second, 10100 * time.Millisecond, 10600 * time.Millisecond} {
		f.inject(t, at, f.seg(netem.ACK, 5000, 10000))
	}
	require.NoError(t, f.w.Run())
	got := f.replies(10 * time.Second)
	require.Len(t, got, 2, "ACKs to three out-of-window ACKs")
	for _, h := range got {
		assert.Equal(t, netem.ACK, h.Flags)
		assert.Equal(t, f.clientFIN.Seq+1, h.Seq, "seq: SND.NXT")
		assert.Equal(t, f.fin.Seq+1, h.Ack, "ack: RCV.NXT")
		assert.True(t, h.HasTS)
		assert.Equal(t, f.fin.TS.Val, h.TS.Ecr, "TSecr: the ts_recent kept from the FIN")
	}
	assert.Equal(t, uint32(600), got[1].TS.Val-got[0].TS.Val, "the TSvals run on the millisecond clock")
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTCPACKSkippedTimeWait"))
	onTheWheel(t, f.began+10600*time.Millisecond, 60*time.Second, f.began+f.end(t), "TIME-WAIT restarted by the third ACK")
}

// Kernel case 3: an ACK with an old TSval fails PAWS: a duplicate ACK, the
// timer restarted, TcpExtPAWSTimewait (not PAWSEstab) counted.
func TestLinuxTimeWaitPAWS(t *testing.T) {
	f := linuxTW(t, true)
	f.inject(t, 10*time.Second, f.seg(netem.ACK, 0, -1000))
	require.NoError(t, f.w.Run())
	got := f.replies(10 * time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, f.fin.TS.Val, got[0].TS.Ecr)
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtPAWSTimewait"))
	assert.Equal(t, uint64(0), counter(t, f.c, "TcpExtPAWSEstab"))
	onTheWheel(t, f.began+10*time.Second, 60*time.Second, f.began+f.end(t), "TIME-WAIT restarted by the PAWS-rejected ACK")
}

// Kernel case 4: a retransmitted FIN is ACKed echoing the first FIN's
// TSval, not the retransmission's.
func TestLinuxTimeWaitRetransmittedFIN(t *testing.T) {
	f := linuxTW(t, true)
	f.inject(t, 5*time.Second, f.seg(netem.FIN|netem.ACK, -1, 5000))
	require.NoError(t, f.w.Run())
	got := f.replies(5 * time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, f.fin.TS.Val, got[0].TS.Ecr)
	onTheWheel(t, f.began+5*time.Second, 60*time.Second, f.began+f.end(t), "TIME-WAIT restarted by the retransmitted FIN")
}

// Kernel case 5: a SYN below RCV.NXT without a timestamp is ACKed (the ACK
// has a timestamp option all the same), the timer is not restarted, and the
// same SYN 170 ms later is not answered.
func TestLinuxTimeWaitOldSYN(t *testing.T) {
	f := linuxTW(t, true)
	syn := f.seg(netem.SYN, -1000, 0)
	syn.Ack = 0
	f.inject(t, 10*time.Second, syn)
	f.inject(t, 10170*time.Millisecond, syn)
	require.NoError(t, f.w.Run())
	got := f.replies(10 * time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, netem.ACK, got[0].Flags)
	assert.True(t, got[0].HasTS)
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTCPACKSkippedTimeWait"))
	onTheWheel(t, f.began, 60*time.Second, f.began+f.end(t), "TIME-WAIT not restarted by the SYN")
}

// serverTW has a linux-profile server close first and hold TIME-WAIT (60
// s), with its listener still open; the client is a gVisor host whose
// later segments the test crafts. It returns the World, the server, the
// client's port, the server's FIN and the client's FIN.
func serverTW(t *testing.T) (*sim.World, *sim.Host, uint16, netem.Header, netem.Header) {
	t.Helper()
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { _ = a.Close() }
	cs, err := c.Connect(server80, sim.SocketOptions{LocalPort: 40000})
	require.NoError(t, err)
	cs.OnEOF = func(cs *sim.Socket) { _ = cs.Close() }
	require.NoError(t, w.RunFor(time.Second))
	require.Equal(t, 1, s.StateCount(sim.TimeWait))
	var sfin, cfin netem.Header
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); h.Flags&netem.FIN != 0 {
			if p.From == "server" {
				sfin = h
			} else {
				cfin = h
			}
		}
	}
	return w, s, 40000, sfin, cfin
}

// Kernel case 6: a SYN below RCV.NXT but with a newer TSval (RFC 6191)
// opens a new connection through the listener, whose SYN-ACK starts at the
// old SND.NXT + 65537; the handshake completes on Linux's numbers.
func TestLinuxTimeWaitSYNWithNewerTimestamp(t *testing.T) {
	w, s, port, sfin, cfin := serverTW(t)
	// The client host is gone from here on: the test plays it.
	require.NoError(t, w.Links()[0].AddRule(netem.Rule{Match: netem.Match{Dir: netem.BtoA}, Count: -1, Action: netem.Action{Kind: netem.Drop}}))
	from := netip.AddrPortFrom(clientIP, port)
	syn := netem.Segment{Src: from, Dst: server80, Seq: cfin.Seq - 1000, Flags: netem.SYN, Window: 65535,
		TS: &netem.Timestamp{Val: cfin.TS.Val + 5000}}
	b, err := syn.Marshal()
	require.NoError(t, err)
	inSegs := counter(t, s, "TcpInSegs")
	_, err = w.Inject(s, 5*time.Second, b)
	require.NoError(t, err)
	require.NoError(t, w.RunFor(5*time.Second-w.Now()+10*time.Millisecond))
	assert.Equal(t, inSegs+1, counter(t, s, "TcpInSegs"), "the SYN is counted once")
	var synack netem.Header
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); p.From == "server" && h.Flags == netem.SYN|netem.ACK && p.Sent >= 5*time.Second {
			synack = h
		}
	}
	require.Equal(t, netem.SYN|netem.ACK, synack.Flags, "the server answers the SYN with a SYN-ACK")
	assert.Equal(t, sfin.Seq+1+65537, synack.Seq, "ISN: the old SND.NXT + 65537")
	assert.Equal(t, syn.Seq+1, synack.Ack)

	ack := netem.Segment{Src: from, Dst: server80, Seq: syn.Seq + 1, Ack: synack.Seq + 1, Flags: netem.ACK, Window: 65535,
		TS: &netem.Timestamp{Val: cfin.TS.Val + 5001, Ecr: synack.TS.Val}}
	b, err = ack.Marshal()
	require.NoError(t, err)
	_, err = w.Inject(s, w.Now(), b)
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, 1, s.Entered(sim.Established)-1, "the new connection opened on Linux's sequence numbers")
	assert.Equal(t, 0, s.TimeWaitSockets())
	assert.Equal(t, uint64(0), counter(t, s, "TcpExtTWRecycled"))
}

// finWait2 has a linux-profile client close first while the server never
// closes: the client is an orphaned FIN-WAIT-2 socket.
func finWait2(t *testing.T, sysctls ...string) twFixture {
	t.Helper()
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Sysctls: sysctls}, sim.HostOptions{}, netem.Options{})
	cs := clientCloses(t, w, c, s, 10*time.Millisecond, 10*time.Millisecond)
	f := twFixture{w: w, c: c, cs: cs}
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.To == sim.FinWait2 {
			f.began = tr.At
		}
	}
	var synack netem.Header
	for _, p := range w.Packets() {
		h, _ := netem.Decode(p.Data)
		switch {
		case p.From == "server" && h.Flags&netem.SYN != 0:
			synack = h
		case p.From == "client" && h.Flags&netem.FIN != 0:
			f.clientFIN = h
		case p.From == "server":
			f.fin = h // the server's last segment: its ACK of the FIN
		}
	}
	// The server's "FIN" for seg(): its next sequence number is the
	// one after its SYN-ACK. From now on the server is a silent peer.
	f.fin.Seq = synack.Seq
	require.NoError(t, w.Links()[0].AddRule(netem.Rule{Match: netem.Match{Dir: netem.AtoB}, Count: -1, Action: netem.Action{Kind: netem.Drop}}))
	return f
}

// Kernel case 7 and 9: the orphaned FIN-WAIT-2 is a timewait socket from
// the ACK of its FIN (TcpExtTW counted then); a duplicate ACK is ignored,
// data gets an RST at the data's ack and ends it, a FIN makes it TIME-WAIT
// for 60 s from the FIN.
func TestLinuxFinWait2Substate(t *testing.T) {
	f := finWait2(t)
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTW"), "TW counted when the FIN-WAIT-2 socket is created")
	require.Equal(t, 1, f.c.TimeWaitSockets())
	e := f.c.Endpoints()
	require.Len(t, e, 1)
	assert.Equal(t, sim.FinWait2, e[0].State)
	assert.True(t, e[0].TimeWaitSocket)
	assert.Equal(t, 60*time.Second-(f.w.Now()-f.began), e[0].Expires)

	f.inject(t, 5*time.Second, f.seg(netem.ACK, 0, 5000))
	require.NoError(t, f.w.RunFor(6*time.Second))
	assert.Empty(t, f.replies(5*time.Second), "answer to a duplicate ACK")

	fin := f.seg(netem.FIN|netem.ACK, 0, 6000)
	f.inject(t, 7*time.Second, fin)
	require.NoError(t, f.w.Run())
	got := f.replies(7 * time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, fin.Seq+1, got[0].Ack)
	assert.Equal(t, fin.TS.Val, got[0].TS.Ecr)
	var toTW, end time.Duration
	for _, tr := range f.w.Transitions() {
		if tr.Host == "client" && tr.To == sim.TimeWait {
			toTW = tr.At - f.began
		}
		if tr.Host == "client" && tr.From == sim.TimeWait {
			end = tr.At - f.began
		}
	}
	assert.Equal(t, 7*time.Second, toTW)
	onTheWheel(t, f.began+7*time.Second, 60*time.Second, f.began+end, "TIME-WAIT lasts 60 s from the FIN")
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTW"), "not counted again")

	f = finWait2(t)
	data := f.seg(netem.ACK|netem.PSH, 0, 5000)
	data.Payload = []byte("late data")
	f.inject(t, 5*time.Second, data)
	require.NoError(t, f.w.RunFor(6*time.Second))
	got = f.replies(5 * time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, netem.RST, got[0].Flags)
	assert.Equal(t, data.Ack, got[0].Seq, "RST at the data's ack")
	assert.False(t, got[0].HasTS)
	assert.Equal(t, 0, f.c.TimeWaitSockets())
}

// Kernel check A: with tcp_fin_timeout above TIME-WAIT's 60 s an orphaned
// FIN-WAIT-2 keeps its full socket for fin_timeout - 60 s
// (tcp_keepalive_timer), then becomes a timewait socket for fin_timeout -
// 60 s again, counted in TcpExtTW then: gone 2 x (fin_timeout - 60) after
// the ACK of its FIN. The real 6.18 kernel: 20.5, 62 and 122-123 s for 70,
// 90 and 120 (each of the two timers fires on the timer wheel's tick, up
// to a bucket late: 256 ms for 10 s, 2.048 s for 30 and 60 s), nothing
// sent.
func TestLinuxFinWait2LongTimeout(t *testing.T) {
	for _, tc := range []struct {
		finTimeout int
		half       time.Duration
	}{{70, 10 * time.Second}, {90, 30 * time.Second}, {120, 60 * time.Second}} {
		t.Run(fmt.Sprint(tc.finTimeout), func(t *testing.T) {
			f := finWait2(t, fmt.Sprintf("tcp_fin_timeout=%d", tc.finTimeout))
			sent := len(f.w.Packets())
			at := func(d time.Duration) time.Duration { return f.began + d - f.w.Now() }
			// The keepalive timer is on the wheel too: the timewait socket
			// appears when it fires, not at f.began + half.
			ka := sim.KernelTimerFires(f.began, tc.half)
			require.Greater(t, ka, f.began+tc.half)
			require.NoError(t, f.w.RunFor(at(ka-f.began-time.Millisecond)))
			assert.Equal(t, 0, f.c.TimeWaitSockets(), "a full socket first")
			assert.Equal(t, uint64(0), counter(t, f.c, "TcpExtTW"))
			require.NoError(t, f.w.RunFor(2*time.Millisecond))
			assert.Equal(t, 1, f.c.TimeWaitSockets(), "then a timewait socket")
			assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTW"), "counted when it is created")
			require.NoError(t, f.w.Run())
			var end time.Duration
			for _, tr := range f.w.Transitions() {
				if tr.Host == "client" && tr.From == sim.FinWait2 {
					end = tr.At - f.began
				}
			}
			onTheWheel(t, ka, tc.half, f.began+end, "the timewait socket's timer: gone 2 x (tcp_fin_timeout - 60 s) after the ACK of the FIN, and the wheel's rounding of each")
			assert.Len(t, f.w.Packets(), sent, "nothing sent")
		})
	}
}

// Kernel case 8: with tcp_max_tw_buckets=1 a second orphaned FIN-WAIT-2
// overflows when its FIN is ACKed (no timewait socket, nothing sent), and
// the peer's FIN arriving later meets no socket: RST.
func TestLinuxMaxTWBucketsFinWait2(t *testing.T) {
	f := finWait2(t, "tcp_max_tw_buckets=0")
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTCPTimeWaitOverflow"))
	assert.Equal(t, 0, f.c.TimeWaitSockets())
	assert.Empty(t, f.c.Log())
	f.inject(t, 500*time.Millisecond, f.seg(netem.FIN|netem.ACK, 0, 500))
	require.NoError(t, f.w.RunFor(time.Second))
	got := f.replies(500 * time.Millisecond)
	require.Len(t, got, 1)
	assert.Equal(t, netem.RST, got[0].Flags)
	assert.Equal(t, f.fin.Ack, got[0].Seq)
}

// Kernel case 10: with tcp_tw_reuse=1 and one ephemeral port, a connect
// 0.5 s into TIME-WAIT fails (tcp_tw_reuse_delay is 1 s from entry), one
// at 1.3 s reuses the tuple, though the peer's last timestamp is only 0.6 s
// old; the SYN starts at the old SND.NXT + 65537 and echoes ts_recent.
func TestLinuxTWReuse(t *testing.T) {
	f := linuxTW(t, false, "tcp_tw_reuse=1", "ip_local_port_range=40000 40000")
	require.Equal(t, uint16(40000), f.cs.Local().Port())
	ack := f.seg(netem.ACK, 0, 700)
	f.inject(t, 700*time.Millisecond, ack)
	var early, late error
	var s2 *sim.Socket
	f.w.At(f.began+500*time.Millisecond, func() { _, early = f.c.Connect(server80, sim.SocketOptions{}) })
	f.w.At(f.began+1300*time.Millisecond, func() { s2, late = f.c.Connect(server80, sim.SocketOptions{}) })
	require.NoError(t, f.w.RunFor(2*time.Second))
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(early), "connect within tcp_tw_reuse_delay")
	require.NoError(t, late)
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTWRecycled"))
	var syn netem.Header
	for _, h := range f.replies(time.Second) {
		if h.Flags == netem.SYN {
			syn = h
		}
	}
	require.Equal(t, netem.SYN, syn.Flags)
	assert.Equal(t, f.clientFIN.Seq+1+65537, syn.Seq, "ISN: the old SND.NXT + 65537")
	assert.Equal(t, ack.TS.Val, syn.TS.Ecr, "TSecr: the TIME-WAIT's ts_recent")
	assert.Equal(t, sim.Established, s2.State(), "the server (gVisor) takes the SYN above its old RCV.NXT")
}

// Kernel case 11: with tcp_tw_reuse=0, a socket bound to the TIME-WAIT's
// port (SO_REUSEADDR on both) connects to the same peer at once; without
// SO_REUSEADDR the bind fails.
func TestLinuxBoundConnectTakesOver(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"tcp_tw_reuse=0"}}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	opts := sim.SocketOptions{LocalPort: 40000, ReuseAddr: true}
	cs, err := c.Connect(server80, opts)
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.NoError(t, cs.Close())
	require.NoError(t, w.RunFor(2*time.Second))
	require.Equal(t, 1, c.TimeWaitSockets())

	_, err = c.Connect(server80, sim.SocketOptions{LocalPort: 40000})
	assert.Equal(t, "EADDRINUSE", sim.Errno(err), "bind without SO_REUSEADDR")
	s2, err := c.Connect(server80, opts)
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, sim.Established, s2.State())
	assert.Equal(t, uint64(1), counter(t, c, "TcpExtTWRecycled"))
}

// simultaneousClose closes both ends at once with the client's FIN lost;
// the server has profile p. It returns the World after everything settled.
func simultaneousClose(t *testing.T, p sim.Profile) *sim.World {
	t.Helper()
	lost := netem.Rule{Match: netem.Match{Dir: netem.AtoB, Flags: netem.FIN}, Action: netem.Action{Kind: netem.Drop}}
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: p}, netem.Options{Rules: []netem.Rule{lost}})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	var a *sim.Socket
	l.OnAccept = func(x *sim.Socket) { a = x }
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	w.At(w.Now(), func() { _ = cs.Close(); _ = a.Close() })
	require.NoError(t, w.RunFor(5*time.Second))
	return w
}

// Kernel case 14: in a simultaneous close whose first FIN is lost, the
// server (FIN-WAIT-1, closed) gets an ACK one past its RCV.NXT. Linux takes
// it (a zero-length segment is in the window, and only data past RCV.NXT
// resets): FIN-WAIT-2, then TIME-WAIT when the FIN is retransmitted, on
// both sides. gVisor resets it, and neither side reaches TIME-WAIT.
func TestSimultaneousCloseOwnFINLost(t *testing.T) {
	w := simultaneousClose(t, sim.Linux)
	assert.NotContains(t, flagsFrom(w, "client"), "R", "client RSTs")
	assert.NotContains(t, flagsFrom(w, "server"), "R", "server RSTs")
	assert.Equal(t, []sim.State{sim.SynReceived, sim.Established, sim.FinWait1, sim.FinWait2, sim.TimeWait}, states(w, "server"))
	assert.Contains(t, states(w, "client"), sim.TimeWait)

	w = simultaneousClose(t, sim.GVisor)
	assert.Contains(t, flagsFrom(w, "server"), "R.", "gVisor resets the ACK past RCV.NXT")
	assert.NotContains(t, states(w, "server"), sim.TimeWait)
	assert.NotContains(t, states(w, "client"), sim.TimeWait)
}

// Kernel case 13: an RST reaching a socket in CLOSE-WAIT leaves the error
// EPIPE on it (tcp_reset; gVisor's ErrAborted), under both profiles, though
// the application stopped reading at EOF.
func TestResetInCloseWaitIsEPIPE(t *testing.T) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		t.Run(p.String(), func(t *testing.T) {
			w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: p}, netem.Options{})
			l, err := s.Listen(80, sim.SocketOptions{})
			require.NoError(t, err)
			var a *sim.Socket
			l.OnAccept = func(x *sim.Socket) { a = x }
			cs, err := c.Connect(server80, sim.SocketOptions{Linger: true})
			require.NoError(t, err)
			require.NoError(t, w.RunFor(10*time.Millisecond))
			require.NoError(t, cs.Shutdown(false, true))
			require.NoError(t, w.RunFor(10*time.Millisecond))
			require.Equal(t, sim.CloseWait, a.State())
			require.True(t, a.EOF())
			require.NoError(t, cs.Close()) // SO_LINGER {1, 0}: RST
			require.NoError(t, w.RunFor(10*time.Millisecond))
			assert.Equal(t, sim.Closed, a.State())
			assert.Equal(t, "EPIPE", sim.Errno(a.Err()))
		})
	}
}

// TestLoopbackTWReuse: every host has 127.0.0.1 on a loopback interface,
// and Linux's default tcp_tw_reuse=2 reuses a TIME-WAIT tuple for a
// connection over it (tcp_twsk_unique's loopback check), once
// tcp_tw_reuse_delay has passed; between hosts it does not.
func TestLoopbackTWReuse(t *testing.T) {
	w := sim.New(sim.Options{})
	t.Cleanup(w.Close)
	h, err := w.AddHost(sim.HostOptions{Name: "h", Addr: serverIP, Profile: sim.Linux, Sysctls: []string{"ip_local_port_range=40000 40000"}})
	require.NoError(t, err)
	l, err := h.Listen(80, sim.SocketOptions{LocalAddr: sim.Loopback})
	require.NoError(t, err)
	l.OnAccept = func(x *sim.Socket) { x.OnEOF = func(x *sim.Socket) { _ = x.Close() } }
	lo80 := netip.AddrPortFrom(sim.Loopback, 80)
	a, err := h.Connect(lo80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.Equal(t, netip.AddrPortFrom(sim.Loopback, 40000), a.Local())
	require.NoError(t, a.Close())
	require.NoError(t, w.RunFor(500*time.Millisecond))
	require.Equal(t, sim.TimeWait, a.State())

	_, err = h.Connect(lo80, sim.SocketOptions{})
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(err), "within tcp_tw_reuse_delay")
	require.NoError(t, w.RunFor(time.Second))
	b, err := h.Connect(lo80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, sim.Established, b.State())
	assert.Equal(t, uint64(1), counter(t, h, "TcpExtTWRecycled"))
	for _, p := range w.Packets() {
		assert.Equal(t, "h", p.From)
		assert.Equal(t, "h", p.To)
	}
}

// Kernel check C: with ip_local_port_range "40000 40002" connect()'s search
// covers only an even number of ports (remaining &= ~1): after 40000 and
// 40001 are in TIME-WAIT to the server, the third connect fails at once
// with EADDRNOTAVAIL and no SYN, though 40002 is free (a bind to it
// works). The real 6.18 kernel did the same four times out of four, even
// port first.
func TestLinuxOddPortRange(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"ip_local_port_range=40000 40002"}},
		sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(x *sim.Socket) { x.OnEOF = func(x *sim.Socket) { _ = x.Close() } }
	var ports []uint16
	for i := 0; i < 2; i++ {
		a, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(t, err)
		require.NoError(t, w.RunFor(10*time.Millisecond))
		ports = append(ports, a.Local().Port())
		require.NoError(t, a.Close())
		require.NoError(t, w.RunFor(100*time.Millisecond))
		require.Equal(t, sim.TimeWait, a.State())
	}
	assert.Equal(t, []uint16{40000, 40001}, ports, "the even port first, then the odd one")
	before := len(w.Packets())
	_, err = c.Connect(server80, sim.SocketOptions{})
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(err), "40002 is outside the search")
	require.NoError(t, w.RunFor(300*time.Millisecond))
	assert.Len(t, w.Packets(), before, "no SYN")
	b, err := c.Connect(server80, sim.SocketOptions{LocalPort: 40002})
	require.NoError(t, err, "a connect bound to 40002")
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, sim.Established, b.State())
}

// A connection that took a TIME-WAIT tuple over runs on Linux's sequence
// numbers on the wire and gVisor's inside: its RTT samples must compare the
// ACKs it receives with what it sent in the same numbers. With 50 ms each
// way, the orphaned FIN-WAIT-2 of the reusing connection lasts 3.5×RTO =
// 1.052 s (tcp_fin_timeout=1), as the first connection's would; taken in
// mixed numbers it got no sample and the 3 s fallback RTO (10.5 s).
func TestLinuxRTOOnReusedTuple(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, MSL: 100 * time.Second,
		Sysctls: []string{"tcp_tw_reuse=1", "tcp_fin_timeout=1", "ip_local_port_range=40000 40000"}},
		sim.HostOptions{}, netem.Options{AtoB: netem.Path{Delay: 50 * time.Millisecond}, BtoA: netem.Path{Delay: 50 * time.Millisecond}})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	var accepted []*sim.Socket
	l.OnAccept = func(a *sim.Socket) { accepted = append(accepted, a) }
	a, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(time.Second))
	require.NoError(t, a.Close())
	require.NoError(t, w.RunFor(200*time.Millisecond))
	require.NoError(t, accepted[0].Close())
	require.NoError(t, w.RunFor(time.Second))
	require.Equal(t, sim.TimeWait, a.State())

	var b *sim.Socket
	w.At(140*time.Second, func() { b, err = c.Connect(server80, sim.SocketOptions{}) })
	require.NoError(t, w.RunFor(141*time.Second-w.Now()))
	require.NoError(t, err)
	require.Equal(t, uint64(1), counter(t, c, "TcpExtTWRecycled"), "the second connection took the tuple over")
	require.NoError(t, b.Close())
	require.NoError(t, w.RunFor(20*time.Second))
	var from, to time.Duration
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.At > 140*time.Second {
			switch {
			case tr.To == sim.FinWait2:
				from = tr.At
			case tr.From == sim.FinWait2:
				to = tr.At
			}
		}
	}
	require.NotZero(t, from, "the reusing connection reached FIN-WAIT-2")
	onTheWheel(t, from, 1052*time.Millisecond, to, "FIN-WAIT-2 of the reusing connection: 3.5×RTO")
}

// Linux's bind bucket is per port, whatever the address: connect()'s search
// skips a port that bind() holds on any address (inet_bind_bucket_match in
// __inet_hash_connect), here a listener on 127.0.0.1:40000 for a connect
// from 10.0.0.1, and takes the next one.
func TestLinuxSearchSkipsPortBoundOnOtherAddress(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Sysctls: []string{"ip_local_port_range=40000 40001"}},
		sim.HostOptions{}, netem.Options{})
	_, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	_, err = c.Listen(40000, sim.SocketOptions{LocalAddr: sim.Loopback})
	require.NoError(t, err)
	a, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, uint16(40001), a.Local().Port(), "40000 is bound on 127.0.0.1")
}

// Linux 4.9's __inet_hash_connect starts each search at one static hint
// plus the hashed offset and moves the hint just past the port it found:
// successive connects to one destination take every other port, in order.
// (6.18 adds a little randomness to its per-destination perturbation.)
func TestLinux49PortSearchHint(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Kernel: timewait.Linux49,
		Sysctls: []string{"ip_local_port_range=40000 40019"}}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(x *sim.Socket) { x.OnEOF = func(x *sim.Socket) { _ = x.Close() } }
	var ports []int
	for i := 0; i < 5; i++ {
		a, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(t, err)
		require.NoError(t, w.RunFor(10*time.Millisecond))
		ports = append(ports, int(a.Local().Port()))
		require.NoError(t, a.Close())
		require.NoError(t, w.RunFor(100*time.Millisecond))
	}
	for i := 1; i < len(ports); i++ {
		assert.Equal(t, 40000+(ports[0]-40000+2*i)%20, ports[i], "connect %d of %v", i, ports)
	}
}

// TestLinuxTimeWaitsOfOneTickNewestFirst: TIME-WAITs begun a millisecond
// apart fall in one 512-jiffy bucket of the timer wheel and end in the same
// tick, the newest first (expire_timers takes a bucket's timers from the
// head of its list, where enqueue_timer adds them).
func TestLinuxTimeWaitsOfOneTickNewestFirst(t *testing.T) {
	w, socks := connections(t, 3, sim.HostOptions{Profile: sim.Linux}, sim.HostOptions{}, true)
	for _, cs := range socks {
		require.NoError(t, cs.Close())
		require.NoError(t, w.RunFor(time.Millisecond))
	}
	require.NoError(t, w.RunFor(70*time.Second))
	began := map[int]time.Duration{}
	var ended []sim.Transition
	for _, tr := range w.Transitions() {
		switch {
		case tr.Host == "client" && tr.To == sim.TimeWait:
			began[tr.Endpoint] = tr.At
		case tr.Host == "client" && tr.From == sim.TimeWait:
			ended = append(ended, tr)
		}
	}
	require.Len(t, ended, 3)
	for i, tr := range ended {
		assert.Equal(t, ended[0].At, tr.At, "one tick")
		onTheWheel(t, began[tr.Endpoint], 60*time.Second, tr.At, "TIME-WAIT")
		if i > 0 {
			assert.Greater(t, began[ended[i-1].Endpoint], began[tr.Endpoint], "the newest TIME-WAIT ends first")
		}
	}
}
