package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docFigures are the pictures in docs/figures, each with the command that
// makes it (docs/pictures.md lists the same commands).
var docFigures = []struct {
	file string
	args []string
}{
	{"lost-final-ack.svg", []string{"run", "lost-final-ack", "--svg", "docs/figures/lost-final-ack.svg"}},
	{"old-duplicate.svg", []string{"run", "old-duplicate", "--svg", "docs/figures/old-duplicate.svg"}},
	{"nat-chain.html", []string{"run", "nat-chain", "--html", "docs/figures/nat-chain.html"}},
}

// TestDocFiguresAreCurrent regenerates docs/figures and fails when a file
// differs from what tcpsim makes now (TCPSIM_UPDATE_DOCS=1 rewrites them),
// and checks docs/pictures.md names each command.
func TestDocFiguresAreCurrent(t *testing.T) {
	doc, err := os.ReadFile("../../docs/pictures.md")
	require.NoError(t, err)
	for _, f := range docFigures {
		assert.Contains(t, string(doc), "tcpsim "+strings.Join(f.args, " "), "docs/pictures.md names the command of %s", f.file)
		tmp := filepath.Join(t.TempDir(), f.file)
		args := append([]string(nil), f.args...)
		args[len(args)-1] = tmp
		code, _, errOut := tcpsim(args...)
		require.Equal(t, 0, code, "tcpsim %s: %s", strings.Join(f.args, " "), errOut)
		got, err := os.ReadFile(tmp)
		require.NoError(t, err)
		path := filepath.Join("../../docs/figures", f.file)
		if os.Getenv("TCPSIM_UPDATE_DOCS") != "" {
			require.NoError(t, os.WriteFile(path, got, 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, string(want) == string(got), "docs/figures/%s is stale: rerun tcpsim %s (or TCPSIM_UPDATE_DOCS=1 go test ./cmd/tcpsim -run TestDocFiguresAreCurrent)", f.file, strings.Join(f.args, " "))
	}
}

// TestCheckHTML: check --html DIR writes a report per notebook and an
// index linking them with their verdicts; run --svg-dir writes a file per
// ladder of the notebook.
func TestCheckHTML(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := tcpsim("check", "lost-final-ack", "linger-zero", "--html", dir)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	index, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	for _, n := range []string{"lost-final-ack", "linger-zero"} {
		assert.Contains(t, string(index), `<a href="`+n+`.html">`+n+`</a>`)
		page, err := os.ReadFile(filepath.Join(dir, n+".html"))
		require.NoError(t, err)
		assert.Contains(t, string(page), `<a href="index.html">`)
	}
	assert.Contains(t, string(index), "6 expectations, 0 failed")

	svgs := t.TempDir()
	code, _, errOut = tcpsim("run", "simultaneous-close", "--svg-dir", svgs)
	require.Equal(t, 0, code, errOut)
	files, err := filepath.Glob(filepath.Join(svgs, "*.svg"))
	require.NoError(t, err)
	assert.Equal(t, []string{"simultaneous-close-1.svg", "simultaneous-close-2.svg", "simultaneous-close-3.svg"}, baseNames(files), "one per ladder statement")
}

func baseNames(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}
