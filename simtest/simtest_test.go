package simtest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/simtest"
)

func TestRunNotebook(t *testing.T) {
	res := simtest.RunNotebook(t, "../scenarios/notebooks/lost-final-ack.md", scenarios.Config{})
	assert.True(t, res.Passed(), "lost-final-ack's expectations")
}

// TestRunNotebookReportsFailures runs the deliberately wrong notebook with a
// recording TB: it must report the false expectation where it stands, and
// the missing output block as a diff.
func TestRunNotebookReportsFailures(t *testing.T) {
	var got []string
	rec := &recording{reporter: &reporter{}, errs: &got}
	simtest.RunNotebook(rec, "../scenarios/testdata/wrong-claim.md", scenarios.Config{})
	rec.done()
	require.Len(t, got, 2, "reports: %q", got)
	assert.Contains(t, got[0], "wrong-claim.md:13:1: expect server:80/1 TIME-WAIT: got server:80/1 at 1.100000: CLOSED")
	assert.Contains(t, got[1], "outputs differ from the file")
}
