package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exitCase is one row of the exit-status table of docs/notebooks.md: what
// happened, the status, and the command line that makes it happen (args
// may name files of dir).
type exitCase struct {
	when string
	code int
	args func(dir string) []string
}

// notebookFile writes text to dir/name and returns its path.
func notebookFile(dir, name, text string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		panic(err)
	}
	return p
}

const goodCell = "# t\n\n```tcpsim\nhost c 10.0.0.1\nhost s 10.0.0.2\nlink c s\nlisten s 80\n"

var exitCases = []exitCase{
	{"every expectation holds (check: and every output block is unchanged)", 0, func(string) []string { return []string{"run", "normal-close"} }},
	{"`-h` or `--help` on any command, `tcpsim help`", 0, func(string) []string { return []string{"check", "--help"} }},
	{"`tcpsim version`", 0, func(string) []string { return []string{"version"} }},
	{"an expectation fails", 1, func(string) []string { return []string{"run", "../../scenarios/testdata/wrong-claim.md"} }},
	{"an expectation names a connection its listener never accepted", 1, func(dir string) []string {
		return []string{"run", notebookFile(dir, "a.md", goodCell+"run 1s\nexpect s:80/1 ESTABLISHED\n```\n")}
	}},
	{"a budget (`--max-time`, `--max-events`, `--max-memory`) stops the run: what ran is printed, then the budget", 1, func(string) []string {
		return []string{"run", "lost-final-ack", "--max-time", "30s"}
	}},
	{"check: an output block differs", 1, func(dir string) []string {
		return []string{"check", notebookFile(dir, "b.md", goodCell+"note \"x\"\n```\n\n```tcpsim-output\ny\n```\n")}
	}},
	{"a malformed statement (`FILE:LINE:COL: ...`)", 2, func(dir string) []string {
		return []string{"run", notebookFile(dir, "c.md", goodCell+"conect c s:80\n```\n")}
	}},
	{"an empty file", 2, func(dir string) []string { return []string{"run", notebookFile(dir, "d.md", "")} }},
	{"a binary file", 2, func(dir string) []string {
		return []string{"run", notebookFile(dir, "e.md", "\x7fELF\x02\x01\x01\x00")}
	}},
	{"a file without tcpsim cells", 2, func(dir string) []string { return []string{"run", notebookFile(dir, "f.md", "# prose\n")} }},
	{"a fence that is never closed", 2, func(dir string) []string {
		return []string{"run", notebookFile(dir, "g.md", "# t\n```tcpsim\nhost c 10.0.0.1\n")}
	}},
	{"a directory given to run", 2, func(dir string) []string { return []string{"run", dir + string(os.PathSeparator)} }},
	{"a notebook that does not exist", 2, func(dir string) []string { return []string{"run", filepath.Join(dir, "none.md")} }},
	{"an unknown command or flag, a flag without its value", 2, func(string) []string { return []string{"run", "normal-close", "--bogus"} }},
	{"`--profile` or `--sysctl` for a host the notebook does not have", 2, func(string) []string {
		return []string{"run", "normal-close", "--sysctl", "nobody:tcp_tw_reuse=1"}
	}},
	{"`--set` of a parameter the notebook does not declare", 2, func(string) []string { return []string{"run", "normal-close", "--set", "rate=1"} }},
	{"an output file (`--pcap`, `--pcapng`) that cannot be created", 2, func(dir string) []string {
		return []string{"run", "normal-close", "--pcap", filepath.Join(dir, "no", "x.pcap")}
	}},
	{"tcpsim itself failed (a panic: a bug in tcpsim, with its stack on stderr)", 3, nil},
}

// TestExitCodes runs every case of the exit-status table and checks the
// table in docs/notebooks.md is this one.
func TestExitCodes(t *testing.T) {
	for _, c := range exitCases {
		var code int
		var errOut string
		if c.args == nil {
			prev := dispatchFn
			dispatchFn = func([]string, io.Writer, io.Writer) error { panic("test panic") }
			code, _, errOut = tcpsim("run", "normal-close")
			dispatchFn = prev
			assert.Contains(t, errOut, "internal error (a bug in tcpsim")
		} else {
			code, _, errOut = tcpsim(c.args(t.TempDir())...)
		}
		assert.Equal(t, c.code, code, "%s: stderr %s", c.when, errOut)
	}

	doc, err := os.ReadFile("../../docs/notebooks.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(doc), "\n## Exit status\n")
	require.True(t, ok, "docs/notebooks.md has no section ## Exit status")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile(`(?m)^\| ([0-3]) \| (.+) \|$`)
	var got, want []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		got = append(got, m[1]+" "+m[2])
	}
	for _, c := range exitCases {
		want = append(want, string(rune('0'+c.code))+" "+c.when)
	}
	assert.Equal(t, want, got, "the exit-status table of docs/notebooks.md differs from exitCases")
	assert.True(t, slices.IsSortedFunc(exitCases, func(a, b exitCase) int { return a.code - b.code }))
}
