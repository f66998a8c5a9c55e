package scenarios_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
)

// ladderLines runs a notebook of one cell and returns its output's lines
// from the ladder's header on.
func ladderLines(tb testing.TB, cell string) []string {
	tb.Helper()
	res, err := scenarios.RunText("x.md", "# t\n\n```tcpsim\n"+cell+"```\n", scenarios.Config{})
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	out := res.Outputs[0]
	i := strings.Index(out, "t (s)")
	require.GreaterOrEqual(tb, i, 0, "no ladder in\n%s", out)
	return strings.Split(strings.TrimRight(out[strings.LastIndex(out[:i], "\n")+1:], "\n"), "\n")
}

// stateLine returns the line of lines that contains text, or fails.
func stateLine(tb testing.TB, lines []string, text string) string {
	tb.Helper()
	for _, l := range lines {
		if strings.Contains(l, text) {
			return l
		}
	}
	tb.Fatalf("no line with %q in\n%s", text, strings.Join(lines, "\n"))
	return ""
}

// TestLadderNamesSocketsOfABusyHost: a host with two connections in the
// ladder has each state change start with the notebook's name of its
// socket (accepted ones included), in its own column; a host with one
// connection keeps its state changes bare.
func TestLadderNamesSocketsOfABusyHost(t *testing.T) {
	lines := ladderLines(t, `host client 10.0.0.1
host server 10.0.0.2
link client server delay=10ms
listen server 80
connect client server:80 as a
connect client server:80 as b
+0.1 close a
run 1s
ladder
`)
	const margin = 13 // the time column and two spaces
	for _, want := range []string{"a: CLOSED -> SYN-SENT", "b: CLOSED -> SYN-SENT", "a: ESTABLISHED -> FIN-WAIT-1"} {
		l := stateLine(t, lines, want)
		assert.Equal(t, margin, strings.Index(l, want), "client's %q not at its column: %q", want, l)
	}
	for _, want := range []string{"server:80/1: CLOSED -> SYN-RECEIVED", "server:80/2: CLOSED -> SYN-RECEIVED", "server:80: CLOSED -> LISTEN"} {
		l := stateLine(t, lines, want)
		assert.True(t, strings.HasSuffix(l, want), "server's %q does not end at its column: %q", want, l)
	}

	lines = ladderLines(t, `host client 10.0.0.1
host server 10.0.0.2
link client server delay=10ms
listen server 80
connect client server:80 as a
run 1s
ladder
`)
	l := stateLine(t, lines, "SYN-SENT -> ESTABLISHED")
	assert.Equal(t, "   0.020000  SYN-SENT -> ESTABLISHED", l, "one connection per host: no name")
	l = stateLine(t, lines, "CLOSED -> LISTEN")
	assert.NotContains(t, l, ":", "one connection per host: no name")
}

// TestLadderDefaultColumns: a ladder that names no node shows the first
// two hosts that exchanged packets, else the first two a path joins, else
// the first two.
func TestLadderDefaultColumns(t *testing.T) {
	for _, c := range []struct{ name, cell, want string }{
		{"packets", `host x 10.0.0.9
host y 10.0.0.8
host client 10.0.0.1
host server 10.0.0.2
link x y delay=1ms
link client server delay=10ms
listen server 80
connect client server:80
run 1s
ladder
`, "client"},
		{"path", `host x 10.0.0.9
host client 10.0.0.1
host server 10.0.0.2
router r
link client r delay=1ms
link r server delay=1ms
ladder
`, "client"},
		{"none", `host x 10.0.0.9
host client 10.0.0.1
ladder
`, "x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			header := strings.Fields(ladderLines(t, c.cell)[0])
			require.GreaterOrEqual(t, len(header), 4, "header %q", header)
			assert.Equal(t, c.want, header[2], "first column of %q", header)
		})
	}
}
