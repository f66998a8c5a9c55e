package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sweep"
)

// sweepCommand: tcpsim sweep NOTEBOOK --set NAME=V1,V2 ... [--shard I/N]
// [--workers N] [--out FILE] [--plot FILE.svg [--y COLUMN]], or tcpsim
// sweep --merge [--partial] FILE...
func sweepCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var axes []sweep.Axis
	fs.Func("set", "", func(v string) error {
		name, values, ok := strings.Cut(v, "=")
		if !ok || name == "" || values == "" {
			return fmt.Errorf("want NAME=V1,V2,..., e.g. rate=100/s,1000/s")
		}
		axes = append(axes, sweep.Axis{Name: name, Values: strings.Split(values, ",")})
		return nil
	})
	shard := fs.String("shard", "", "")
	out := fs.String("out", "", "")
	workers := fs.Int("workers", 0, "")
	seed := fs.String("seed", "", "")
	merge := fs.Bool("merge", false, "")
	plotFile := fs.String("plot", "", "")
	plotY := fs.String("y", "failed", "")
	partial := fs.Bool("partial", false, "")
	pos, err := parseAnywhere(fs, args)
	if err != nil {
		return usageError{msg: "sweep: " + err.Error()}
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return usageError{msg: err.Error() + ": want a file that can be created", pos: true}
		}
		defer f.Close()
		w = f
	}
	if *merge {
		var ins []io.Reader
		for _, p := range pos {
			f, err := os.Open(p)
			if err != nil {
				return usageError{msg: err.Error(), pos: true}
			}
			defer f.Close()
			ins = append(ins, f)
		}
		if len(ins) == 0 {
			return usageError{msg: "sweep --merge takes the shards' CSV files"}
		}
		return sweep.Merge(w, ins, *partial)
	}
	if len(pos) != 1 || len(axes) == 0 {
		return usageError{msg: "sweep takes one notebook and at least one --set NAME=V1,V2,...: tcpsim sweep NOTEBOOK --set rate=100/s,1000/s [--shard I/N] [--out FILE]"}
	}
	o := sweep.Options{Axes: axes, Workers: *workers, Config: scenarios.Config{MaxMemory: defaultMaxMemory()}}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return usageError{msg: fmt.Sprintf("--seed %q: want a whole number", *seed)}
		}
		o.Config.Seed = &n
	}
	if o.Shard, o.Shards, err = parseShard(*shard); err != nil {
		return err
	}
	target := pos[0]
	if !isFile(target) {
		if _, err := scenarios.Lookup(target); err != nil {
			return usageError{msg: err.Error()}
		}
	}
	o.Run = func(cfg scenarios.Config) (*scenarios.Result, error) {
		if isFile(target) {
			return scenarios.RunFile(target, cfg)
		}
		return scenarios.Run(target, cfg)
	}
	var table bytes.Buffer
	if n := processes(o, *shard); n > 1 {
		err = sweepProcesses(io.MultiWriter(w, &table), stderr, n, target, axes, *seed)
	} else {
		err = sweep.Run(io.MultiWriter(w, &table), o)
	}
	if err != nil {
		if scenarios.IsPosError(err) || strings.Contains(err.Error(), "has no parameter") {
			return usageError{msg: err.Error(), pos: true}
		}
		return err
	}
	if *plotFile != "" {
		return writeFile(*plotFile, func(pw io.Writer) error { return sweep.Plot(pw, &table, len(axes), *plotY) })
	}
	return nil
}

// parseShard reads I/N, or N with I from $JOB_COMPLETION_INDEX (a
// Kubernetes Indexed Job's index); "" is the whole grid.
func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 1, nil
	}
	i, n, ok := strings.Cut(s, "/")
	if !ok {
		i, n = os.Getenv("JOB_COMPLETION_INDEX"), s
		if i == "" {
			return 0, 0, usageError{msg: fmt.Sprintf("--shard %s: want I/N, or N with JOB_COMPLETION_INDEX set", s)}
		}
	}
	shard, err1 := strconv.Atoi(i)
	shards, err2 := strconv.Atoi(n)
	if err1 != nil || err2 != nil || shards < 1 || shard < 0 || shard >= shards {
		return 0, 0, usageError{msg: fmt.Sprintf("--shard %s: want I/N with 0 <= I < N", s)}
	}
	return shard, shards, nil
}
