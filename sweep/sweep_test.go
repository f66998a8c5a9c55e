package sweep_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sweep"
)

// notebook is a client with 40 ports making n requests: with keep-alive
// it closes first and keeps a TIME-WAIT per port, so that 50 requests run
// out of ports; with close the server keeps them.
const notebook = "# sweep\n```tcpsim\nparam rate=100/s n=50 mode=close\nhost client 10.0.0.1 ip_local_port_range=40000-40039\n" +
	"host server 10.0.0.2 profile=linux\nlink client server delay=1ms\nlisten server 80 http\n" +
	"workload client server:80 n=$n rate=$rate mode=$mode\nrun 5s\nexpect workload EADDRNOTAVAIL = 0\n```\n"

func options(workers int) sweep.Options {
	return sweep.Options{
		Run: func(cfg scenarios.Config) (*scenarios.Result, error) {
			return scenarios.RunText("sweep.md", notebook, cfg)
		},
		Axes: []sweep.Axis{
			{Name: "rate", Values: []string{"10/s", "100/s", "1000/s"}},
			{Name: "mode", Values: []string{"close", "keep-alive"}},
			{Name: "n", Values: []string{"30", "50"}},
		},
		Workers: workers,
	}
}

func TestPoints(t *testing.T) {
	var got []string
	for _, p := range sweep.Points(options(1).Axes)[:5] {
		got = append(got, fmt.Sprint(p.Index, p.Set))
	}
	assert.Equal(t, []string{"0 [rate=10/s mode=close n=30]", "1 [rate=10/s mode=close n=50]", "2 [rate=10/s mode=keep-alive n=30]",
		"3 [rate=10/s mode=keep-alive n=50]", "4 [rate=100/s mode=close n=30]"}, got, "the first axis changes slowest")
}

// TestSweep: a row per point; keep-alive with 50 requests is the only
// kind of point that runs out of the 40 ports (and fails its claim); one
// worker or four, the same bytes; three shards merged, the same bytes
// again.
func TestSweep(t *testing.T) {
	var one, four bytes.Buffer
	require.NoError(t, sweep.Run(&one, options(1)))
	require.NoError(t, sweep.Run(&four, options(4)))
	assert.Equal(t, one.String(), four.String(), "the CSV depends on the number of workers")
	lines := strings.Split(strings.TrimSpace(one.String()), "\n")
	require.Len(t, lines, 13)
	assert.True(t, strings.HasPrefix(lines[0], "point,rate,mode,n,passed,checks,failed,stopped,end_s,events,client:TcpActiveOpens,"))
	assert.Contains(t, lines[0], ",client:TcpRetransSegs,client:heap_bytes,server:", "each host's counters, then its heap account")
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		wantPass := !(f[2] == "keep-alive" && f[3] == "50")
		assert.Equal(t, fmt.Sprint(wantPass), f[4], "%s", l)
	}

	var shards []io.Reader
	for i := 0; i < 3; i++ {
		o := options(2)
		o.Shard, o.Shards = i, 3
		var b bytes.Buffer
		require.NoError(t, sweep.Run(&b, o))
		shards = append(shards, &b)
	}
	var merged bytes.Buffer
	require.NoError(t, sweep.Merge(&merged, shards, false))
	assert.Equal(t, one.String(), merged.String(), "merged shards differ from the one-machine sweep")
}

func TestMergeRefusesGapsAndDuplicates(t *testing.T) {
	a := "point,x\n0,a\n2,c\n"
	err := sweep.Merge(io.Discard, []io.Reader{strings.NewReader(a)}, false)
	assert.EqualError(t, err, "sweep: point 1 is missing (pass --partial to merge what there is)")
	assert.NoError(t, sweep.Merge(io.Discard, []io.Reader{strings.NewReader(a)}, true))
	err = sweep.Merge(io.Discard, []io.Reader{strings.NewReader(a), strings.NewReader("point,x\n2,c\n")}, true)
	assert.EqualError(t, err, "sweep: point 2 is in two shards")
}

// TestPlot draws a column of a sweep's CSV, and names the columns it has
// when asked for one it does not.
func TestPlot(t *testing.T) {
	var table, svg bytes.Buffer
	require.NoError(t, sweep.Run(&table, options(2)))
	text := table.String()
	require.NoError(t, sweep.Plot(&svg, strings.NewReader(text), 3, "failed"))
	assert.Contains(t, svg.String(), "<svg")
	assert.Contains(t, svg.String(), "failed by rate")
	err := sweep.Plot(io.Discard, strings.NewReader(text), 3, "nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `sweep: plot: no column "nope": want one of passed, checks, failed, stopped, end_s, events, client:TcpActiveOpens`)
}
