package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/tcpsim/tcpsim/sweep"
)

// A sweep on several cores runs its workers as processes of one core each
// (tcpsim itself, each running one shard of the grid: --shard I/N), then
// joins their CSVs as sweep --merge does, into the bytes an in-process
// sweep writes. In one process, each World's hand-offs to its stacks' TCP
// processors cross threads once two Worlds share the cores; as processes,
// each World switches goroutines on its own core (docs/performance.md,
// "Why a sweep does not use two cores fully").

// inProcessEnv, set to 1, keeps a sweep's workers in its process.
const inProcessEnv = "TCPSIM_SWEEP_INPROC"

// processes is how many worker processes a sweep runs: one per worker
// when it has more than one and the whole grid to run (a shard given on
// the command line runs its points in process), when this executable is
// named tcpsim (not a test binary, which would run its tests) and
// inProcessEnv is unset; else 0.
func processes(o sweep.Options, shard string) int {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(sweep.Points(o.Axes)))
	if workers < 2 || shard != "" || os.Getenv(inProcessEnv) != "" {
		return 0
	}
	exe, err := os.Executable()
	if err != nil || strings.TrimSuffix(filepath.Base(exe), ".exe") != "tcpsim" {
		return 0
	}
	return workers
}

// sweepProcesses runs n shards of the grid as n tcpsim processes and
// writes their merged CSV to out; their messages go to stderr.
func sweepProcesses(out, stderr io.Writer, n int, target string, axes []sweep.Axis, seed string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tcpsim-sweep-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmds := make([]*exec.Cmd, n)
	files := make([]string, n)
	for i := range cmds {
		files[i] = filepath.Join(dir, fmt.Sprintf("shard%d.csv", i))
		args := []string{"sweep", target, "--shard", fmt.Sprintf("%d/%d", i, n), "--out", files[i]}
		for _, a := range axes {
			args = append(args, "--set", a.Name+"="+strings.Join(a.Values, ","))
		}
		if seed != "" {
			args = append(args, "--seed", seed)
		}
		cmds[i] = exec.Command(exe, args...)
		cmds[i].Env = append(os.Environ(), "GOMAXPROCS=1", inProcessEnv+"=1")
		cmds[i].Stderr = stderr
		if err := cmds[i].Start(); err != nil {
			return err
		}
	}
	var failed error
	for i, c := range cmds {
		if err := c.Wait(); err != nil && failed == nil {
			failed = fmt.Errorf("sweep: shard %d/%d: %w", i, n, err)
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() == 2 {
				failed = usageError{msg: failed.Error() + " (a malformed notebook or parameter: see above)", pos: true}
			}
		}
	}
	if failed != nil {
		return failed
	}
	var ins []io.Reader
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			return err
		}
		defer r.Close()
		ins = append(ins, r)
	}
	return sweep.Merge(out, ins, false)
}
