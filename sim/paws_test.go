package sim_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
)

// pawsFixture is a linux-profile client with an established connection on
// which the server sent 5 bytes: the server's data segment gives the
// client's ts_recent, RCV.NXT and SND.UNA. The test plays the server from
// then on with crafted segments.
type pawsFixture struct {
	w     *sim.World
	c     *sim.Host
	local netip.AddrPort
	data  netem.Header // the server's data segment
	from  time.Duration
}

func newPAWS(t *testing.T, k timewait.Kernel) *pawsFixture {
	t.Helper()
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{Profile: sim.Linux, Kernel: k}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { _, _ = a.Send([]byte("hello")) }
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(time.Second))
	f := &pawsFixture{w: w, c: c, local: cs.Local()}
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); p.From == "server" && h.PayloadLen == 5 {
			f.data = h
		}
	}
	require.Equal(t, 5, f.data.PayloadLen, "kernel %v: the server's data segment", k)
	f.from = w.Now()
	return f
}

// inject sends the client a segment from the server at now+after: seq
// relative to RCV.NXT, ack relative to SND.UNA, TSval relative to
// ts_recent.
func (f *pawsFixture) inject(t *testing.T, after time.Duration, flags netem.Flags, seq, ack, ts int32, payload string) {
	t.Helper()
	g := netem.Segment{Src: server80, Dst: f.local, Seq: f.data.Seq + 5 + uint32(seq), Ack: f.data.Ack + uint32(ack),
		Flags: flags, Window: f.data.Window, TS: &netem.Timestamp{Val: f.data.TS.Val + uint32(ts), Ecr: f.data.TS.Ecr},
		Payload: []byte(payload)}
	b, err := g.Marshal()
	require.NoError(t, err)
	_, err = f.w.Inject(f.c, f.w.Now()+after, b)
	require.NoError(t, err)
	require.NoError(t, f.w.RunFor(after+10*time.Millisecond))
}

// replies returns what the client sent since the fixture was built.
func (f *pawsFixture) replies() []netem.Header {
	var out []netem.Header
	for _, p := range f.w.Packets() {
		if p.From == "client" && p.Sent >= f.from {
			h, _ := netem.Decode(p.Data)
			out = append(out, h)
		}
	}
	return out
}

func (f *pawsFixture) discarded() []string {
	var out []string
	for _, p := range f.w.Packets() {
		if p.Discarded != "" {
			out = append(out, p.Discarded)
		}
	}
	return out
}

// TestLinuxPAWSWindow: tcp_paws_discard allows TCP_PAWS_WINDOW (1) below
// ts_recent; two below fails.
func TestLinuxPAWSWindow(t *testing.T) {
	f := newPAWS(t, timewait.Linux618)
	f.inject(t, 0, netem.ACK|netem.PSH, 0, 0, -1, "ab")
	assert.Empty(t, f.discarded(), "TSval one below ts_recent")
	assert.Equal(t, uint64(0), counter(t, f.c, "TcpExtPAWSEstab"))
	f.inject(t, 0, netem.ACK|netem.PSH, 2, 0, -3, "cd")
	assert.Len(t, f.discarded(), 1, "TSval two below ts_recent")
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtPAWSEstab"))
}

// TestLinuxPAWSDupACK: data that fails PAWS is counted in PAWSEstab and
// answered with a duplicate ACK (SND.NXT, RCV.NXT, TSecr = ts_recent),
// every time (tcp_oow_rate_limited never limits data); a pure ACK that
// fails it is answered once per tcp_invalid_ratelimit
// (TcpExtTCPACKSkippedPAWS).
func TestLinuxPAWSDupACK(t *testing.T) {
	f := newPAWS(t, timewait.Linux618)
	for i := 0; i < 2; i++ {
		f.inject(t, 100*time.Millisecond, netem.ACK|netem.PSH, -5, 0, -1000, "hello")
	}
	got := f.replies()
	require.Len(t, got, 2, "a duplicate ACK to each")
	for _, r := range got {
		assert.Equal(t, netem.ACK, r.Flags)
		assert.Equal(t, f.data.Ack, r.Seq, "SND.NXT")
		assert.Equal(t, f.data.Seq+5, r.Ack, "RCV.NXT")
		assert.Equal(t, f.data.TS.Val, r.TS.Ecr, "TSecr: ts_recent")
	}
	assert.Equal(t, uint64(2), counter(t, f.c, "TcpExtPAWSEstab"))

	// A pure ACK at RCV.NXT acknowledging less than SND.UNA: not a
	// disordered ACK, not an old one.
	f.inject(t, 100*time.Millisecond, netem.ACK, 0, -1, -1000, "")
	f.inject(t, 100*time.Millisecond, netem.ACK, 0, -1, -1000, "")
	f.inject(t, 500*time.Millisecond, netem.ACK, 0, -1, -1000, "")
	assert.Len(t, f.replies(), 4, "the second within 500 ms withheld")
	assert.Equal(t, uint64(5), counter(t, f.c, "TcpExtPAWSEstab"))
	assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtTCPACKSkippedPAWS"))
}

// TestLinuxPAWSOldAndDisorderedACK: under 6.18 a pure ACK below RCV.NXT
// that fails PAWS is an old ACK (TcpExtPAWSOldAck, no reply); 4.9 counted
// it in PAWSEstab and answered. A duplicate ACK at RCV.NXT that does not
// move the window, with a TSval within the replay window, is a disordered
// ACK and accepted by both.
func TestLinuxPAWSOldAndDisorderedACK(t *testing.T) {
	for _, k := range []timewait.Kernel{timewait.Linux618, timewait.Linux49} {
		t.Run(k.String(), func(t *testing.T) {
			f := newPAWS(t, k)
			f.inject(t, 0, netem.ACK, -1, 0, -1000, "")
			if k == timewait.Linux618 {
				assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtPAWSOldAck"))
				assert.Equal(t, uint64(0), counter(t, f.c, "TcpExtPAWSEstab"))
				assert.Empty(t, f.replies(), "no reply to an old ACK")
			} else {
				assert.Equal(t, uint64(1), counter(t, f.c, "TcpExtPAWSEstab"))
				assert.Len(t, f.replies(), 1, "a duplicate ACK")
			}
			// Right after the data, SND.WL1 is the data's sequence
			// number: an ACK at RCV.NXT would take the window
			// (tcp_may_update_window), so it is no disordered ACK.
			n := len(f.discarded())
			f.inject(t, time.Second, netem.ACK, 0, 0, -10, "")
			assert.Len(t, f.discarded(), n+1, "an ACK that would update the window")
			// An ACK at RCV.NXT with a fresh timestamp takes the window
			// (SND.WL1 becomes RCV.NXT); the same ACK again, its
			// timestamp 11 ms older, moves nothing and is within the
			// replay window (RTO × 1200 / HZ).
			f.inject(t, time.Second, netem.ACK, 0, 0, 1, "")
			f.inject(t, time.Second, netem.ACK, 0, 0, -10, "")
			assert.Len(t, f.discarded(), n+1, "the disordered ACK is accepted")
		})
	}
}
