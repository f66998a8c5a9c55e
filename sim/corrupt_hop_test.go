package sim_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// TestHopsDropCorruptedHeaders: a middle hop checks an arriving packet's
// IPv4 header as Linux's ip_rcv_core does and drops it when the header
// checksum is wrong (InCsumErrors), so a router does not crash on a SYN
// whose protocol byte a link flipped; a NAT also checks the TCP checksum, as
// conntrack does (nf_conntrack_checksum=1: tcp_error marks it INVALID),
// so a corrupted SYN's port never gets a mapping.
func TestHopsDropCorruptedHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		nat    bool
		byte   int
		mask   byte
		reason string
	}{
		{"router, protocol flipped", false, 9, 4, "bad IPv4 header checksum"},
		{"router, IHL flipped", false, 0, 4, "bad IPv4 header"},
		{"router, TCP data offset flipped", false, 32, 0x80, ""},
		{"nat, protocol flipped", true, 9, 4, "bad IPv4 header checksum"},
		{"nat, source port flipped", true, 20, 0x80, "nat: bad TCP checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := sim.New(sim.Options{Seed: 1})
			defer w.Close()
			c, err := w.AddHost(sim.HostOptions{Name: "c", Addr: netip.MustParseAddr("192.168.1.2")})
			require.NoError(t, err)
			s, err := w.AddHost(sim.HostOptions{Name: "s", Addr: netip.MustParseAddr("203.0.113.10")})
			require.NoError(t, err)
			o := sim.HopOptions{Name: "r"}
			if tc.nat {
				o.NAT, o.Outside = &netem.NATOptions{Addr: netip.MustParseAddr("198.51.100.1")}, "s"
			}
			r, err := w.AddHop(o)
			require.NoError(t, err)
			ms := netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}}
			_, err = w.AddLink(c, r, ms)
			require.NoError(t, err)
			_, err = w.AddLink(r, s, ms)
			require.NoError(t, err)
			syn, err := netem.Segment{Src: netip.MustParseAddrPort("192.168.1.2:40000"), Dst: netip.MustParseAddrPort("203.0.113.10:80"),
				Seq: 1, Flags: netem.SYN, Window: 512, TS: &netem.Timestamp{Val: 7}}.Marshal()
			require.NoError(t, err)
			syn[tc.byte] ^= tc.mask
			c.Emit(syn)
			require.NoError(t, w.RunFor(10*time.Millisecond))
			ps := w.Packets()
			require.NotEmpty(t, ps)
			last := ps[len(ps)-1]
			if tc.reason == "" {
				// The router forwards what its IPv4 header check lets
				// through; the server's TCP checksum rejects it.
				assert.Equal(t, "s", last.To)
				return
			}
			assert.Equal(t, "r", last.From)
			assert.Equal(t, netem.Dropped, last.Fate)
			assert.Contains(t, last.Rule, tc.reason)
			assert.Empty(t, r.Table(), "the NAT made a mapping for a corrupted packet")
		})
	}
}

// TestLinuxPolicyIgnoresCorruptedSegments: tcp_v4_rcv verifies the
// checksum before anything else looks at a segment, so a corrupted segment
// with an old TSval is not a PAWS rejection (TcpExtPAWSEstab stays 0): the
// checksum drops it. The same segment intact is one.
func TestLinuxPolicyIgnoresCorruptedSegments(t *testing.T) {
	for _, corrupt := range []bool{false, true} {
		w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{Profile: sim.Linux}, netem.Options{})
		_, err := s.Listen(80, sim.SocketOptions{})
		require.NoError(t, err)
		cs, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(t, err)
		require.NoError(t, w.RunFor(100*time.Millisecond))
		var last netem.Header
		for _, p := range w.Packets() {
			if h, _ := netem.Decode(p.Data); p.From == "client" {
				last = h
			}
		}
		old, err := netem.Segment{Src: cs.Local(), Dst: server80, Seq: last.Seq, Ack: last.Ack, Flags: netem.ACK, Window: 512,
			TS: &netem.Timestamp{Val: last.TS.Val - 1<<20, Ecr: last.TS.Ecr}, Payload: []byte("late")}.Marshal()
		require.NoError(t, err)
		if corrupt {
			old[len(old)-1] ^= 0x10
		}
		_, err = w.Inject(s, w.Now(), old)
		require.NoError(t, err)
		require.NoError(t, w.RunFor(100*time.Millisecond))
		paws, _ := s.CounterValue("TcpExtPAWSEstab")
		want := uint64(1)
		if corrupt {
			want = 0
		}
		assert.Equal(t, want, paws, "corrupted %v: TcpExtPAWSEstab", corrupt)
	}
}
