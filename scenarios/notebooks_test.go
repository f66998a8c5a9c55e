package scenarios_test

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
)

var update = flag.Bool("update", false, "rewrite the shipped notebooks' output blocks")

// runBuiltin runs a shipped notebook and closes it when the test ends.
func runBuiltin(tb testing.TB, name string, cfg scenarios.Config) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.Run(name, cfg)
	require.NoError(tb, err, "run %s", name)
	tb.Cleanup(res.Close)
	return res
}

// TestNotebooks is `tcpsim check` for every shipped notebook: each
// expectation holds and the output blocks are what a rerun writes. With
// -update it rewrites them instead.
func TestNotebooks(t *testing.T) {
	for _, b := range scenarios.List() {
		t.Run(b.Name, func(t *testing.T) {
			res := runBuiltin(t, b.Name, scenarios.Config{})
			assert.Empty(t, res.Failures(), "failed expectations")
			assert.Zero(t, res.World.AsyncOps(), "a stack worked outside an event")
			if *update {
				path := filepath.Join("notebooks", b.Name+".md")
				require.NoError(t, os.WriteFile(path, []byte(res.Rendered()), 0o644))
				return
			}
			assert.Empty(t, res.Diff(), "outputs differ from the notebook (go test ./scenarios -update rewrites them)")
		})
	}
}

// TestEveryNotebookIsListed: every file in notebooks/ is a built-in, and
// parses; a notebook that stops parsing must fail here, not vanish from
// the list (and so from TestNotebooks and tcpsim check).
func TestEveryNotebookIsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("notebooks", "*.md"))
	require.NoError(t, err)
	list := scenarios.List()
	require.Len(t, list, len(files))
	for _, b := range list {
		assert.NotContains(t, b.Title, "does not parse", b.Name)
	}
}
