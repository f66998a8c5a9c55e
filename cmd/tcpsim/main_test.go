package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tcpsim(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestList(t *testing.T) {
	code, out, _ := tcpsim("list")
	require.Equal(t, 0, code)
	for _, name := range []string{"normal-close", "simultaneous-close", "lost-final-ack", "old-duplicate"} {
		assert.Contains(t, out, name)
	}
}

func TestRunLostFinalACK(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "x.pcap")
	code, out, errOut := tcpsim("run", "lost-final-ack", "--seed", "5", "--pcap", pcap)
	require.Equal(t, 0, code, "stderr: %s", errOut)
	for _, want := range []string{"-- lost-final-ack.md:", "dropped by rule \"final ACK\"", "ok   expect c TIME-WAIT until #8.arrived+60s", "6 expectations, 0 failed"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "FAIL")
	fi, err := os.Stat(pcap)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(24), "pcap holds only a header")
}

func TestRunJSON(t *testing.T) {
	code, out, _ := tcpsim("run", "--json", "normal-close")
	require.Equal(t, 0, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc), "output is not JSON:\n%s", out)
	for _, k := range []string{"scenario", "seed", "stack", "hosts", "packets", "transitions", "checks"} {
		assert.Contains(t, doc, k)
	}
	checks := doc["checks"].([]any)
	require.NotEmpty(t, checks)
	assert.Contains(t, checks[0].(map[string]any)["pos"], "normal-close.md:")
}

// TestUpdateAndCheck: a copied notebook with stale outputs fails check with
// a diff; run --update fixes it; a second update changes nothing.
func TestUpdateAndCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lfa.md")
	_, text, _ := tcpsim("cat", "lost-final-ack")
	stale := strings.Replace(text, "1: #7", "1: #6", 1)
	require.NotEqual(t, text, stale)
	require.NoError(t, os.WriteFile(path, []byte(stale), 0o644))

	code, out, _ := tcpsim("check", path)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "output differs")
	assert.Contains(t, out, "-     1: #6\n+     1: #7")

	code, _, errOut := tcpsim("run", path, "--update")
	require.Equal(t, 0, code)
	assert.Contains(t, errOut, "updated")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, text, string(got), "--update did not restore the outputs")

	code, _, errOut = tcpsim("run", path, "--update")
	require.Equal(t, 0, code)
	assert.NotContains(t, errOut, "updated", "a second update changed the file")
	code, out, _ = tcpsim("check", dir)
	assert.Equal(t, 0, code, out)
}

func TestCheckBuiltins(t *testing.T) {
	code, out, errOut := tcpsim("check")
	assert.Equal(t, 0, code, "%s%s", out, errOut)
	assert.Contains(t, out, "ok   lost-final-ack")
}

func TestCheckRejectsWrongClaim(t *testing.T) {
	code, out, errOut := tcpsim("check", "../../scenarios/testdata/wrong-claim.md")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "wrong-claim.md:13:1: expect server:80/1 TIME-WAIT: got server:80/1 at 1.100000: CLOSED")
	assert.Contains(t, errOut, "1 of 1 notebooks failed")
}

func TestMalformedNotebook(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.md")
	require.NoError(t, os.WriteFile(path, []byte("# bad\n\n```tcpsim\nhost client 10.0.0.1\nconect client x:1\n```\n"), 0o644))
	code, _, errOut := tcpsim("run", path)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "bad.md:5:1: unknown command \"conect\": want one of")
	assert.NotContains(t, errOut, "usage:", "a notebook error is not a usage error")
}

func TestBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command: want list, run, check, compare or cat"},
		{[]string{"frobnicate"}, `unknown command "frobnicate": want list, run, check, compare or cat`},
		{[]string{"run"}, "run takes one notebook, got 0: want FILE.md or one of bursty-link, corruption-collision, fin-timeout, linger-zero"},
		{[]string{"run", "nope"}, `unknown scenario "nope": want one of bursty-link, corruption-collision, fin-timeout, linger-zero, linux-fin-wait-2`},
		{[]string{"run", "normal-close", "--msl", "-3s"}, `--msl "-3s": want a positive duration such as 30s, 500ms or 2m`},
		{[]string{"run", "normal-close", "--seed", "-1"}, `--seed "-1": want a whole number from 0 to 18446744073709551615`},
		{[]string{"run", "normal-close", "--max-events", "0"}, `--max-events "0": want a whole number above 0`},
		{[]string{"run", "normal-close", "--max-memory", "10"}, `--max-memory "10": want a size of at least 64MiB, such as 512MiB, 2GiB or 2G`},
		{[]string{"run", "normal-close", "--max-memory", "lots"}, `--max-memory "lots": want a size`},
		{[]string{"run", "normal-close", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"run", "normal-close", "--update"}, "--update rewrites a file; normal-close is built in"},
		{[]string{"run", "missing.md"}, "missing.md: no such file or directory"},
		{[]string{"list", "extra"}, `list takes no arguments, got "extra"`},
		{[]string{"cat", "nope"}, `unknown scenario "nope"`},
		{[]string{"check", "--update"}, `check takes files and directories, and --html DIR, not "--update"`},
		{[]string{"run", "normal-close", "--sysctl", "tcp_tw_reuse=1"}, "want HOST:NAME=VALUE"},
		{[]string{"run", "normal-close", "--profile", "linux"}, "want HOST:PROFILE"},
		{[]string{"run", "x.md", "--kernel", "--update"}, "--update with --kernel: a kernel run is wall time and not deterministic"},
		{[]string{"compare"}, "compare takes one or more notebooks (FILE.md or a built-in name), or --conformance"},
		{[]string{"compare", "nope"}, `unknown scenario "nope"`},
		{[]string{"compare", "normal-close", "--bogus"}, "compare: flag provided but not defined: -bogus"},
	} {
		code, out, errOut := tcpsim(c.args...)
		assert.Equal(t, 2, code, "tcpsim %s", strings.Join(c.args, " "))
		assert.Empty(t, out)
		assert.Contains(t, errOut, c.want, "tcpsim %s", strings.Join(c.args, " "))
	}
}

func TestBudgetStopsTheRun(t *testing.T) {
	code, _, errOut := tcpsim("run", "lost-final-ack", "--max-time", "30s")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "virtual-time budget of 30s exhausted")
	assert.Contains(t, errOut, "raise it with --max-time")

	code, _, errOut = tcpsim("run", "lost-final-ack", "--max-events", "5")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "event budget of 5 exhausted")
}

func TestPcapToBadPath(t *testing.T) {
	code, _, errOut := tcpsim("run", "normal-close", "--pcap", filepath.Join(t.TempDir(), "no", "such", "dir.pcap"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "no such file or directory")
}

// TestReadmeExample keeps the README's example output true: every line of
// it (but the elisions) appears in the real output, in order.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	const start = "$ go run ./cmd/tcpsim run lost-final-ack\n"
	s := string(readme)
	i := strings.Index(s, start)
	require.GreaterOrEqual(t, i, 0, "README has no example run")
	block := s[i+len(start):]
	block = block[:strings.Index(block, "```")]
	code, out, _ := tcpsim("run", "lost-final-ack")
	require.Equal(t, 0, code)
	rest := out
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		if line == "..." || line == "" {
			continue
		}
		k := strings.Index(rest, line+"\n")
		require.GreaterOrEqual(t, k, 0, "README line not in the output (or out of order): %q", line)
		rest = rest[k+len(line):]
	}
}

// TestKnobsFromTheCommandLine: --profile and --sysctl change a notebook's
// hosts; a bad knob names the knob and its values.
func TestKnobsFromTheCommandLine(t *testing.T) {
	code, out, _ := tcpsim("run", "tw-reuse", "--json", "--sysctl", "lin:tcp_tw_reuse=0")
	assert.Equal(t, 1, code, "with reuse off, the notebook's reuse expectations must fail")
	assert.Contains(t, out, `"name": "net.ipv4.tcp_tw_reuse",`)

	// A linux-profile client: the gVisor server's separate ACK and FIN
	// still show the client's FIN-WAIT-2. (A linux-profile server would
	// fold its ACK into its FIN, as Linux does, and the notebook's
	// FIN-WAIT-2 expectation, written for gVisor, would fail.)
	code, out, _ = tcpsim("run", "normal-close", "--json", "--profile", "client:linux")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `"behaviour": "linux"`)

	code, _, errOut := tcpsim("run", "normal-close", "--sysctl", "server:tcp_tw_reuse=7")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "normal-close.md:")
	assert.Contains(t, errOut, "--sysctl server:tcp_tw_reuse=7: net.ipv4.tcp_tw_reuse = \"7\": want 0 (off), 1 (global) or 2 (loopback only)")
}

// TestPcapNGFlag: --pcapng writes a pcapng file (its section header block
// type comes first).
func TestPcapNGFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcapng")
	code, _, errOut := tcpsim("run", "--pcapng", path, "nat-chain")
	require.Equal(t, 0, code, errOut)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(b), 4)
	assert.Equal(t, []byte{0x0a, 0x0d, 0x0d, 0x0a}, b[:4], "pcapng section header block type")
}

// TestUpdateIsAtomic: a write that fails half way leaves the notebook as it
// was and no temporary file behind; one that succeeds replaces it whole,
// keeping its permissions (issue 11, item 14).
func TestUpdateIsAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nb.md")
	require.NoError(t, os.WriteFile(path, []byte("the original\n"), 0o640))
	err := writeAtomic(path, func(w io.Writer) error {
		io.WriteString(w, "half of the new")
		return errors.New("disk full")
	})
	require.Error(t, err)
	b, _ := os.ReadFile(path)
	assert.Equal(t, "the original\n", string(b), "a failed write leaves the notebook whole")
	ents, _ := os.ReadDir(dir)
	assert.Len(t, ents, 1, "no temporary file left")

	require.NoError(t, writeAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "new\n"); return err }))
	b, _ = os.ReadFile(path)
	assert.Equal(t, "new\n", string(b))
	fi, _ := os.Stat(path)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

// TestFlagsForAHostTheNotebookLacks: --sysctl and --profile naming a host
// the notebook does not have are bad usage, and the error names the hosts
// it has (issue 11, item 12).
func TestFlagsForAHostTheNotebookLacks(t *testing.T) {
	code, _, errOut := tcpsim("run", "normal-close", "--sysctl", "nohost:tcp_tw_reuse=1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--sysctl nohost:tcp_tw_reuse=1: normal-close.md has no host "nohost": want one of client, server`)
	code, _, errOut = tcpsim("run", "normal-close", "--profile", "srv:linux")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--profile srv:linux: normal-close.md has no host "srv"`)
}

// TestHelpAndVersion: -h and --help on every command print the usage on
// stdout and exit 0; version names tcpsim's and gVisor's versions (issue
// 11, item 11).
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"run", "-h"}, {"run", "lost-final-ack", "--help"}, {"check", "-h"}, {"compare", "--help"}, {"list", "-h"}, {"cat", "-h"}} {
		code, out, errOut := tcpsim(args...)
		assert.Equal(t, 0, code, "tcpsim %s", strings.Join(args, " "))
		assert.Contains(t, out, "usage:", "tcpsim %s", strings.Join(args, " "))
		assert.Empty(t, errOut)
	}
	code, out, _ := tcpsim("version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "tcpsim ")
	assert.Contains(t, out, "netstack gvisor.dev/gvisor@")
}

// TestJSONSummary: --json=summary leaves the packets and transitions out
// and counts them.
func TestJSONSummary(t *testing.T) {
	code, out, errOut := tcpsim("run", "lost-final-ack", "--json=summary")
	require.Equal(t, 0, code, errOut)
	var doc struct {
		Packets         []any `json:"packets"`
		Transitions     []any `json:"transitions"`
		PacketCount     int   `json:"packet_count"`
		TransitionCount int   `json:"transition_count"`
		Checks          []any `json:"checks"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Empty(t, doc.Packets)
	assert.Empty(t, doc.Transitions)
	assert.Equal(t, 9, doc.PacketCount, "#1-#9")
	assert.Positive(t, doc.TransitionCount)
	assert.Len(t, doc.Checks, 6)
	code, _, _ = tcpsim("run", "lost-final-ack", "--json=bogus")
	assert.Equal(t, 2, code)
}
