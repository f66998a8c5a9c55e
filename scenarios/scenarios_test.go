package scenarios_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/trace"
)

// run runs a built-in and closes it when the test ends.
func run(tb testing.TB, name string, cfg scenarios.Config) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.Run(name, cfg)
	require.NoError(tb, err, "run %s", name)
	tb.Cleanup(res.Close)
	return res
}

func requireChecks(tb testing.TB, res *scenarios.Result) {
	tb.Helper()
	require.NotEmpty(tb, res.Checks, "%s has no checks", res.Scenario)
	for _, c := range res.Checks {
		assert.True(tb, c.OK, "%s: FAIL %s\n  observed: %s", res.Scenario, c.Text, c.Detail)
	}
	assert.Zero(tb, res.World.AsyncOps(), "%s: a stack worked outside an event", res.Scenario)
}

func TestBuiltinsHoldTheirClaims(t *testing.T) {
	for _, s := range scenarios.List() {
		t.Run(s.Name, func(t *testing.T) { requireChecks(t, run(t, s.Name, scenarios.Config{})) })
	}
}

func TestClaimsHoldForOtherSeedsAndMSLs(t *testing.T) {
	for _, s := range scenarios.List() {
		for _, cfg := range []scenarios.Config{{Seed: 42}, {Seed: 7, MSL: 5 * time.Second}, {MSL: 2 * time.Minute}} {
			t.Run(fmt.Sprintf("%s/seed=%d/msl=%v", s.Name, cfg.Seed, cfg.MSL), func(t *testing.T) {
				requireChecks(t, run(t, s.Name, cfg))
			})
		}
	}
}

// TestOldDuplicateBothWays: with 2×MSL shorter than the old segment's
// delay it lands in connection 2; with 2×MSL longer, connection 2 cannot
// start and the segment is harmless.
func TestOldDuplicateBothWays(t *testing.T) {
	short := run(t, "old-duplicate", scenarios.Config{MSL: 30 * time.Second})
	requireChecks(t, short)
	assert.Contains(t, short.Checks[len(short.Checks)-1].Text, `the server reads "old" where the client sent "new"`)

	long := run(t, "old-duplicate", scenarios.Config{MSL: 140 * time.Second})
	requireChecks(t, long)
	texts := ""
	for _, c := range long.Checks {
		texts += c.Text + "\n"
	}
	assert.Contains(t, texts, "cannot start while connection 1's TIME-WAIT")
	assert.NotContains(t, texts, "lands in connection 2")
}

// TestChecksCanFail runs lost-final-ack's checks on a run where nothing is
// lost: they must fail.
func TestChecksCanFail(t *testing.T) {
	res, err := scenarios.RunLostFinalACKWithoutLoss(scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	require.NotEmpty(t, res.Checks)
	assert.False(t, res.Passed(), "lost-final-ack's checks passed on a run without loss")
	for _, c := range res.Checks {
		assert.False(t, c.OK, "check %q passed without a lost ACK: %s", c.Text, c.Detail)
	}
}

func TestUnknownScenario(t *testing.T) {
	_, err := scenarios.Run("no-such", scenarios.Config{})
	assert.EqualError(t, err, `unknown scenario "no-such": want one of normal-close, simultaneous-close, lost-final-ack, old-duplicate`)
}

// outputs renders every artifact of a run.
func outputs(tb testing.TB, res *scenarios.Result) (text, js, pcap []byte) {
	tb.Helper()
	var t, j, p bytes.Buffer
	require.NoError(tb, trace.WriteReport(&t, res.Report))
	require.NoError(tb, trace.WriteJSON(&j, res.Report))
	require.NoError(tb, trace.WritePcap(&p, res.World.Packets()))
	return t.Bytes(), j.Bytes(), p.Bytes()
}

// TestDeterminism runs every built-in 20 times under GOMAXPROCS 1, 2 and 8:
// the text report, the JSON and the pcap each have one hash.
func TestDeterminism(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 2
	}
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, name := range scenarios.Names() {
		var want [3][32]byte
		for _, procs := range []int{1, 2, 8} {
			runtime.GOMAXPROCS(procs)
			for i := 0; i < runs; i++ {
				res, err := scenarios.Run(name, scenarios.Config{Seed: 3})
				require.NoError(t, err)
				text, js, pcap := outputs(t, res)
				res.Close()
				got := [3][32]byte{sha256.Sum256(text), sha256.Sum256(js), sha256.Sum256(pcap)}
				if want == [3][32]byte{} {
					want = got
				}
				for k, what := range []string{"text", "JSON", "pcap"} {
					require.Equal(t, want[k], got[k], "%s: GOMAXPROCS %d run %d: %s hash differs", name, procs, i, what)
				}
			}
		}
	}
}

// TestLostFinalACKJSON reads the facts of the claim back from the JSON.
func TestLostFinalACKJSON(t *testing.T) {
	res := run(t, "lost-final-ack", scenarios.Config{})
	_, js, _ := outputs(t, res)
	var doc struct {
		Scenario string
		Stack    string
		Hosts    []struct {
			Name  string
			MSLNs int64 `json:"msl_ns"`
		}
		Packets []struct {
			ID          int
			SentNs      int64  `json:"sent_ns"`
			DeliveredNs *int64 `json:"delivered_ns"`
			From        string
			Flags       []string
			Seq         uint32
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
			fins++
			if fins == 2 {
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
	for _, c := range doc.Checks {
		assert.True(t, c.OK, c.Text)
	}
}
