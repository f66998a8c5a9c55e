package main

import (
	"os"
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
