package scenarios_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
)

// parallelCell is a service in lane 1 and six clients in lanes 2 and 3:
// an open-loop workload ramping up (each lane of clients opens its share
// of the connections, at the times one lane would), a sample every second,
// and a connection from lane 0 that web accepted, named while it exists.
const parallelCell = `records none
parallel web | c[1-3] | c[4-6]
host web 10.0.0.80 profile=linux tcp_max_tw_buckets=300
listen web 80 http
host x 10.0.0.9
link x web delay=2ms
connect x web:80 as idle
run 10ms
host c[1-6] 10.1.0.1 profile=linux
link c[1-6] web delay=1ms
sample every=1s web
workload c[1-6] web:80 n=2000 rate=500/s ramp=1s
run 100ms
send idle "hello"
run 100ms
expect web:80/1 received 5 bytes
run 4.8s
ss -s web
nstat web
expect workload done = 2000
expect web TIME-WAIT count 300
expect web TcpExtTCPTimeWaitOverflow = 1700
`

// TestParallelNotebook: the parallel notebook gives, on one P and on two,
// what the same notebook gives in one lane (here no two lanes have events
// at one instant that would order differently), and every expectation
// holds.
func TestParallelNotebook(t *testing.T) {
	oneLane := runCell(t, strings.Replace(parallelCell, "parallel web | c[1-3] | c[4-6]\n", "", 1))
	assertChecks(t, oneLane)
	var outs []string
	for _, procs := range []int{1, 2, 1, 2} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			res := runCell(t, parallelCell)
			assertChecks(t, res)
			outs = append(outs, res.Outputs[0])
		}()
	}
	for i, o := range outs[1:] {
		require.Equal(t, outs[0], o, "run %d", i+2)
	}
	got := outs[0]
	assert.Contains(t, got, "parallel: 4 lanes: lane 1 web; lane 2 c1 c2 c3; lane 3 c4 c5 c6; lane 0 every other node.")
	_, rest, ok := strings.Cut(got, "lane 0 every other node. Lanes run at once, apart by less than the shortest delay of a link between two lanes; events of one instant on two lanes run in a fixed order, which may differ from one lane's.\n")
	require.True(t, ok, got)
	assert.Equal(t, oneLane.Outputs[0], rest)
}

// TestParallelRefused: what parallel refuses, and where it says so.
func TestParallelRefused(t *testing.T) {
	assertErrs(t, cellErr, map[string]string{
		"parallel a\n": `x.md:4:1: parallel needs records none before it`,
		"records none\nhost a 10.0.0.1\nparallel a\n":                            `x.md:6:1: parallel must come before the first host`,
		"records none\nparallel\n":                                               `x.md:5:9: parallel takes groups of hosts separated by |`,
		"records none\nparallel a |\n":                                           `x.md:5:13: parallel: an empty group after |`,
		"records none\nparallel | a\n":                                           `x.md:5:10: parallel: an empty group before |`,
		"records none\nparallel a:1\n":                                           `x.md:5:10: parallel name "a:1": want a word`,
		"records none\nparallel a | a\n":                                         `x.md:5:1: parallel: a is in group 1 and group 2`,
		"records none\nparallel a\nparallel b\n":                                 `x.md:6:1: parallel was already given (line 5)`,
		"records none\nparallel a\nseed 3\n":                                     `x.md:6:6: seed must come before parallel (line 5)`,
		"records none\nparallel a\nrecords none\n":                               `x.md:6:9: records must come before parallel (line 5)`,
		"records none\nparallel a\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b\n": `link a-b joins two lanes: packets from a need a delay`,
		"records none\nparallel c1\nhost s 10.0.0.1\nlisten s 80 http\nhost c[1-2] 10.0.1.1\nlink c[1-2] s delay=1ms\nworkload c[1-2] s:80 n=10 concurrency=2\n": `x.md:10:10: a closed-loop workload (concurrency=) opens each connection as another ends, so its clients share one lane; c1 and c2 are in different lanes`,
	})
}

// TestParallelKernelMode: a kernel-mode run is one lane; parallel says so
// (records none, which it needs, is refused there first).
func TestParallelKernelMode(t *testing.T) {
	res, err := scenarios.RunText("x.md", "# t\n\n```tcpsim\nparallel a\n```\n", scenarios.Config{Kernel: true})
	if res != nil {
		res.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x.md:4:1: parallel: a kernel-mode run is one lane")
}

// sameAsOneLane runs cell, whose second line is a parallel statement, and
// the same cell without it, and wants the same output after the parallel
// statement's own line.
func sameAsOneLane(t *testing.T, cell string) {
	t.Helper()
	first, rest, _ := strings.Cut(cell, "\n")
	par, oneLaneCell, _ := strings.Cut(rest, "\n")
	require.True(t, strings.HasPrefix(par, "parallel "), "the cell's second line is not a parallel statement: %q", par)
	oneLane := runCell(t, first+"\n"+oneLaneCell)
	res := runCell(t, cell)
	_, got, ok := strings.Cut(res.Outputs[0], "one lane's.\n")
	require.True(t, ok, res.Outputs[0])
	assert.Equal(t, oneLane.Outputs[0], got)
	assert.Equal(t, len(oneLane.Checks), len(res.Checks))
	for i := range res.Checks {
		assert.Equal(t, oneLane.Checks[i].OK, res.Checks[i].OK, "%s", res.Checks[i].Text)
	}
}

// TestParallelRunUntil: run until stops at the same instant in lanes as
// in one lane, with lanes a link joins, with lanes none joins, and when
// what it waits for was sent between runs. (A parallel step ran a whole
// window, and with no link between lanes the rest of the run: nstat
// printed 69.95 s where one lane gives 0.02 s; a lane's clock then went
// back; and a packet waiting to cross between runs was not seen, so the
// run "went idle".)
func TestParallelRunUntil(t *testing.T) {
	for name, cell := range map[string]string{
		"no link between lanes": "records none\nparallel z\nhost c 10.0.0.1\nhost s 10.0.0.2\nlink c s delay=10ms\nlisten s 80 http\n" +
			"workload c s:80 n=100 rate=10/s\nconnect c s:80 as k\nrun until k ESTABLISHED within=1s\nnstat s\n",
		"lanes a link joins": "records none\nparallel s | z\nhost c 10.0.0.1\nhost s 10.0.0.2\nhost x 10.0.0.3\nhost y 10.0.0.4\nhost z 10.0.0.5\n" +
			"link c s delay=12ms\nlink x y delay=17ms\nlink z s delay=5ms\nlisten s 80\nlisten y 81\nconnect c s:80 as k\nconnect x y:81 as m\n" +
			"run until s:80/1 ESTABLISHED\nexpect s ESTABLISHED count 1\nclose s:80/1\nrun 5ms\nss s\n",
		"sent between runs": "records none\nparallel s\nhost c 10.0.0.1\nhost s 10.0.0.2\nlink c s delay=10ms\nlisten s 80\nconnect c s:80 as k linger=0\n" +
			"run 1s\nclose k\nrun until s:80/1 CLOSED within=1s\nss s\n",
	} {
		t.Run(name, func(t *testing.T) { sameAsOneLane(t, cell) })
	}
}
