package diagram_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
)

func mermaidOf(tb testing.TB, name string) string {
	tb.Helper()
	res, err := scenarios.Run(name, scenarios.Config{})
	require.NoError(tb, err)
	defer res.Close()
	var b strings.Builder
	require.NoError(tb, diagram.WriteLadderMermaid(&b, res.Ladder(nil)))
	return b.String()
}

// TestMermaidFitsMermaidsLimit: Mermaid draws no diagram longer than its
// maxTextSize (50,000 characters by default, as code hosts keep it), only
// an error box in its place; port-exhaustion's whole run is six times
// that. The ladder stops before the limit and its last note says how much
// it leaves out (packets, and notes: state changes and timer restarts).
func TestMermaidFitsMermaidsLimit(t *testing.T) {
	text := mermaidOf(t, "port-exhaustion")
	assert.LessOrEqual(t, len(text), 50000, "bytes (Mermaid counts UTF-16 units, never more than bytes)")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	last := lines[len(lines)-1]
	assert.Regexp(t, `^    Note over n0,n1: … [0-9]+ more packets and [0-9]+ more notes not drawn \(Mermaid draws at most 50000 characters, the SVG ladder draws them all\)$`, last)
	for _, l := range lines[2 : len(lines)-1] {
		assert.Regexp(t, `^    (participant n[0-9]+ as |n[0-9]+(->>|-x|--\))n[0-9]+: |Note over n[0-9]+(,n[0-9]+)?: )`, l)
	}

	small := mermaidOf(t, "lost-final-ack")
	assert.NotContains(t, small, "not drawn")
	assert.True(t, strings.HasSuffix(small, "    Note over n0,n1: 59.99 s pass\n    Note over n0: 60.360000 TIME-WAIT → CLOSED\n"), "the whole run, to its last state change:\n%s", small)
}

// TestMermaidGapBeforeRestart: a TIME-WAIT timer restart a second or more
// after the entry before it comes after the note that the time passed.
func TestMermaidGapBeforeRestart(t *testing.T) {
	l := diagram.Ladder{
		Columns:     []string{"a", "b"},
		Transitions: []sim.Transition{{At: 0, Host: "a", Endpoint: 1, From: sim.FinWait2, To: sim.TimeWait, Order: 1}},
		Restarts:    []sim.TimeWaitRestart{{At: 2 * time.Second, Host: "a", Endpoint: 1, Until: 62 * time.Second, Order: 2}},
	}
	var b strings.Builder
	require.NoError(t, diagram.WriteLadderMermaid(&b, l))
	assert.Contains(t, b.String(), "    Note over n0: 0.000000 FIN-WAIT-2 → TIME-WAIT\n    Note over n0,n1: 2 s pass\n    Note over n0: 2.000000 TIME-WAIT timer restarted, ends 62.000000\n")
}
