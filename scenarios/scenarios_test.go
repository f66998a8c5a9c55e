package scenarios_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/report"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// outputs renders every artifact of a run.
func outputs(tb testing.TB, res *scenarios.Result) (text, js, pcap, pcapng []byte) {
	tb.Helper()
	var t, j, p, ng bytes.Buffer
	require.NoError(tb, res.WriteCells(&t))
	require.NoError(tb, trace.WriteJSON(&j, res.Report))
	require.NoError(tb, trace.WritePcap(&p, res.World.Packets()))
	require.NoError(tb, trace.WritePcapNG(&ng, res.World))
	return t.Bytes(), j.Bytes(), p.Bytes(), ng.Bytes()
}

// pictures renders the run's pictures: the whole run's SVG ladder, its
// Mermaid form, and the HTML report (with every figure, the timeline and
// the plots).
func pictures(tb testing.TB, res *scenarios.Result) (svg, mermaid, page []byte) {
	tb.Helper()
	var s, m, h bytes.Buffer
	require.NoError(tb, diagram.WriteLadderSVG(&s, res.Ladder(nil)))
	require.NoError(tb, diagram.WriteLadderMermaid(&m, res.Ladder(nil)))
	require.NoError(tb, report.WriteHTML(&h, res, report.Options{}))
	return s.Bytes(), m.Bytes(), h.Bytes()
}

// TestDeterminism runs every shipped notebook 20 times under GOMAXPROCS 1,
// 2 and 8: the cells, the JSON, the pcap, the pcapng, the SVG ladder, the
// Mermaid ladder, the HTML report and the series CSV each have one hash.
func TestDeterminism(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 2
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, name := range scenarios.Names() {
		var want [8][32]byte
		for _, procs := range []int{1, 2, 8} {
			runtime.GOMAXPROCS(procs)
			for i := 0; i < runs; i++ {
				res, err := scenarios.Run(name, scenarios.Config{Seed: scenarios.Seed(3)})
				require.NoError(t, err)
				text, js, pcap, pcapng := outputs(t, res)
				svg, mermaid, page := pictures(t, res)
				var series bytes.Buffer
				require.NoError(t, trace.WriteSeriesCSV(&series, res.Series))
				res.Close()
				got := [8][32]byte{sha256.Sum256(text), sha256.Sum256(js), sha256.Sum256(pcap), sha256.Sum256(pcapng),
					sha256.Sum256(svg), sha256.Sum256(mermaid), sha256.Sum256(page), sha256.Sum256(series.Bytes())}
				if want == [8][32]byte{} {
					want = got
				}
				for k, what := range []string{"cells", "JSON", "pcap", "pcapng", "SVG", "Mermaid", "HTML", "series CSV"} {
					require.Equal(t, want[k], got[k], "%s: GOMAXPROCS %d run %d: %s hash differs", name, procs, i, what)
				}
			}
		}
	}
}

// TestUpdateTwiceChangesNothing: rendering a rendered notebook again gives
// the same bytes.
func TestUpdateTwiceChangesNothing(t *testing.T) {
	for _, b := range scenarios.List() {
		once := runBuiltin(t, b.Name, scenarios.Config{}).Rendered()
		res, err := scenarios.RunText(b.Name+".md", once, scenarios.Config{})
		require.NoError(t, err)
		twice := res.Rendered()
		res.Close()
		assert.Equal(t, once, twice, "%s changes on a second update", b.Name)
	}
}

// TestWrongClaimIsRejected: a notebook whose claim is false fails, and
// says where and what happened.
func TestWrongClaimIsRejected(t *testing.T) {
	res, err := scenarios.RunFile("testdata/wrong-claim.md", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	assert.False(t, res.Passed())
	require.Equal(t, []string{
		"testdata/wrong-claim.md:13:1: expect server:80/1 TIME-WAIT: got server:80/1 at 1.100000: CLOSED",
	}, res.Failures())
	assert.Contains(t, res.Rendered(), "FAIL expect server:80/1 TIME-WAIT")
}

// TestMalformed: bad input gives FILE:LINE:COL and what was expected.
func TestMalformed(t *testing.T) {
	head := "# t\n\n```tcpsim\nhost client 10.0.0.1\nhost server 10.0.0.2\nlink client server\n"
	for _, c := range []struct{ body, want string }{
		{"frobnicate\n", "x.md:7:1: unknown command \"frobnicate\": want one of"},
		{"+1x close c\n", "x.md:7:1: time prefix \"+1x\": want +D (after now) or @T (at T)"},
		{"connect nobody server:80\n", "x.md:7:9: unknown host \"nobody\": want one of client, server"},
		{"connect client server:99999\n", "x.md:7:16: address \"server:99999\": want HOST:PORT or IP:PORT with a port from 1 to 65535"},
		{"listen server 0\n", "x.md:7:15: port \"0\": want a number from 1 to 65535"},
		{"close c9\n", "x.md:7:7: unknown socket \"c9\": want one of none opened yet"},
		{"expect ghost TIME-WAIT\n", "x.md:7:8: unknown socket or host \"ghost\""},
		{"expect client TIME-WAITS\n", "x.md:7:15: unknown TCP state \"TIME-WAITS\""},
		{"expect client TIME-WAIT at soon\n", "x.md:7:28: time \"soon\": want 1.5s (from the start)"},
		{"run 1s\n@0.5s close c\n", "x.md:8:1: time prefix \"@0.5s\": 0.500000 s is in the past (now 1.000000 s)"},
		{"drop client>server BOGUS\n", "x.md:7:20: unknown TCP flag \"BOGUS\""},
		{"drop client>nowhere FIN\n", "x.md:7:6: direction \"client>nowhere\": want two hosts"},
		{"send c \"unterminated\n", "x.md:7:8: unterminated string"},
		{"host third 10.0.0.3 ip_local_port_range=9-1\n", "x.md:7:41: net.ipv4.ip_local_port_range = \"9-1\": want \"FIRST LAST\" with 1 <= FIRST <= LAST <= 65535"},
		{"nat gw 10.0.1.1 outside=server port_range=9-1\n", "x.md:7:43: port_range \"9-1\": want FIRST-LAST with 1 <= FIRST <= LAST <= 65535"},
		{"nat gw 10.0.1.1 outside=server port_range=1024\n", "x.md:7:43: port_range \"1024\": want FIRST-LAST with 1 <= FIRST <= LAST <= 65535"},
		{"nat gw 10.0.1.1 outside=server port_range=1-65536\n", "x.md:7:43: port_range \"1-65536\": want FIRST-LAST with 1 <= FIRST <= LAST <= 65535"},
		{"nat gw 10.0.1.1 outside=server mapping=weird\n", "x.md:7:40: mapping \"weird\": want endpoint, connection"},
		{"nat gw 10.0.1.1 outside=server hairpin=maybe\n", "x.md:7:40: hairpin \"maybe\": want on, off"},
		{"nat client to server as 10.0.1.1\n", "x.md:7:12: nat takes a name, its outside address and outside=NEIGHBOUR"},
		{"nat gw 10.0.1.1\n", "x.md:7:16: nat takes a name, its outside address and outside=NEIGHBOUR"},
		{"nat gw 10.0.0.2 outside=server\n", "x.md:7:5: sim: nat gw: address 10.0.0.2 is server's"},
		{"nat server 10.0.1.1 outside=client\n", "x.md:7:5: nat name \"server\": taken (hosts and hops so far: client, server)"},
		{"nat gw 10.0.1.1 outside=server\nlink client gw\n", "x.md:7:25: outside=server: gw has no link to server (add link gw server in the same cell)"},
		{"nat gw 10.0.1.1 outside=nobody\n", "x.md:7:25: outside=nobody: want a host or hop of this notebook (client, server, gw)"},
		{"router r1 r2\n", "x.md:7:13: router takes a name"},
		{"host c2 10.0.0.3\nrouter r\nlink c2 r\nlink r server\ndrop c2>server SYN\n", "x.md:11:6: direction \"c2>server\": c2 and server are not linked; packets go c2>r>server: name one link of that path, e.g. r>server"},
		{"host c2 10.0.0.3\nrouter r\nlink c2 r\nlink r server\nrun 1s\nexpect 0 packets c2>server\n", "x.md:12:18: direction \"c2>server\": c2 and server are not linked; packets go c2>r>server"},
		{"conntrack\n", "x.md:7:1: conntrack: no NAT in this notebook"},
		{"router r\nconntrack r\n", "x.md:8:11: conntrack r: want the name of a NAT (none defined)"},
		{"ladder client\n", "x.md:7:8: ladder needs two columns"},
		{"host third 10.0.0.3 tcp_tw_reuse=3\n", "x.md:7:34: net.ipv4.tcp_tw_reuse = \"3\": want 0 (off), 1 (global) or 2 (loopback only)"},
		{"host third 10.0.0.3 tcp_bogus=1\n", "x.md:7:21: unknown option \"tcp_bogus\": want one of msl, profile, kernel, net.ipv4.tcp_timestamps"},
		{"host third 10.0.0.3 tcp_tw_recycle=1\n", "x.md:7:36: net.ipv4.tcp_tw_recycle = 1: gVisor has no tw_recycle; it is modelled only under profile=linux"},
		{"host third 10.0.0.3 profile=bsd\n", "x.md:7:29: profile \"bsd\": want gvisor or linux"},
		{"host third 10.0.0.3 profile=linux kernel=5.4\n", "x.md:7:42: kernel \"5.4\": want 6.18 or 4.9"},
		{"host third 10.0.0.3 kernel=4.9\n", "x.md:7:28: kernel=4.9: a kernel version needs profile=linux"},
		{"host third 10.0.0.3 profile=linux tcp_tw_recycle=1\n", "x.md:7:50: net.ipv4.tcp_tw_recycle = 1: Linux 6.18 has no such knob: it was removed in 4.12"},
		{"host third 10.0.0.3 profile=linux kernel=4.9 tcp_tw_reuse_delay=500\n", "x.md:7:65: net.ipv4.tcp_tw_reuse_delay: Linux 4.9 has no such knob"},
		{"host third 10.0.0.3 profile=linux kernel=4.9 tcp_tw_reuse=2\n", "x.md:7:59: net.ipv4.tcp_tw_reuse = \"2\": want 0 (off) or 1 (on); Linux 4.9 has no loopback-only mode 2"},
		{"host third 10.0.0.3 tcp_invalid_ratelimit=100\n", "x.md:7:43: net.ipv4.tcp_invalid_ratelimit = 100: gVisor has no rate limit"},
		{"listen server 80\nconnect client server:80 as c\nrun 1s\ninject c ACK ts=soon\n", "x.md:10:17: ts \"soon\": want VAL[/ECR]"},
		{"run 1s\nexpect #1.seq = #1.seq + many\n", "x.md:8:26: \"many\": want a number from 0 to 4294967296 after +"},
		{"netem client>server delay 100ms loss 150%\n", "x.md:7:38: netem: loss \"150%\": want a percentage from 0% to 100%"},
		{"netem client>server reorder 25%\n", "x.md:7:21: netem: reorder needs a delay"},
		{"netem client>server delay 1ms jitter 5ms\n", "x.md:7:31: netem: unknown netem word \"jitter\""},
		{"expect server TcpExtNope = 1\n", "x.md:7:15: unknown counter \"TcpExtNope\": want one of"},
		{"link client server loss=150%\n", "x.md:7:25: probability \"150%\": want 0% to 100%"},
		{"host third 10.0.0.3\nlink third server delay=10\n", "x.md:8:25: delay \"10\": a duration needs a unit: 10ms or 10s?"},
		{"run 2\n", "x.md:7:5: run \"2\": a duration needs a unit: 2ms or 2s?"},
		{"host third 10.0.0.3 msl=30\n", "x.md:7:25: msl \"30\": a duration needs a unit: 30ms or 30s?"},
		{"listen server 80\nconnect client server:80\nrun 1s\nexpect server 10.0.0.2:80 10.0.0.9:1234 ESTABLISHED\n",
			"x.md:10:1: expect server 10.0.0.2:80 10.0.0.9:1234 ESTABLISHED: no endpoint of server ever had the tuple 10.0.0.2:80 10.0.0.9:1234"},
	} {
		_, err := scenarios.RunText("x.md", head+c.body+"```\n", scenarios.Config{})
		require.Error(t, err, "%q", c.body)
		assert.True(t, scenarios.IsPosError(err), "%q: %v is not a positioned error", c.body, err)
		assert.Contains(t, err.Error(), c.want, "%q", c.body)
	}
	_, err := scenarios.RunText("y.md", "# t\n\n```tcpsim\nhost a 10.0.0.1\n", scenarios.Config{})
	assert.EqualError(t, err, "y.md:3:1: the code block opened here is never closed: want a line \"```\"")
	_, err = scenarios.RunText("z.md", "# t\nprose only\n", scenarios.Config{})
	assert.EqualError(t, err, "z.md:1:1: no tcpsim cells: want at least one fenced block tagged tcpsim")
	for text, want := range map[string]string{
		"":                           "e.md:1:1: an empty file: no tcpsim cells",
		"# t\n\x00\x01\x02":          "e.md:2:1: not a text file (a NUL byte or invalid UTF-8 here)",
		"# t\nab\xff\xfe\n```tcpsim": "e.md:2:3: not a text file",
		"```tcpsim-output\nx\n```\n": "e.md:1:1: a tcpsim-output block must follow a tcpsim cell",
	} {
		_, err = scenarios.RunText("e.md", text, scenarios.Config{})
		require.Error(t, err, "%q", text)
		assert.True(t, scenarios.IsPosError(err), "%q: %v is not positioned", text, err)
		assert.Contains(t, err.Error(), want, "%q", text)
	}
}

func TestBudgetStopsNotebook(t *testing.T) {
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{MaxTime: 30 * time.Second})
	require.Error(t, err)
	require.NotNil(t, res, "what ran before the budget stopped it")
	res.Close()
	assert.Contains(t, err.Error(), "lost-final-ack.md:")
	assert.Contains(t, err.Error(), "virtual-time budget of 30s exhausted")
}

func TestUnknownScenario(t *testing.T) {
	_, err := scenarios.Run("no-such", scenarios.Config{})
	assert.ErrorContains(t, err, `unknown scenario "no-such": want one of bursty-link, corruption-collision, fin-timeout, linger-zero, linux-fin-wait-2, linux-kernels,`)
}

// TestLostFinalACKJSON reads the facts of the claim back from the JSON.
func TestLostFinalACKJSON(t *testing.T) {
	res := runBuiltin(t, "lost-final-ack", scenarios.Config{})
	_, js, _, _ := outputs(t, res)
	var doc struct {
		Scenario string
		Stack    string
		Hosts    []struct {
			Name  string
			MSLNs int64 `json:"msl_ns"`
		}
		Packets []struct {
			DeliveredNs *int64 `json:"delivered_ns"`
			From        string
			Flags       []string
			Fate        string
		}
		Transitions []struct {
			TNs  int64 `json:"t_ns"`
			Host string
			From string
			To   string
		}
		Checks []struct {
			Text string
			OK   bool
			Pos  string
		}
	}
	require.NoError(t, json.Unmarshal(js, &doc))
	assert.Equal(t, "lost-final-ack", doc.Scenario)
	assert.Contains(t, doc.Stack, "gvisor.dev/gvisor@v0.0.0-")
	require.Len(t, doc.Hosts, 2)
	assert.Equal(t, int64(30*time.Second), doc.Hosts[0].MSLNs)

	var dropped, fins, reacks int
	var refinArrived, reackArrived int64
	for _, p := range doc.Packets {
		switch {
		case p.From == "client" && fmt.Sprint(p.Flags) == "[ACK]" && p.Fate == "dropped":
			dropped++
			assert.Nil(t, p.DeliveredNs, "a dropped packet has delivered_ns null")
		case p.From == "server" && fmt.Sprint(p.Flags) == "[FIN ACK]":
			if fins++; fins == 2 {
				refinArrived = *p.DeliveredNs
			}
		case p.From == "client" && fmt.Sprint(p.Flags) == "[ACK]" && fins == 2:
			reacks++
			reackArrived = *p.DeliveredNs
		}
	}
	assert.Equal(t, 1, dropped, "dropped final ACKs")
	assert.Equal(t, 2, fins, "server FINs (one retransmitted)")
	assert.Equal(t, 1, reacks, "re-ACKs")
	var serverClosed, clientTWEnd int64
	for _, tr := range doc.Transitions {
		if tr.Host == "server" && tr.From == "LAST-ACK" && tr.To == "CLOSED" {
			serverClosed = tr.TNs
		}
		if tr.Host == "client" && tr.From == "TIME-WAIT" && tr.To == "CLOSED" {
			clientTWEnd = tr.TNs
		}
	}
	assert.Equal(t, reackArrived, serverClosed, "server CLOSED when the re-ACK arrived")
	assert.Equal(t, refinArrived+int64(time.Minute), clientTWEnd, "TIME-WAIT ends 2×MSL after the retransmitted FIN arrived")
	require.NotEmpty(t, doc.Checks)
	for _, c := range doc.Checks {
		assert.True(t, c.OK, c.Text)
		assert.True(t, strings.HasPrefix(c.Pos, "lost-final-ack.md:"), "check position %q", c.Pos)
	}
}

// FuzzRun runs arbitrary notebooks, not only parses them, under small
// budgets of time, events and memory: a malformed notebook must give an
// error, a run that outgrows a budget must stop with one, and nothing may
// panic, hang or run the machine out of memory.
func FuzzRun(f *testing.F) {
	for _, b := range scenarios.List() {
		f.Add(b.Text())
	}
	f.Add("```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b\nexpect 1 packets a>b #1.seq\n```\n")
	f.Add("```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b delay=1ms\nlisten b 80 http body=1100000\nworkload a b:80 n=2\n" +
		"packet f = last a>b FIN\nrun 5s\nexpect #f.seq > #1.seq\nexpect #f.flags = [F.]\nexpect b:80/9 ESTABLISHED\n```\n")
	f.Add("```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nrouter r\nlink a r\nlink r b\nnetem a>r duplicate 100%\nnetem r>b duplicate 100% corrupt 50%\n" +
		"listen b 80\nconnect a b:80 as c\nrun until c ESTABLISHED within=2s\nsend c 2000000\nclose c\nrun\n```\n")
	// What the scale notebooks use, at a small size: ranges of hosts,
	// records none, sampling, the workloads, slabtop.
	f.Add("```tcpsim\nrecords none\nhost s 10.0.0.2 profile=linux tcp_max_tw_buckets=4\nlisten s 80 http\nhost c[1-3] 10.0.1.1\nlink c[1-3] s delay=1ms\n" +
		"sample every=1s s c[1-2]\nworkload c[1-3] s:80 n=20 rate=50/s ramp=100ms\nworkload c1 s:80 n=6 concurrency=2 per-conn=3 mode=keep-alive\n" +
		"run 5s\nexpect s TIME-WAIT count 4\nexpect workload done = 6\nss -s s\nnstat c[1-2]\nslabtop s\n```\n")
	f.Fuzz(func(t *testing.T, text string) {
		res, _ := scenarios.RunText("fuzz.md", text, scenarios.Config{MaxTime: time.Hour, MaxEvents: 20000, MaxMemory: 1 << 30, MaxHosts: 64})
		if res != nil {
			res.Close()
		}
	})
}

// TestMemoryBudget: a duplicate storm through routers stops on the memory
// budget with what ran, instead of running the machine out of memory.
func TestMemoryBudget(t *testing.T) {
	storm := "```tcpsim\nhost c 10.0.0.1\nhost s 10.0.0.2\nrouter r1\nrouter r2\nrouter r3\nlink c r1\nlink r1 r2\nlink r2 r3\nlink r3 s\n"
	for _, d := range []string{"c>r1", "r1>r2", "r2>r3", "r3>s", "s>r3", "r3>r2", "r2>r1", "r1>c"} {
		storm += "netem " + d + " duplicate 100%\n"
	}
	storm += "listen s 80\nconnect c s:80 as k\nrun 1s\nsend k 100000\nrun 10s\n```\n"
	res, err := scenarios.RunText("storm.md", storm, scenarios.Config{MaxMemory: 256 << 20})
	var be *sim.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "memory", be.Budget)
	assert.Contains(t, err.Error(), "memory budget of 256 MiB exhausted")
	require.NotNil(t, res)
	res.Close()
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// TestConformanceSet: the notebooks CI compares with the kernel are the
// linux-profile ones a kernel can run, and lost-final-ack.
func TestConformanceSet(t *testing.T) {
	assert.Equal(t, []string{"fin-timeout", "linux-fin-wait-2", "linux-time-wait-reuse", "linux-time-wait", "lost-final-ack",
		"max-tw-buckets", "nat-port-reuse", "paws", "simultaneous-close", "tw-reuse"}, scenarios.Conformance())
}
