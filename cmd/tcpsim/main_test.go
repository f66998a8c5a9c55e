package main

import (
	"bytes"
	"encoding/json"
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
	for _, section := range []string{"== packets", "== ladder", "== checks", "PASS  the server retransmits its FIN from LAST-ACK"} {
		assert.Contains(t, out, section)
	}
	assert.NotContains(t, out, "FAIL")
	fi, err := os.Stat(pcap)
	require.NoError(t, err)
	assert.Greater(t, fi.Size(), int64(24), "pcap holds only a header")
}

func TestRunJSON(t *testing.T) {
	code, out, _ := tcpsim("run", "--json", "normal-close", "--msl", "1m")
	require.Equal(t, 0, code)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc), "output is not JSON:\n%s", out)
	for _, k := range []string{"scenario", "seed", "stack", "hosts", "packets", "transitions", "checks"} {
		assert.Contains(t, doc, k)
	}
	hosts := doc["hosts"].([]any)
	assert.Equal(t, 60e9, hosts[0].(map[string]any)["msl_ns"])
}

func TestBadUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no command: want list or run"},
		{[]string{"frobnicate"}, `unknown command "frobnicate": want list or run`},
		{[]string{"run"}, "run takes one scenario name, got 0: want one of normal-close, simultaneous-close, lost-final-ack, old-duplicate"},
		{[]string{"run", "nope"}, `unknown scenario "nope": want one of normal-close, simultaneous-close, lost-final-ack, old-duplicate`},
		{[]string{"run", "normal-close", "--msl", "-3s"}, `--msl "-3s": want a positive duration such as 30s, 500ms or 2m`},
		{[]string{"run", "normal-close", "--msl", "forever"}, `--msl "forever": want a positive duration`},
		{[]string{"run", "normal-close", "--seed", "-1"}, `--seed "-1": want a whole number from 0 to 18446744073709551615`},
		{[]string{"run", "normal-close", "--max-events", "0"}, `--max-events "0": want a whole number above 0`},
		{[]string{"run", "normal-close", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"list", "extra"}, `list takes no arguments, got "extra"`},
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
	assert.Equal(t, 1, code)
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
