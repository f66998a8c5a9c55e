// Command tcpsim runs TCP teardown scenarios, written as notebooks, on gVisor
// network stacks over a simulated link, on a virtual clock, deterministically.
//
// Usage:
//
//	tcpsim list                         list the built-in notebooks
//	tcpsim run NAME|FILE.md [flags]     run one, cell by cell
//	tcpsim check [FILE.md|DIR ...]      rerun notebooks, compare outputs and expectations
//	tcpsim cat NAME                     print a built-in notebook
//	tcpsim compare NOTEBOOK...          run notebooks under the linux profile and on the kernel, and compare
//
// Exit status: 0 when every expectation holds (and, for check, every output
// is unchanged), 1 when one does not or a run stops on a budget, 2 for bad
// usage or a malformed notebook, 3 when tcpsim itself failed (a bug).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  tcpsim list                        list the built-in notebooks
  tcpsim run NAME|FILE.md [flags]    run a notebook and print it cell by cell
  tcpsim check [FILE.md|DIR ...] [--html DIR]
                                     rerun notebooks (default: the built-ins); fail if an
                                     expectation fails or an output block differs; --html
                                     writes a report per notebook and index.html to DIR
  tcpsim cat NAME                    print a built-in notebook (to copy and edit)
  tcpsim version                     print tcpsim's version and the gVisor netstack it runs
  tcpsim sweep NOTEBOOK --set NAME=V1,V2,... [--set ...] [--shard I/N] [--workers N] [--out F]
                                     run the grid of parameter values on every core, one CSV
                                     row per point; --shard runs one shard of it (N alone:
                                     I from JOB_COMPLETION_INDEX); --plot F.svg [--y COLUMN]
                                     draws COLUMN (default failed) by the first parameter
  tcpsim sweep --merge [--partial] F... join the shards' CSVs into the one-machine CSV
  tcpsim compare NOTEBOOK... [flags] run each notebook under the linux profile and on this
                                     machine's kernel (--kernel), all at once, and print
                                     where they differ: states, segments, counters, timings

flags of compare:
  --profile H:P     run host H with profile P in the model run (default: every host linux)
  --sysctl H:K=V    set knob K of host H in both runs; repeatable
  --model-sysctl H:K=V  set it in the model run only (a model made wrong on purpose, to see
                    what compare shows); repeatable
  --conformance     compare the conformance set: every shipped notebook with a linux-profile
                    host that the kernel can run, and lost-final-ack (docs/kernel.md)
  --table FILE      also write the summary table (Markdown) to FILE

flags of run:
  --update          rewrite FILE.md's output blocks in place (nothing else changes)
  --json            print one JSON document (docs/json.md) instead of the cells;
                    --json=summary leaves the packets and transitions out
  --pcap FILE       write the packets to FILE (pcap, LINKTYPE_RAW, nanoseconds);
                    a packet that crosses middle hops is in it once per link
  --pcapng FILE     write them to FILE as pcapng, one interface per link (A-B)
                    and a comment per packet with its trace ID and fate
                    (Wireshark: frame.comment contains "dropped" shows the drops)
  --capture AT      when the pcap and pcapng hold each packet: send (default: as
                    it left its sender) or arrival (as it arrived, in arrival order;
                    one that never arrived at its send time, and pcapng says so)
  --svg FILE        draw the whole run's ladder (the columns a plain ladder picks:
                    two hosts that exchanged packets, the hops between them) as SVG
  --svg-dir DIR     write each ladder of the notebook to DIR as NOTEBOOK-N.svg
  --html FILE       write the run as one self-contained HTML page: prose, cells,
                    ladders, expectations, each socket's states, plots per host
  --series FILE     write the samples of the notebook's sample statements as CSV
  --progress        print the run's progress on stderr (the default when stderr is a
                    terminal and the run lasts more than a second)
  --seed N          replace the notebook's seed
  --msl DURATION    MSL of hosts that do not set one (default 30s; TIME-WAIT is 2×MSL)
  --profile H:P     run host H with profile P (gvisor or linux); repeatable
  --sysctl H:K=V    set knob K of host H (e.g. server:tcp_tw_recycle=1); repeatable
  --set NAME=VALUE  give the notebook's parameter NAME (param NAME=DEFAULT) a value;
                    repeatable
  --kernel          run every host on this machine's Linux kernel, each in a network
                    namespace of its own, on real time (needs CAP_NET_ADMIN; docs/kernel.md)
  --max-time D      virtual-time budget (default 24h; wall time with --kernel, default 15m)
  --max-events N    event budget (default 50000000)
  --max-memory SIZE memory budget: the live heap (default half the machine's memory;
                    e.g. 512MiB, 2GiB)
  --max-hosts N     most hosts a notebook may declare (default 20000): each is a whole
                    gVisor stack, about 60 KB, built outside the event budget
`

// maxMaxHosts is the most --max-hosts takes: each host's 127.0.0.1 and
// IPv4 leave a little under 2^24 addresses in 10.0.0.0/8, and a million
// gVisor stacks is some 60 GB.
const maxMaxHosts = 1_000_000

// usageError is bad usage or a malformed notebook (pos): exit status 2.
type usageError struct {
	msg string
	pos bool
}

func (e usageError) Error() string { return e.msg }

var errFailed = errors.New("failed")

// exitInternal is the status of a run that panicked: a bug in tcpsim, not
// in the notebook.
const exitInternal = 3

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "tcpsim: internal error (a bug in tcpsim, not in the notebook; please report it with the notebook): %v\n%s", r, debug.Stack())
			code = exitInternal
		}
	}()
	err := dispatchFn(args, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tcpsim: %s\n", trace.Printable(err.Error()))
		if !ue.pos {
			fmt.Fprintf(stderr, "\n%s", usage)
		}
		return 2
	case errors.Is(err, errFailed):
		return 1
	default:
		fmt.Fprintf(stderr, "tcpsim: %s\n", trace.Printable(err.Error()))
		return 1
	}
}

// dispatchFn is dispatch; a test replaces it to see what a panic does.
var dispatchFn = dispatch

func dispatch(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{msg: "no command: want list, run, check, compare or cat"}
	}
	for _, a := range args[1:] {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
	}
	switch args[0] {
	case "list":
		if len(args) > 1 {
			return usageError{msg: fmt.Sprintf("list takes no arguments, got %q", strings.Join(args[1:], " "))}
		}
		for _, b := range scenarios.List() {
			fmt.Fprintf(stdout, "%-24s %s\n", b.Name, b.Title)
		}
		return nil
	case "run":
		return runNotebook(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "compare":
		return compare(args[1:], stdout, stderr)
	case "sweep":
		return sweepCommand(args[1:], stdout, stderr)
	case "cat":
		if len(args) != 2 {
			return usageError{msg: "cat takes one built-in notebook name"}
		}
		b, err := scenarios.Lookup(args[1])
		if err != nil {
			return usageError{msg: err.Error()}
		}
		fmt.Fprint(stdout, b.Text())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "version":
		fmt.Fprintf(stdout, "tcpsim %s\nnetstack %s\n", version(), sim.StackVersion())
		return nil
	}
	return usageError{msg: fmt.Sprintf("unknown command %q: want list, run, check, compare or cat", args[0])}
}

type runFlags struct {
	target   string
	cfg      scenarios.Config
	pcap     string
	pcapng   string
	svg      string
	svgDir   string
	html     string
	series   string
	point    trace.Capture // --capture
	json     bool
	summary  bool // --json=summary
	update   bool
	progress bool
}

// jsonFlag is --json (everything) or --json=summary (no packets, no
// transitions).
type jsonFlag struct{ on, summary *bool }

func (f jsonFlag) String() string { return "" }

func (f jsonFlag) IsBoolFlag() bool { return true }

func (f jsonFlag) Set(v string) error {
	switch v {
	case "true", "full":
		*f.on = true
	case "summary":
		*f.on, *f.summary = true, true
	case "false":
		*f.on = false
	default:
		return fmt.Errorf("want --json or --json=summary")
	}
	return nil
}

func parseRun(args []string) (runFlags, error) {
	var rf runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	seed := fs.String("seed", "", "")
	msl := fs.String("msl", "", "")
	maxTime := fs.String("max-time", "", "")
	maxEvents := fs.String("max-events", "", "")
	maxMemory := fs.String("max-memory", "", "")
	maxHosts := fs.String("max-hosts", "", "")
	fs.StringVar(&rf.pcap, "pcap", "", "")
	fs.StringVar(&rf.pcapng, "pcapng", "", "")
	fs.StringVar(&rf.svg, "svg", "", "")
	fs.StringVar(&rf.svgDir, "svg-dir", "", "")
	fs.StringVar(&rf.html, "html", "", "")
	fs.StringVar(&rf.series, "series", "", "")
	capture := fs.String("capture", "send", "")
	fs.Var(jsonFlag{&rf.json, &rf.summary}, "json", "")
	fs.BoolVar(&rf.update, "update", false, "")
	fs.BoolVar(&rf.progress, "progress", false, "")
	fs.BoolVar(&rf.cfg.Kernel, "kernel", false, "")
	profileFlag(fs, "profile", "server:linux", &rf.cfg.Profiles)
	sysctlFlag(fs, "sysctl", "server:tcp_tw_recycle=1", &rf.cfg.Sysctls)
	setFlag(fs, &rf.cfg.Set)
	pos, err := parseAnywhere(fs, args)
	if err != nil {
		return rf, usageError{msg: err.Error()}
	}
	if len(pos) != 1 {
		return rf, usageError{msg: fmt.Sprintf("run takes one notebook, got %d: want FILE.md or one of %s", len(pos), strings.Join(scenarios.Names(), ", "))}
	}
	if rf.point, err = trace.ParseCapture(*capture); err != nil {
		return rf, usageError{msg: "--" + err.Error()}
	}
	rf.target = pos[0]
	if !isFile(rf.target) {
		if _, err := scenarios.Lookup(rf.target); err != nil {
			return rf, usageError{msg: err.Error()}
		}
		if rf.update {
			return rf, usageError{msg: fmt.Sprintf("--update rewrites a file; %s is built in (tcpsim cat %s > %s.md, then run that)", rf.target, rf.target, rf.target)}
		}
	}
	if rf.update && rf.cfg.Kernel {
		return rf, usageError{msg: "--update with --kernel: a kernel run is wall time and not deterministic; its outputs do not belong in the notebook (run it without --update)"}
	}
	if *seed != "" {
		n, err := strconv.ParseUint(*seed, 10, 64)
		if err != nil {
			return rf, usageError{msg: fmt.Sprintf("--seed %q: want a whole number from 0 to %d", *seed, uint64(1<<64-1))}
		}
		rf.cfg.Seed = &n
	}
	if *msl != "" {
		if rf.cfg.MSL, err = positiveDuration("--msl", *msl); err != nil {
			return rf, err
		}
	}
	if *maxTime != "" {
		if rf.cfg.MaxTime, err = positiveDuration("--max-time", *maxTime); err != nil {
			return rf, err
		}
	}
	if *maxEvents != "" {
		n, err := strconv.ParseInt(*maxEvents, 10, 64)
		if err != nil || n <= 0 {
			return rf, usageError{msg: fmt.Sprintf("--max-events %q: want a whole number above 0", *maxEvents)}
		}
		rf.cfg.MaxEvents = n
	}
	if *maxHosts != "" {
		n, err := strconv.Atoi(*maxHosts)
		if err != nil || n <= 0 || n > maxMaxHosts {
			return rf, usageError{msg: fmt.Sprintf("--max-hosts %q: want a whole number from 1 to %d", *maxHosts, maxMaxHosts)}
		}
		rf.cfg.MaxHosts = n
	}
	rf.cfg.MaxMemory = defaultMaxMemory()
	if *maxMemory != "" {
		n, ok := parseSize(*maxMemory)
		if !ok || n < 64<<20 {
			return rf, usageError{msg: fmt.Sprintf("--max-memory %q: want a size of at least 64MiB, such as 512MiB, 2GiB or 2G", *maxMemory)}
		}
		rf.cfg.MaxMemory = n
	}
	// The collector works harder as the heap nears the budget, so that
	// garbage never makes the budget stop a run.
	debug.SetMemoryLimit(rf.cfg.MaxMemory)
	return rf, nil
}

// defaultMaxMemory is the memory budget when --max-memory is not given:
// half of the machine's memory (MemTotal in /proc/meminfo), or the
// World's default where that cannot be read.
func defaultMaxMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			f := strings.Fields(l)
			if len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
					return kb << 10 / 2
				}
			}
		}
	}
	return sim.DefaultMaxMemory
}

// parseSize reads a byte count: 1073741824, 512MiB, 2GiB, 2G, 500M, 64KiB.
func parseSize(s string) (int64, bool) {
	units := []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(num, 10, 64)
			if err != nil || n < 0 || n > (1<<62)/u.size {
				return 0, false
			}
			return n * u.size, true
		}
	}
	return 0, false
}

// profileFlag and sysctlFlag add a repeatable HOST:PROFILE or
// HOST:NAME=VALUE flag to fs, appending each value to dst.
func profileFlag(fs *flag.FlagSet, name, example string, dst *[]string) {
	fs.Func(name, "", func(v string) error {
		if _, _, ok := strings.Cut(v, ":"); !ok {
			return fmt.Errorf("want HOST:PROFILE, e.g. %s", example)
		}
		*dst = append(*dst, v)
		return nil
	})
}

func sysctlFlag(fs *flag.FlagSet, name, example string, dst *[]string) {
	fs.Func(name, "", func(v string) error {
		if host, kv, ok := strings.Cut(v, ":"); !ok || host == "" || !strings.Contains(kv, "=") {
			return fmt.Errorf("want HOST:NAME=VALUE, e.g. %s", example)
		}
		*dst = append(*dst, v)
		return nil
	})
}

// setFlag adds the repeatable --set NAME=VALUE (a notebook parameter).
func setFlag(fs *flag.FlagSet, dst *[]string) {
	fs.Func("set", "", func(v string) error {
		if name, _, ok := strings.Cut(v, "="); !ok || name == "" {
			return fmt.Errorf("want NAME=VALUE, e.g. rate=1000/s")
		}
		*dst = append(*dst, v)
		return nil
	})
}

// parseAnywhere parses args with fs, accepting flags before and after the
// positional arguments, which it returns.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func isFile(target string) bool {
	return strings.HasSuffix(target, ".md") || strings.ContainsRune(target, os.PathSeparator)
}

func positiveDuration(flag, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageError{msg: fmt.Sprintf("%s %q: want a positive duration such as 30s, 500ms or 2m", flag, v)}
	}
	return d, nil
}

// load runs a built-in or a file; a malformed notebook is a usage error.
// A run stopped by a budget returns what ran and the budget error.
func load(target string, cfg scenarios.Config) (*scenarios.Result, error) {
	var res *scenarios.Result
	var err error
	if isFile(target) {
		res, err = scenarios.RunFile(target, cfg)
	} else {
		res, err = scenarios.Run(target, cfg)
	}
	var be *sim.BudgetError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &be):
		return res, fmt.Errorf("%v (raise it with --max-time, --max-events or --max-memory)", err)
	case scenarios.IsPosError(err):
		return nil, usageError{msg: err.Error(), pos: true}
	case errors.As(err, new(*scenarios.ConfigError)):
		return nil, usageError{msg: err.Error(), pos: true}
	case errors.As(err, new(*fs.PathError)):
		// A notebook that does not exist, is a directory, or cannot be read.
		return nil, usageError{msg: err.Error() + ": want a notebook file (FILE.md) or a built-in name", pos: true}
	}
	return nil, err
}

func runNotebook(args []string, stdout, stderr io.Writer) error {
	rf, err := parseRun(args)
	if err != nil {
		return err
	}
	defer oneCore(rf.cfg.Kernel)()
	rf.cfg.Lanes = moreCores
	if rf.progress || isTerminal(os.Stderr) {
		p := newProgress(stderr, time.Now)
		if rf.progress {
			p.after = 0
		}
		rf.cfg.Progress = p.update
		defer p.done()
	}
	res, err := load(rf.target, rf.cfg)
	if res != nil && err != nil {
		// Stopped by a budget: print what ran, then the error.
		defer res.Close()
		if rf.json {
			_ = trace.WriteJSON(stdout, res.Report)
		} else {
			_ = res.WriteCells(stdout)
		}
		return err
	}
	if err != nil {
		return err
	}
	defer res.Close()
	if !res.World.Records() {
		for _, f := range []struct{ flag, file string }{{"--pcap", rf.pcap}, {"--pcapng", rf.pcapng}, {"--svg", rf.svg}} {
			if f.file != "" {
				return usageError{msg: fmt.Sprintf("%s %s: the notebook says records none, so the run kept no packets to write (remove records none to keep them)", f.flag, f.file)}
			}
		}
	}
	if rf.pcap != "" {
		if err := writeFile(rf.pcap, func(w io.Writer) error { return trace.WritePcapAt(w, res.World.Packets(), rf.point) }); err != nil {
			return err
		}
	}
	if rf.pcapng != "" {
		if err := writeFile(rf.pcapng, func(w io.Writer) error { return trace.WritePcapNGAt(w, res.World, rf.point) }); err != nil {
			return err
		}
	}
	if err := writePictures(rf, res); err != nil {
		return err
	}
	if rf.update && res.Changed() {
		if err := writeAtomic(rf.target, func(w io.Writer) error {
			_, err := io.WriteString(w, res.Rendered())
			return err
		}); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "tcpsim: updated %s\n", rf.target)
	}
	if rf.json {
		rep := res.Report
		rep.Summary = rf.summary
		err = trace.WriteJSON(stdout, rep)
	} else {
		err = res.WriteCells(stdout)
	}
	if err != nil {
		return err
	}
	if !res.Passed() {
		return errFailed
	}
	return nil
}

// check reruns notebooks: files, every .md under a directory, or by
// default the built-ins.
func check(args []string, stdout, stderr io.Writer) error {
	var targets []string
	var reports *checkReports
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--html" || a == "-html":
			if i+1 == len(args) {
				return usageError{msg: "--html needs a directory: tcpsim check [FILE.md|DIR ...] --html DIR"}
			}
			reports = &checkReports{dir: args[i+1]}
			i++
		case strings.HasPrefix(a, "--html="):
			reports = &checkReports{dir: strings.TrimPrefix(a, "--html=")}
		default:
			rest = append(rest, a)
		}
	}
	if reports != nil {
		if err := os.MkdirAll(reports.dir, 0o755); err != nil {
			return usageError{msg: err.Error() + ": want a directory that can be created", pos: true}
		}
	}
	args = rest
	defer oneCore(false)()
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return usageError{msg: fmt.Sprintf("check takes files and directories, and --html DIR, not %q", a)}
		}
		fi, err := os.Stat(a)
		if err != nil {
			if _, lerr := scenarios.Lookup(a); lerr == nil {
				targets = append(targets, a)
				continue
			}
			return usageError{msg: err.Error()}
		}
		if !fi.IsDir() {
			targets = append(targets, a)
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") && isNotebook(p) {
				targets = append(targets, p)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	if len(args) == 0 {
		targets = scenarios.Names()
	}
	slices.Sort(targets)
	failed := 0
	for _, t := range targets {
		res, err := load(t, scenarios.Config{MaxMemory: defaultMaxMemory(), Lanes: moreCores})
		fewerCores() // the next notebook may be of one lane
		if res != nil && err != nil {
			if rerr := reports.add(t, res, ""); rerr != nil {
				return rerr
			}
			res.Close()
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n  %s\n", trace.Printable(t), trace.Printable(err.Error()))
			continue
		}
		if err != nil {
			return err
		}
		if rerr := reports.add(t, res, ""); rerr != nil {
			return rerr
		}
		problems := res.Failures()
		diff := res.Diff()
		res.Close()
		if len(problems) == 0 && diff == "" {
			fmt.Fprintf(stdout, "ok   %s (%d expectations)\n", t, len(res.Checks))
			continue
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s\n", t)
		for _, p := range problems {
			fmt.Fprintf(stdout, "  %s\n", p)
		}
		if diff != "" {
			fmt.Fprintf(stdout, "  output differs (rerun with: tcpsim run %s --update):\n%s", t, diff)
		}
	}
	if err := reports.finish(); err != nil {
		return err
	}
	if failed > 0 {
		fmt.Fprintf(stderr, "tcpsim: %d of %d notebooks failed\n", failed, len(targets))
		return errFailed
	}
	return nil
}

// isNotebook reports whether a Markdown file has tcpsim cells.
func isNotebook(p string) bool {
	b, err := os.ReadFile(p)
	return err == nil && strings.Contains(string(b), "```tcpsim")
}

// version is tcpsim's module version as the build recorded it ("(devel)"
// for a build from a checkout), with the VCS revision when there is one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// writeAtomic replaces path with what write writes, through a temporary
// file in the same directory renamed over it: a failed write leaves path
// as it was, never truncated. The file keeps path's permissions.
func writeAtomic(path string, write func(io.Writer) error) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeFile creates path and fills it with write. A path that cannot be
// created is bad usage.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return usageError{msg: err.Error() + ": want a file that can be created", pos: true}
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
