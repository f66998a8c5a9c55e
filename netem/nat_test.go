package netem_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
)

var (
	natAddr = netip.MustParseAddr("10.0.9.1")
	in1     = netip.MustParseAddrPort("192.168.0.1:40000")
	in2     = netip.MustParseAddrPort("192.168.0.2:40000") // the same inside port
	srv     = netip.MustParseAddrPort("10.0.0.2:80")
)

func tcp(tb testing.TB, src, dst netip.AddrPort, f netem.Flags) []byte {
	tb.Helper()
	b, err := netem.Segment{Src: src, Dst: dst, Flags: f, Seq: 1, Ack: 1, TS: &netem.Timestamp{Val: 1000, Ecr: 2000}}.Marshal()
	require.NoError(tb, err)
	return b
}

// out sends a segment from inside and returns its outside source.
func out(tb testing.TB, n *netem.NAT, now time.Duration, src netip.AddrPort, f netem.Flags) netip.AddrPort {
	tb.Helper()
	pkt := tcp(tb, src, srv, f)
	require.Empty(tb, n.Outbound(now, pkt), "outbound %v [%v]", src, f)
	h, ok := netem.Decode(pkt)
	require.True(tb, ok, "the rewritten packet still decodes (checksums fixed)")
	return h.Src
}

// TestNATDistinctPorts: two inside hosts using the same inside port get
// distinct outside ports, under every mapping behaviour and port policy,
// and replies find their way back.
func TestNATDistinctPorts(t *testing.T) {
	for _, m := range []netem.MappingBehavior{netem.EndpointIndependent, netem.PerConnection} {
		for _, p := range []netem.PortPolicy{netem.Preserve, netem.Sequential, netem.Random} {
			t.Run(fmt.Sprint(m, "/", p), func(t *testing.T) {
				n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, Mapping: m, Ports: p, Seed: 3})
				require.NoError(t, err)
				o1 := out(t, n, 0, in1, netem.SYN)
				o2 := out(t, n, 0, in2, netem.SYN)
				assert.Equal(t, natAddr, o1.Addr())
				assert.NotEqual(t, o1.Port(), o2.Port(), "outside ports collide")
				if p == netem.Preserve {
					assert.Equal(t, uint16(40000), o1.Port(), "the first mapping keeps its port")
				}
				for _, c := range []struct{ outside, inside netip.AddrPort }{{o1, in1}, {o2, in2}} {
					back := tcp(t, srv, c.outside, netem.SYN|netem.ACK)
					got, why := n.Inbound(0, back)
					require.Empty(t, why)
					assert.Equal(t, c.inside, got)
					h, _ := netem.Decode(back)
					assert.Equal(t, c.inside, h.Dst)
				}
				tab := n.Table(0)
				require.Len(t, tab, 2)
				assert.Equal(t, in1, tab[0].Inside)
				assert.Equal(t, netem.CTSynRecv, tab[0].State)
			})
		}
	}
}

// TestNATConntrackAndTimeouts: a mapping follows the connection through
// its close and disappears a transitory timeout after the last segment; an
// established one lasts the established timeout.
func TestNATConntrackAndTimeouts(t *testing.T) {
	n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr})
	require.NoError(t, err)
	o := out(t, n, 0, in1, netem.SYN)
	_, why := n.Inbound(time.Millisecond, tcp(t, srv, o, netem.SYN|netem.ACK))
	require.Empty(t, why)
	out(t, n, 2*time.Millisecond, in1, netem.ACK)
	assert.Equal(t, netem.CTEstablished, n.Table(2 * time.Millisecond)[0].State)
	assert.Equal(t, 2*time.Millisecond+netem.DefaultEstablishedTimeout, n.Table(0)[0].Expires)
	assert.Len(t, n.Table(2*time.Hour), 1, "an idle established mapping lives 2 h 4 min")

	out(t, n, 3*time.Second, in1, netem.FIN|netem.ACK)
	assert.Equal(t, netem.CTFinWait, n.Table(3 * time.Second)[0].State)
	_, _ = n.Inbound(3*time.Second, tcp(t, srv, o, netem.FIN|netem.ACK))
	assert.Equal(t, netem.CTLastAck, n.Table(3 * time.Second)[0].State)
	last := 3*time.Second + time.Millisecond
	out(t, n, last, in1, netem.ACK)
	assert.Equal(t, netem.CTTimeWait, n.Table(last)[0].State)
	assert.Len(t, n.Table(last+netem.DefaultTransitoryTimeout-1), 1)
	assert.Empty(t, n.Table(last+netem.DefaultTransitoryTimeout), "gone after the 4 min transitory timeout")
	_, why = n.Inbound(last+netem.DefaultTransitoryTimeout, tcp(t, srv, o, netem.ACK))
	assert.NotEmpty(t, why, "no mapping, no way in")
}

func TestNATFiltering(t *testing.T) {
	other := netip.MustParseAddrPort("10.0.0.7:80")
	for _, c := range []struct {
		f                      netem.Filtering
		sameAddrOtherPort, new bool
	}{
		{netem.FilterEndpointIndependent, true, true},
		{netem.FilterAddressDependent, true, false},
		{netem.FilterAddressPortDependent, false, false},
	} {
		n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, Filtering: c.f})
		require.NoError(t, err)
		o := out(t, n, 0, in1, netem.SYN)
		_, why := n.Inbound(0, tcp(t, netip.AddrPortFrom(srv.Addr(), 8080), o, netem.SYN))
		assert.Equal(t, c.sameAddrOtherPort, why == "", "filtering %d: the server's address from another port", c.f)
		_, why = n.Inbound(0, tcp(t, other, o, netem.SYN))
		assert.Equal(t, c.new, why == "", "filtering %d: a new address", c.f)
	}
}

func TestNATTimestamps(t *testing.T) {
	n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, Timestamps: netem.TSOffset, Seed: 9})
	require.NoError(t, err)
	pkt := tcp(t, in1, srv, netem.SYN)
	require.Empty(t, n.Outbound(0, pkt))
	h, _ := netem.Decode(pkt)
	off := n.Table(0)[0].TSOffset
	assert.NotZero(t, off)
	assert.Equal(t, 1000+off, h.TS.Val, "TSval shifted by the mapping's offset")
	back := tcp(t, srv, h.Src, netem.SYN|netem.ACK)
	_, why := n.Inbound(0, back)
	require.Empty(t, why)
	hb, _ := netem.Decode(back)
	assert.Equal(t, uint32(2000)-off, hb.TS.Ecr, "TSecr shifted back")

	s, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, Timestamps: netem.TSStrip})
	require.NoError(t, err)
	pkt = tcp(t, in1, srv, netem.SYN)
	require.Empty(t, s.Outbound(0, pkt))
	h, ok := netem.Decode(pkt)
	require.True(t, ok)
	assert.False(t, h.HasTS, "the option is gone")
}

func TestNATHairpin(t *testing.T) {
	n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr})
	require.NoError(t, err)
	o1 := out(t, n, 0, in1, netem.SYN) // in1 has a mapping
	pkt := tcp(t, in2, o1, netem.SYN)  // in2 sends to it
	dst, why := n.Hairpin(0, pkt)
	require.Empty(t, why)
	assert.Equal(t, in1, dst)
	h, _ := netem.Decode(pkt)
	assert.Equal(t, natAddr, h.Src.Addr(), "the sender appears as the NAT")
	assert.Equal(t, in1, h.Dst)

	off, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, NoHairpin: true})
	require.NoError(t, err)
	_, why = off.Hairpin(0, tcp(t, in2, o1, netem.SYN))
	assert.NotEmpty(t, why)
}

func TestNATBadOptions(t *testing.T) {
	_, err := netem.NewNAT(netem.NATOptions{})
	assert.ErrorContains(t, err, "want an IPv4 address")
	_, err = netem.NewNAT(netem.NATOptions{Addr: natAddr, FirstPort: 9000, LastPort: 8000})
	assert.ErrorContains(t, err, "port range 9000-8000")
}

// TestNATSaysWhyItDrops: each refusal names what happened, not only "no
// mapping".
func TestNATSaysWhyItDrops(t *testing.T) {
	n, err := netem.NewNAT(netem.NATOptions{Addr: natAddr, FirstPort: 40000, LastPort: 40000, Filtering: netem.FilterAddressDependent})
	require.NoError(t, err)
	o1 := out(t, n, 0, in1, netem.SYN)
	assert.Equal(t, "no free port in 40000-40000 for 192.168.0.2:40000>10.0.0.2:80 (1 mappings live)",
		n.Outbound(0, tcp(t, in2, srv, netem.SYN)))
	assert.Equal(t, "no mapping for 192.168.0.2:40000>10.0.0.2:80 and [.] is not a SYN (a mapping starts at a SYN, and ends after 2h4m0s of silence established, 4m0s otherwise)",
		n.Outbound(0, tcp(t, in2, srv, netem.ACK)))
	_, why := n.Inbound(0, tcp(t, srv, netip.AddrPortFrom(natAddr, 40001), netem.ACK))
	assert.Equal(t, "no mapping for port 40001 from 10.0.0.2:80", why)
	_, why = n.Inbound(0, tcp(t, netip.MustParseAddrPort("10.0.0.7:80"), o1, netem.SYN))
	assert.Equal(t, "filtered: port 40000 maps 192.168.0.1:40000, which never sent to 10.0.0.7 (address-dependent filtering)", why)
}
