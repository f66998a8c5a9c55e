package sim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// TestLinuxForgetsRefusedSYNs: a linux-profile host notes each incoming
// SYN's timestamp and window scale for the connection it may open; a SYN
// no connection comes of (a closed port: RST) must not leave that note
// behind, or a flood of them grows the host without bound.
func TestLinuxForgetsRefusedSYNs(t *testing.T) {
	w := New(Options{})
	t.Cleanup(w.Close)
	h, err := w.AddHost(HostOptions{Name: "h", Addr: netip.MustParseAddr("10.0.0.2"), Profile: Linux})
	require.NoError(t, err)
	for i := 0; i < 2000; i++ {
		syn := netem.Segment{Src: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(10000+i)),
			Dst: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 81), Seq: uint32(i), Flags: netem.SYN, Window: 1000,
			TS: &netem.Timestamp{Val: 5}}
		b, err := syn.Marshal()
		require.NoError(t, err)
		_, err = w.Inject(h, time.Duration(i)*time.Millisecond, b)
		require.NoError(t, err)
	}
	require.NoError(t, w.RunFor(3*time.Second))
	require.Equal(t, 0, len(h.pol.conns), "connections noted for SYNs to a closed port")
}

// TestRememberStampReplacesStale: Linux 4.9's tcp_remember_stamp keeps the
// newest timestamp of a peer, but replaces an entry older than
// TCP_PAWS_MSL even with an older timestamp (a peer whose clock went back,
// or another host behind the same address).
func TestRememberStampReplacesStale(t *testing.T) {
	w := New(Options{})
	t.Cleanup(w.Close)
	h, err := w.AddHost(HostOptions{Name: "h", Addr: netip.MustParseAddr("10.0.0.2"), Profile: Linux, Kernel: timewait.Linux49,
		Sysctls: []string{"tcp_tw_recycle=1"}})
	require.NoError(t, err)
	peer := netip.MustParseAddr("10.0.0.1")
	h.rememberStamp(peer, 1000, 0)
	require.NoError(t, w.RunFor(30*time.Second))
	h.rememberStamp(peer, 500, w.Now())
	require.Equal(t, uint32(1000), h.pol.peers[peer].ts, "an older timestamp within TCP_PAWS_MSL")
	require.NoError(t, w.RunFor(32*time.Second))
	h.rememberStamp(peer, 500, w.Now())
	require.Equal(t, uint32(500), h.pol.peers[peer].ts, "an entry more than TCP_PAWS_MSL old is replaced")
}
