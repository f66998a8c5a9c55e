package trace_test

import (
	"bytes"
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

func lostFinalACK(tb testing.TB) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{})
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	return res
}

func TestSeconds(t *testing.T) {
	assert.Equal(t, "0.000000", trace.Seconds(0))
	assert.Equal(t, "60.360000", trace.Seconds(60360*time.Millisecond))
	assert.Equal(t, "274.877906", trace.Seconds(274877906944))
	assert.Equal(t, "-0.000001", trace.Seconds(-time.Microsecond))
}

// TestPcapRoundTrip reads the pcap back: raw IPv4, nanosecond virtual
// timestamps, every packet in send order with its bytes.
func TestPcapRoundTrip(t *testing.T) {
	res := lostFinalACK(t)
	pkts := res.World.Packets()
	var buf bytes.Buffer
	require.NoError(t, trace.WritePcap(&buf, pkts))
	r, err := pcapgo.NewReader(&buf)
	require.NoError(t, err)
	assert.Equal(t, layers.LinkTypeRaw, r.LinkType())
	assert.Equal(t, -9, r.Resolution().Exponent, "timestamp resolution")
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			assert.Equal(t, len(pkts), i, "packets in the pcap")
			break
		}
		require.Less(t, i, len(pkts))
		assert.Equal(t, pkts[i].Data, data, "packet %d bytes", i+1)
		assert.Equal(t, sim.Epoch().Add(pkts[i].Sent), ci.Timestamp.UTC(), "packet %d time", i+1)
	}
}

// TestTsharkSeesRetransmittedFIN: Wireshark's dissector, reading our pcap,
// flags the server's second FIN as a retransmission, and nothing else.
func TestTsharkSeesRetransmittedFIN(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed; .ci/run must install it")
		}
		t.Skip("tshark not installed")
	}
	res := lostFinalACK(t)
	path := filepath.Join(t.TempDir(), "lost-final-ack.pcap")
	var buf bytes.Buffer
	require.NoError(t, trace.WritePcap(&buf, res.World.Packets()))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))

	out, err := exec.Command(tshark, "-r", path, "-Y", "tcp.analysis.retransmission",
		"-T", "fields", "-e", "frame.number", "-e", "ip.src", "-e", "tcp.flags.fin").Output()
	require.NoError(t, err, "tshark: %s", out)
	// The frame number of the server's second FIN (the pcap is in send order).
	var want string
	fins := 0
	for i, r := range trace.Rows(res.World.Packets()) {
		if r.From == "server" && r.H.Flags&netem.FIN != 0 {
			if fins++; fins == 2 {
				want = strconv.Itoa(i+1) + "\t10.0.0.2\t1"
			}
		}
	}
	require.NotEmpty(t, want, "the run has no retransmitted FIN")
	assert.Equal(t, want, strings.TrimSpace(string(out)), "tshark's retransmissions (frame, source, FIN)")
}

// TestLadderMarksTheLoss: the dropped final ACK dies mid-link and each
// side's states stand in its own column.
func TestLadderMarksTheLoss(t *testing.T) {
	res := lostFinalACK(t)
	var buf bytes.Buffer
	require.NoError(t, trace.WriteLadder(&buf, []string{"client", "server"}, trace.Rows(res.World.Packets()), res.World.Transitions()))
	lines := strings.Split(buf.String(), "\n")
	var drop, lastAck, tw string
	for _, l := range lines {
		switch {
		case strings.Contains(l, `dropped by rule "final ACK"`):
			drop = l
		case strings.Contains(l, "CLOSE-WAIT -> LAST-ACK"):
			lastAck = l
		case strings.Contains(l, "FIN-WAIT-2 -> TIME-WAIT"):
			tw = l
		}
	}
	require.NotEmpty(t, drop, "no dropped row in\n%s", buf.String())
	assert.Contains(t, drop, "X", "the dropped ACK has no arrow head")
	assert.NotContains(t, drop, ">|", "the dropped ACK reaches the server")
	assert.Greater(t, strings.Index(lastAck, "LAST-ACK"), 40, "the server's state is not in the right column: %q", lastAck)
	assert.Less(t, strings.Index(tw, "FIN-WAIT-2"), 20, "the client's state is not in the left column: %q", tw)
}

// TestLadderThroughHops: a ladder between c1 and rserver in nat-chain gets
// a column for each hop between them; every arrow starts and ends on a
// column's line and goes to a neighbouring column, and each host's state
// changes stand in its own column.
func TestLadderThroughHops(t *testing.T) {
	res, err := scenarios.Run("nat-chain", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	cols := []string{"c1", "home", "cgn", "core", "rserver"}
	var buf bytes.Buffer
	require.NoError(t, trace.WriteLadder(&buf, cols, trace.Rows(res.World.Packets()), res.World.Transitions()))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	const margin, gap = 13, 36 // the time column and two spaces; the gap between lines
	header := lines[0]
	for i, c := range cols {
		at := strings.Index(header, c)
		require.GreaterOrEqual(t, at, 0, "column %s missing from %q", c, header)
		line := margin + i*gap
		assert.LessOrEqual(t, at, line, "column %s's name starts after its line", c)
		assert.GreaterOrEqual(t, at+len(c), line-len(c), "column %s's name is far from its line", c)
	}
	arrows, right := 0, 0
	for _, l := range lines[1:] {
		first, last := strings.Index(l, "|"), strings.LastIndex(l, "|")
		if first >= 0 && first != last {
			arrows++
			assert.Zero(t, (first-margin)%gap, "arrow starts off a column line: %q", l)
			assert.Zero(t, (last-margin)%gap, "arrow ends off a column line: %q", l)
			assert.Equal(t, gap, last-first, "arrow skips a column: %q", l)
		}
		if strings.Contains(l, "SYN-RECEIVED") && !strings.Contains(l, "|") {
			right++
			assert.Greater(t, strings.Index(l, "SYN-RECEIVED"), margin+3*gap, "rserver's state not in its column: %q", l)
		}
	}
	assert.Greater(t, arrows, 40, "arrows in\n%s", buf.String())
	assert.NotZero(t, right)
	err = trace.WriteLadder(&buf, []string{"c1"}, nil, nil)
	assert.ErrorContains(t, err, "a ladder needs two columns")
}

// TestLadderWrapsWithinColumns: in tw-recycle-nat, rserver's TIME-WAIT
// ends with a long cause; on a ladder c2 gw1 rserver every state change,
// wrapped, stays between the column lines around it (before the fix it
// started under c2), and the whole cause is there, continuation lines
// indented under the first.
func TestLadderWrapsWithinColumns(t *testing.T) {
	res, err := scenarios.Run("tw-recycle-nat", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	cols := []string{"c2", "gw1", "rserver"}
	var buf bytes.Buffer
	require.NoError(t, trace.WriteLadderOptions(&buf, cols, trace.Rows(res.World.Packets()), res.World.Transitions(), trace.LadderOptions{}))
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	const margin, gap = 13, 36
	for _, l := range lines[1:] {
		if strings.Contains(l, "|") || strings.HasPrefix(strings.TrimSpace(l), "*") {
			continue
		}
		text := []rune(l)
		first := len(text) - len([]rune(strings.TrimLeft(string(text[margin:]), " "))) // first character
		last := len(text) - 1
		for j := range cols {
			line := margin + j*gap
			assert.False(t, first < line && line < last, "state text crosses column %s's line: %q", cols[j], l)
		}
	}
	var end int
	for i, l := range lines {
		if strings.Contains(l, "TIME-WAIT -> CLOSED [linux") {
			end = i
		}
	}
	require.NotZero(t, end, "no rserver TIME-WAIT end in\n%s", buf.String())
	cause := strings.TrimSpace(lines[end][margin:])
	indent := strings.Index(lines[end][margin:], "T")
	for _, l := range lines[end+1:] {
		if strings.TrimSpace(l[:margin]) != "" {
			break
		}
		assert.Equal(t, indent+2, len(l[margin:])-len(strings.TrimLeft(l[margin:], " ")), "continuation not indented under the first line: %q", l)
		cause += " " + strings.TrimSpace(l)
	}
	assert.Equal(t, "TIME-WAIT -> CLOSED [linux tcp_tw_recycle: TIME-WAIT lasts 3.5×RTO = 744ms]", cause)
}

// TestLadderMarksTimeWaitRestart: in lost-final-ack the client's TIME-WAIT
// re-ACKs the retransmitted FIN and restarts its timer; the ladder marks it
// in the client's column after the ACK, with the new end, which is when
// TIME-WAIT ends.
func TestLadderMarksTimeWaitRestart(t *testing.T) {
	res := lostFinalACK(t)
	rs := res.World.TimeWaitRestarts()
	require.Len(t, rs, 1, "restarts")
	var buf bytes.Buffer
	require.NoError(t, trace.WriteLadderOptions(&buf, []string{"client", "server"}, trace.Rows(res.World.Packets()), res.World.Transitions(),
		trace.LadderOptions{Restarts: rs}))
	lines := strings.Split(buf.String(), "\n")
	mark, ack := -1, -1
	for i, l := range lines {
		switch {
		case strings.Contains(l, "timer restarted"):
			mark = i
		case strings.Contains(l, "#9 [.]"):
			ack = i
		}
	}
	require.GreaterOrEqual(t, mark, 0, "no restart mark in\n%s", buf.String())
	assert.Equal(t, "   0.360000  TIME-WAIT timer restarted, ends 60.360000", lines[mark])
	assert.Equal(t, ack+1, mark, "the mark follows the ACK of the retransmitted FIN")
	var end time.Duration
	for _, tr := range res.World.Transitions() {
		if tr.Host == "client" && tr.From == sim.TimeWait {
			end = tr.At
		}
	}
	assert.Equal(t, rs[0].Until, end, "TIME-WAIT ends when the restarted timer said")
}

// TestPcapNGLinks: the pcapng of nat-chain has an interface per link, named
// after its ends, and each packet sits on the interface of the link it
// crossed, with its bytes, time and a comment naming it; tshark, when
// installed, reads the interface names and the NAT's rewriting from it.
func TestPcapNGLinks(t *testing.T) {
	res, err := scenarios.Run("nat-chain", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	var buf bytes.Buffer
	require.NoError(t, trace.WritePcapNG(&buf, res.World))
	raw := slices.Clone(buf.Bytes())

	r, err := pcapgo.NewNgReader(&buf, pcapgo.DefaultNgReaderOptions)
	require.NoError(t, err)
	var onWire []sim.Packet
	for _, p := range res.World.Packets() {
		if res.World.Link(res.World.Node(p.From), res.World.Node(p.To)) != nil {
			onWire = append(onWire, p)
		}
	}
	slices.SortStableFunc(onWire, func(a, b sim.Packet) int { return cmp.Compare(a.Sent, b.Sent) })
	n := 0
	for ; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		require.Less(t, n, len(onWire))
		p := onWire[n]
		intf, err := r.Interface(ci.InterfaceIndex)
		require.NoError(t, err)
		assert.Contains(t, []string{p.From + "-" + p.To, p.To + "-" + p.From}, intf.Name, "#%d's interface", p.ID)
		assert.Equal(t, layers.LinkTypeRaw, intf.LinkType)
		assert.Equal(t, p.Data, data, "#%d bytes", p.ID)
		assert.Equal(t, sim.Epoch().Add(p.Sent), ci.Timestamp.UTC(), "#%d time", p.ID)
	}
	assert.Equal(t, len(onWire), n, "packets in the pcapng")
	assert.Equal(t, len(res.World.Links()), r.NInterfaces())

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed; .ci/run must install it")
		}
		t.Skip("tshark not installed")
	}
	path := filepath.Join(t.TempDir(), "nat-chain.pcapng")
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	out, err := exec.Command(tshark, "-r", path, "-c", "4", "-T", "fields", "-e", "frame.interface_name", "-e", "ip.src", "-e", "frame.comment").Output()
	require.NoError(t, err, "tshark: %s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"c1-home\t192.168.1.2\t#1 c1>home", "home-cgn\t100.64.0.2\t#2 home>cgn", "cgn-core\t198.51.100.1\t#3 cgn>core", "core-rserver\t198.51.100.1\t#4 core>rserver"} {
		assert.True(t, strings.HasPrefix(lines[i], want), "frame %d: got %q, want it to start with %q", i+1, lines[i], want)
	}
}

// TestMsTimer: ss's print_ms_timer, as the real ss printed it on Linux 6.18
// (timewait,59sec,0 and timewait,2.788ms,0 for 2.788 s).
func TestMsTimer(t *testing.T) {
	for d, want := range map[time.Duration]string{
		59999 * time.Millisecond: "59sec", 2788 * time.Millisecond: "2.788ms", 500 * time.Millisecond: "500ms",
		60 * time.Second: "1min", 61500 * time.Millisecond: "1min1sec", 0: "", 12345 * time.Millisecond: "12sec",
	} {
		assert.Equal(t, want, trace.MsTimer(d), "%v", d)
	}
}

// TestJSONStreams: the streamed document is byte for byte the one an
// Encoder writes of the whole document, with packets and transitions, with
// --json=summary, and for a run with no packet at all.
func TestJSONStreams(t *testing.T) {
	empty, err := scenarios.RunText("e.md", "# e\n\n```tcpsim\nhost a 10.0.0.1\nnote \"<no packets> & \\\"quotes\\\"\"\n```\n", scenarios.Config{})
	require.NoError(t, err)
	defer empty.Close()
	for _, res := range []*scenarios.Result{lostFinalACK(t), empty} {
		for _, summary := range []bool{false, true} {
			r := res.Report
			r.Summary = summary
			var got, want bytes.Buffer
			require.NoError(t, trace.WriteJSON(&got, r))
			require.NoError(t, trace.JSONWhole(&want, r))
			if got.String() != want.String() {
				t.Fatalf("%s summary=%v: the streamed JSON differs from the whole document's:\ngot  %q\nwant %q", r.Scenario, summary, got.String(), want.String())
			}
		}
	}
}

// TestLadderLoopsToItself: a packet from a host to itself (its own address,
// or its lo) is a row in its column, "@ #N ... to itself"; the last
// column's ends at its line. It panicked (an arrow of negative length).
func TestLadderLoopsToItself(t *testing.T) {
	res, err := scenarios.RunText("loops.md", "```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b\nlisten a 80\nlisten b 80\n"+
		"connect a a:80\nconnect b b:80\nrun 1s\n```\n", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	var buf bytes.Buffer
	require.NoError(t, trace.WriteLadder(&buf, []string{"a", "b"}, trace.Rows(res.World.Packets()), res.World.Transitions()))
	const margin, width = 13, 60 // the time column and two spaces; a's line to b's, both included
	var first, last int
	for _, l := range strings.Split(buf.String(), "\n") {
		at := strings.Index(l, "@ #")
		if at < 0 {
			assert.NotContains(t, l, "|", "no arrow: every packet is to its sender")
			continue
		}
		text := l[at : strings.Index(l, " to itself")+len(" to itself")]
		switch {
		case at == margin:
			first++
		case at+len(text) == margin+width:
			last++
		default:
			t.Errorf("%q: want it at a's line (%d) or ending at b's (%d)", l, margin, margin+width-1)
		}
	}
	assert.Equal(t, 3, first, "a's handshake with itself")
	assert.Equal(t, 3, last, "b's")
}
