package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestArticlesOneLiner runs the articles' awk one-liner, unchanged, on the
// netstat view of the netstat notebook and checks its counts.
func TestArticlesOneLiner(t *testing.T) {
	awk, err := exec.LookPath("awk")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("awk is not installed; .ci/run must install it")
		}
		t.Skip("no awk on this machine")
	}
	code, out, _ := tcpsim("run", filepath.Join("..", "..", "scenarios", "notebooks", "netstat.md"))
	require.Equal(t, 0, code)
	// The netstat view's lines, as netstat -ant would print them.
	start := strings.Index(out, "server$ netstat -ant")
	require.GreaterOrEqual(t, start, 0)
	view := out[start:]
	view = view[strings.Index(view, "\n")+1:]
	view = view[:strings.Index(view, "server$ ss -s")]

	cmd := exec.Command(awk, `/^tcp/ {++S[$NF]} END {for(a in S) print a, S[a]}`)
	cmd.Stdin = strings.NewReader(view)
	got, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	assert.ElementsMatch(t, []string{"TIME_WAIT 30", "ESTABLISHED 1", "LISTEN 1"}, lines, "awk printed:\n%s", got)
}
