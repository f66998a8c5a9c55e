package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/tcpsim/tcpsim/conformance"
	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/timewait"
)

// compared is one notebook's comparison, or why it could not be made.
type compared struct {
	target string
	res    conformance.Result
	err    error
}

// compare runs each notebook under the linux profile and on the kernel,
// all at once (a kernel run spends its time waiting for the kernel's
// timers), and prints the differences, then a table.
func compare(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var profiles, sysctls, modelSysctls []string
	profileFlag(fs, "profile", "server:gvisor", &profiles)
	sysctlFlag(fs, "sysctl", "server:tcp_tw_reuse=1", &sysctls)
	sysctlFlag(fs, "model-sysctl", "client:tcp_rfc1337=1", &modelSysctls)
	table := fs.String("table", "", "")
	conf := fs.Bool("conformance", false, "")
	targets, err := parseAnywhere(fs, args)
	if err != nil {
		return usageError{msg: "compare: " + err.Error()}
	}
	if *conf {
		targets = append(targets, scenarios.Conformance()...)
	}
	if len(targets) == 0 {
		return usageError{msg: "compare takes one or more notebooks (FILE.md or a built-in name), or --conformance"}
	}
	for _, t := range targets {
		if !isFile(t) {
			if _, err := scenarios.Lookup(t); err != nil {
				return usageError{msg: err.Error()}
			}
		}
	}
	model := scenarios.Config{Profiles: append([]string{"*:linux"}, profiles...), Sysctls: append(sysctls, modelSysctls...)}
	real := scenarios.Config{Kernel: true, Sysctls: sysctls}
	release, modelled := kernel.Release(), timewait.Linux618.String()
	fmt.Fprintf(stdout, "comparing the linux profile (models Linux %s) with this machine's kernel (Linux %s)\n", modelled, release)
	if !strings.HasPrefix(release, modelled+".") && release != modelled {
		fmt.Fprintf(stdout, "warning: the kernel is not the version the linux profile models; differences may be the versions'\n")
	}
	fmt.Fprintf(stdout, "%s\n\n", scenarios.KernelNote())

	// The model runs first, one after another, and only their structure
	// is kept: the kernel runs, all at once, then find the CPU and the
	// heap free (a garbage collection of the models' stacks in the middle
	// of a kernel run makes it tens of milliseconds late).
	out := make([]compared, len(targets))
	models := make([]conformance.Structure, len(targets))
	for i, t := range targets {
		out[i].target = t
		m, err := load(t, model)
		if err != nil {
			out[i].err = err
			continue
		}
		models[i] = conformance.Extract(m.World, m.SocketName)
		m.Close()
	}
	runtime.GC()
	clocks := kernel.NewClocks(len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		if out[i].err != nil {
			clocks[i].Release()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer clocks[i].Release()
			cfg := real
			cfg.Clock = clocks[i]
			out[i] = compareOne(t, models[i], cfg)
		}()
	}
	wg.Wait()

	var bad, malformed int
	for _, c := range out {
		fmt.Fprintf(stdout, "== %s\n", c.target)
		var ue usageError
		switch {
		case errors.As(c.err, &ue):
			malformed++
			fmt.Fprintf(stdout, "cannot compare: %v\n\n", c.err)
			continue
		case c.err != nil:
			bad++
			fmt.Fprintf(stdout, "cannot compare: %v\n\n", c.err)
			continue
		}
		if !c.res.Agree() {
			bad++
		}
		c.res.Write(stdout, "linux profile", "kernel")
		fmt.Fprintln(stdout)
	}
	tab := compareTable(out, release)
	fmt.Fprint(stdout, tab)
	if *table != "" {
		if err := os.WriteFile(*table, []byte(tab), 0o644); err != nil {
			return err
		}
	}
	switch {
	case malformed > 0:
		return usageError{msg: fmt.Sprintf("%d of %d notebooks could not run on the kernel", malformed, len(targets)), pos: true}
	case bad > 0:
		fmt.Fprintf(stderr, "tcpsim: %d of %d notebooks differ\n", bad, len(targets))
		return errFailed
	}
	return nil
}

// compareOne runs one notebook on the kernel and compares it with the
// model's run.
func compareOne(target string, model conformance.Structure, real scenarios.Config) compared {
	c := compared{target: target}
	k, err := load(target, real)
	if err != nil {
		c.err = err
		return c
	}
	defer k.Close()
	c.res = conformance.Compare(model, conformance.Extract(k.World, k.SocketName), conformance.Options{Tolerance: kernel.Tolerance, IgnoreLoopback: true}).
		Explain(strings.TrimSuffix(filepath.Base(target), ".md"), conformance.KernelDiffs)
	return c
}

// compareTable is the summary, as a Markdown table.
func compareTable(out []compared, release string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| notebook | states | segments | counters | timings | verdict |\n|---|---|---|---|---|---|\n")
	for _, c := range out {
		if c.err != nil {
			fmt.Fprintf(&b, "| %s | | | | | cannot run: %s |\n", c.target, strings.ReplaceAll(firstLine(c.err.Error()), "|", "/"))
			continue
		}
		cell := func(a conformance.Aspect) string {
			known := 0
			for _, d := range c.res.Explained {
				if d.Aspect == a {
					known++
				}
			}
			if c.res.AspectAgrees(a) {
				if known > 0 {
					return fmt.Sprintf("agree (%d), %d known", c.res.Count[a], known)
				}
				return fmt.Sprintf("agree (%d)", c.res.Count[a])
			}
			n := 0
			for _, d := range c.res.Diffs {
				if d.Aspect == a {
					n++
				}
			}
			return fmt.Sprintf("**%d differ** of %d", n, c.res.Count[a])
		}
		verdict := "agree"
		switch {
		case !c.res.Agree():
			verdict = "**differ**"
		case len(c.res.Explained) > 0:
			verdict = "agree, known differences"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", c.target, cell(conformance.States), cell(conformance.Segments),
			cell(conformance.Counters), cell(conformance.Timings), verdict)
	}
	fmt.Fprintf(&b, "\n(kernel: Linux %s)\n", release)
	return b.String()
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
