package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSweepShardsAndMerge: the same command with JOB_COMPLETION_INDEX 0
// and 1 (as a Kubernetes Indexed Job runs it) makes two shards whose merge
// is the one-machine sweep, byte for byte.
func TestSweepShardsAndMerge(t *testing.T) {
	dir := t.TempDir()
	nb := filepath.Join(dir, "sw.md")
	require.NoError(t, os.WriteFile(nb, []byte("# s\n```tcpsim\nparam n=2\nhost c 10.0.0.1\nhost s 10.0.0.2\nlink c s\nlisten s 80 http\n"+
		"workload c s:80 n=$n\nrun 1s\nexpect workload done = $n\n```\n"), 0o644))
	code, whole, errOut := tcpsim("sweep", nb, "--set", "n=1,2,3,4,5")
	require.Equal(t, 0, code, errOut)
	var files []string
	for _, i := range []string{"0", "1"} {
		t.Setenv("JOB_COMPLETION_INDEX", i)
		f := filepath.Join(dir, "shard"+i+".csv")
		code, _, errOut = tcpsim("sweep", nb, "--set", "n=1,2,3,4,5", "--shard", "2", "--out", f)
		require.Equal(t, 0, code, errOut)
		files = append(files, f)
	}
	code, merged, errOut := tcpsim(append([]string{"sweep", "--merge"}, files...)...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, whole, merged)
	assert.Contains(t, whole, "point,n,passed,checks,failed,stopped,end_s,events,")

	code, _, errOut = tcpsim("sweep", nb, "--set", "rate=1,2")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `has no parameter "rate"`)
}

// TestSweepWorkersAsProcesses: a sweep on two workers runs them as two
// tcpsim processes, one shard each, and writes the bytes of the sweep run
// in one process; a malformed point is still exit status 2.
func TestSweepWorkersAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tcpsim binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tcpsim")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)
	nb := filepath.Join(dir, "sw.md")
	require.NoError(t, os.WriteFile(nb, []byte("# s\n```tcpsim\nparam n=2\nhost c 10.0.0.1\nhost s 10.0.0.2\nlink c s\nlisten s 80 http\n"+
		"workload c s:80 n=$n\nrun 1s\nexpect workload done = $n\n```\n"), 0o644))
	code, inProcess, errOut := tcpsim("sweep", nb, "--set", "n=1,2,3,4,5", "--workers", "2")
	require.Equal(t, 0, code, errOut)

	f := filepath.Join(dir, "out.csv")
	cmd := exec.Command(bin, "sweep", nb, "--set", "n=1,2,3,4,5", "--workers", "2", "--out", f)
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := os.ReadFile(f)
	require.NoError(t, err)
	assert.Equal(t, inProcess, string(got))

	bad := exec.Command(bin, "sweep", nb, "--set", "n=1,x", "--workers", "2")
	out, err = bad.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", out)
	assert.Equal(t, 2, ee.ExitCode(), "%s", out)
}
