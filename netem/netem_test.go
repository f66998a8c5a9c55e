package netem_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
)

var (
	client = netip.MustParseAddrPort("10.0.0.1:40000")
	server = netip.MustParseAddrPort("10.0.0.2:80")
)

// seg builds wire bytes for a segment from src to dst.
func seg(tb testing.TB, src, dst netip.AddrPort, f netem.Flags, payload string) []byte {
	tb.Helper()
	b, err := netem.Segment{Src: src, Dst: dst, Seq: 1000, Ack: 2000, Flags: f, Window: 512,
		TS: &netem.Timestamp{Val: 7, Ecr: 9}, Payload: []byte(payload)}.Marshal()
	require.NoError(tb, err)
	return b
}

func TestMarshalDecodeRoundTrip(t *testing.T) {
	b := seg(t, client, server, netem.PSH|netem.ACK, "hello")
	h, ok := netem.Decode(b)
	require.True(t, ok, "Decode rejected a marshalled segment")
	assert.Equal(t, client, h.Src)
	assert.Equal(t, server, h.Dst)
	assert.Equal(t, uint32(1000), h.Seq)
	assert.Equal(t, uint32(2000), h.Ack)
	assert.Equal(t, netem.PSH|netem.ACK, h.Flags)
	assert.Equal(t, uint16(512), h.Window)
	assert.True(t, h.HasTS)
	assert.Equal(t, netem.Timestamp{Val: 7, Ecr: 9}, h.TS)
	assert.Equal(t, "hello", string(b[h.PayloadOff:h.PayloadOff+h.PayloadLen]))

	// An independent decoder agrees, checksums included.
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	require.Nil(t, p.ErrorLayer(), "gopacket could not decode the segment")
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	require.NoError(t, tcp.SetNetworkLayerForChecksum(ip))
	sum, err := tcp.ComputeChecksum()
	require.NoError(t, err)
	assert.Equal(t, uint16(0), sum, "the TCP checksum does not verify")
}

func TestDecodeRejectsGarbage(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     {0x45, 0, 0},
		"ipv6":      make([]byte, 40),
		"truncated": seg(t, client, server, netem.ACK, "x")[:30],
	} {
		if _, ok := netem.Decode(b); ok {
			t.Errorf("Decode(%s) = ok, want rejected", name)
		}
	}
}

func TestFlagsFormat(t *testing.T) {
	for f, want := range map[netem.Flags]string{
		netem.SYN: "S", netem.SYN | netem.ACK: "S.", netem.FIN | netem.ACK: "F.",
		netem.PSH | netem.ACK: "P.", netem.RST: "R", netem.ACK: ".", 0: "none",
	} {
		assert.Equal(t, want, f.String(), "flags %08b", uint8(f))
	}
	assert.Equal(t, []string{"FIN", "ACK"}, (netem.FIN | netem.ACK).Names())
	f, err := netem.ParseFlags("fin|ACK")
	require.NoError(t, err)
	assert.Equal(t, netem.FIN|netem.ACK, f)
	_, err = netem.ParseFlags("FIN|BOGUS")
	assert.ErrorContains(t, err, `unknown TCP flag "BOGUS"`)
}

func newLink(tb testing.TB, opts netem.Options) *netem.Link {
	tb.Helper()
	l, err := netem.New(opts)
	require.NoError(tb, err)
	return l
}

// TestFinalACKRule drops exactly the first pure ACK after the peer's FIN.
func TestFinalACKRule(t *testing.T) {
	l := newLink(t, netem.Options{
		AtoB: netem.Path{Delay: 10 * time.Millisecond},
		BtoA: netem.Path{Delay: 10 * time.Millisecond},
		Rules: []netem.Rule{{Name: "final ACK", Match: netem.PureACK(netem.AtoB),
			After: &netem.Match{Dir: netem.BtoA, Flags: netem.FIN}, Action: netem.Action{Kind: netem.Drop}}},
	})
	steps := []struct {
		dir   netem.Dir
		pkt   []byte
		fate  netem.Fate
		label string
	}{
		{netem.AtoB, seg(t, client, server, netem.ACK, ""), netem.Delivered, "pure ACK before any FIN"},
		{netem.AtoB, seg(t, client, server, netem.FIN|netem.ACK, ""), netem.Delivered, "client FIN"},
		{netem.BtoA, seg(t, server, client, netem.ACK, ""), netem.Delivered, "server ACK"},
		{netem.BtoA, seg(t, server, client, netem.FIN|netem.ACK, ""), netem.Delivered, "server FIN"},
		{netem.AtoB, seg(t, client, server, netem.PSH|netem.ACK, "x"), netem.Delivered, "data is not a pure ACK"},
		{netem.AtoB, seg(t, client, server, netem.ACK, ""), netem.Dropped, "final ACK"},
		{netem.BtoA, seg(t, server, client, netem.FIN|netem.ACK, ""), netem.Delivered, "retransmitted FIN"},
		{netem.AtoB, seg(t, client, server, netem.ACK, ""), netem.Delivered, "re-ACK"},
	}
	for i, s := range steps {
		now := time.Duration(i) * time.Millisecond
		out := l.Send(now, s.dir, s.pkt)
		require.Len(t, out, 1, s.label)
		assert.Equal(t, s.fate, out[0].Fate, "%s: got fate %v, want %v", s.label, out[0].Fate, s.fate)
		if s.fate == netem.Delivered {
			assert.Equal(t, now+10*time.Millisecond, out[0].At, s.label)
		} else {
			assert.Equal(t, "final ACK", out[0].Rule)
		}
	}
}

func TestRuleActions(t *testing.T) {
	data := netem.Match{Dir: netem.AtoB, Payload: netem.WithPayload}
	l := newLink(t, netem.Options{
		AtoB: netem.Path{Delay: 5 * time.Millisecond},
		Rules: []netem.Rule{
			{Name: "second and third", Match: data, Nth: 2, Count: 2, Action: netem.Action{Kind: netem.Delay, Delay: time.Second}},
			{Name: "dup", Match: data, Nth: 4, Action: netem.Action{Kind: netem.Duplicate, Delay: 3 * time.Millisecond}},
			{Name: "hold", Match: data, Nth: 5, Action: netem.Action{Kind: netem.Hold, Until: 9 * time.Second}},
			{Name: "hold forever", Match: data, Nth: 6, Action: netem.Action{Kind: netem.Hold}},
		},
	})
	pkt := seg(t, client, server, netem.PSH|netem.ACK, "data")
	type o struct {
		fate netem.Fate
		at   time.Duration
		rule string
	}
	var got [][]o
	for i := 0; i < 7; i++ {
		var row []o
		for _, x := range l.Send(0, netem.AtoB, pkt) {
			row = append(row, o{x.Fate, x.At, x.Rule})
		}
		got = append(got, row)
	}
	ms := time.Millisecond
	want := [][]o{
		{{netem.Delivered, 5 * ms, ""}},
		{{netem.Delivered, time.Second + 5*ms, "second and third"}},
		{{netem.Delivered, time.Second + 5*ms, "second and third"}},
		{{netem.Delivered, 5 * ms, ""}, {netem.Duplicated, 8 * ms, "dup"}},
		{{netem.Held, 9 * time.Second, "hold"}},
		{{netem.Held, -1, "hold forever"}},
		{{netem.Delivered, 5 * ms, ""}},
	}
	assert.Equal(t, want, got)
}

func TestContainsMatch(t *testing.T) {
	l := newLink(t, netem.Options{Rules: []netem.Rule{{
		Match: netem.Match{Contains: []byte("old")}, Count: -1, Action: netem.Action{Kind: netem.Drop}}}})
	assert.Equal(t, netem.Dropped, l.Send(0, netem.AtoB, seg(t, client, server, netem.ACK, "an old one"))[0].Fate)
	assert.Equal(t, netem.Delivered, l.Send(0, netem.AtoB, seg(t, client, server, netem.ACK, "new"))[0].Fate)
	assert.Equal(t, netem.Dropped, l.Send(0, netem.BtoA, seg(t, server, client, netem.ACK, "old"))[0].Fate, "Count -1 applies to every match")
}

// TestRandomLoss checks the loss rate and that a seed fixes every fate.
func TestRandomLoss(t *testing.T) {
	pkt := seg(t, client, server, netem.ACK, "")
	fates := func(seed uint64) []netem.Fate {
		l := newLink(t, netem.Options{AtoB: netem.Path{Loss: 0.25}, Seed: seed})
		var f []netem.Fate
		for i := 0; i < 100_000; i++ {
			f = append(f, l.Send(0, netem.AtoB, pkt)[0].Fate)
		}
		return f
	}
	a, b, c := fates(7), fates(7), fates(8)
	assert.Equal(t, a, b, "same seed, different fates")
	assert.NotEqual(t, a, c, "different seeds, same fates")
	lost := 0
	for _, f := range a {
		if f == netem.Dropped {
			lost++
		}
	}
	// Binomial(100000, 0.25): sd ≈ 137; 5 sd is 685.
	assert.InDelta(t, 25_000, lost, 700, "lost %d of 100000 at p=0.25", lost)
}

func TestNewRejectsImpossibleOptions(t *testing.T) {
	_, err := netem.New(netem.Options{
		AtoB:  netem.Path{Delay: -time.Millisecond, Loss: 1.5},
		Rules: []netem.Rule{{Name: "r"}, {Action: netem.Action{Kind: netem.Delay, Delay: -1}}},
	})
	require.Error(t, err)
	for _, want := range []string{
		"A>B: delay -1ms is negative", "A>B: loss 1.5 is out of range: want a probability in [0, 1]",
		"r: no action", "rule 2: delay by -1ns",
	} {
		assert.ErrorContains(t, err, want)
	}
}

// checksums reports whether pkt's IPv4 header checksum and TCP checksum
// verify, the TCP one by gopacket's independent code.
func checksums(tb testing.TB, pkt []byte) (ipOK, tcpOK bool) {
	tb.Helper()
	var s uint32
	for i := 0; i < 20; i += 2 {
		s += uint32(pkt[i])<<8 | uint32(pkt[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
	tcp := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	require.NoError(tb, tcp.SetNetworkLayerForChecksum(p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)))
	sum, err := tcp.ComputeChecksum()
	require.NoError(tb, err)
	return s == 0xffff, sum == 0
}

// TestEditsKeepChecksumErrors: a router's TTL decrement, timestamp
// stripping and a NAT's rewriting update the checksums incrementally, so a
// good packet stays good and a packet whose payload a link corrupted stays
// bad, as it does through a real router or NAT.
func TestEditsKeepChecksumErrors(t *testing.T) {
	nat := func(pkt []byte) {
		n, err := netem.NewNAT(netem.NATOptions{Addr: netip.MustParseAddr("10.9.9.9"), Timestamps: netem.TSOffset, Seed: 3})
		require.NoError(t, err)
		require.Empty(t, n.Outbound(0, pkt))
	}
	for name, edit := range map[string]func([]byte){
		"ttl":   netem.DecrementTTL,
		"strip": func(pkt []byte) { require.True(t, netem.StripTimestamps(pkt)) },
		"nat":   nat,
	} {
		good := seg(t, client, server, netem.SYN, "payload")
		edit(good)
		ipOK, tcpOK := checksums(t, good)
		assert.True(t, ipOK, "%s: IP checksum of a good packet", name)
		assert.True(t, tcpOK, "%s: TCP checksum of a good packet", name)

		bad := seg(t, client, server, netem.SYN, "payload")
		h, _ := netem.Decode(bad)
		bad[h.PayloadOff] ^= 0x10
		edit(bad)
		ipOK, tcpOK = checksums(t, bad)
		assert.True(t, ipOK, "%s: IP checksum", name)
		assert.False(t, tcpOK, "%s: the corrupted payload's TCP checksum verifies after the edit", name)
	}
}

func TestChecksumsOK(t *testing.T) {
	b, err := netem.Segment{Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2"), Seq: 7, Flags: netem.ACK, Payload: []byte("abc")}.Marshal()
	require.NoError(t, err)
	assert.True(t, netem.ChecksumsOK(b), "a marshalled segment")
	for _, i := range []int{5, 25, len(b) - 1} {
		c := append([]byte(nil), b...)
		c[i] ^= 4
		assert.False(t, netem.ChecksumsOK(c), "byte %d flipped", i)
	}
}
