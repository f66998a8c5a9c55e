package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

//go:embed notebooks/*.md
var builtinFS embed.FS

// Config is what a user may change about a notebook run. The zero value
// runs it as written.
type Config struct {
	// Seed, when set, replaces the notebook's seed statement (default 0).
	Seed *uint64
	// MSL is the MSL of hosts whose host statement gives none; zero means
	// sim.DefaultMSL (30 s, Linux's 60 s TIME-WAIT).
	MSL time.Duration
	// MaxTime, MaxEvents and MaxMemory (the process's live heap, in
	// bytes) bound the run; zero means the World's defaults.
	MaxTime   time.Duration
	MaxEvents int64
	MaxMemory int64
	// MaxHosts bounds the notebook's hosts (sim.Options.MaxHosts): each is
	// a whole gVisor stack, built outside any event.
	MaxHosts int
	// Profiles ("HOST:linux", or "*:linux" for every host) and Sysctls
	// ("HOST:tcp_tw_reuse=1") apply to the named host when the notebook
	// declares it, after its own options.
	Profiles []string
	Sysctls  []string
	// Set gives parameters values ("rate=1000/s"), in place of the
	// defaults of the notebook's param statements.
	Set []string
	// Kernel runs every host on the running Linux kernel, each in a
	// network namespace of its own, on real time (package kernel). It
	// needs CAP_NET_ADMIN. MaxTime is then wall time, DefaultKernelMaxTime
	// when zero.
	Kernel bool
	// Progress, when set, is told the run's progress (sim.Options.Progress).
	Progress func(now, until time.Duration, events int64)
	// Lanes, when set, is told how many lanes a parallel statement made,
	// before any of them runs: a command that keeps the process on one
	// core for a World of one lane may give it more (each lane runs on
	// one core at a time; sim.World.Parallel).
	Lanes func(n int)
	// Clock, in kernel mode, is the run's clock (kernel.NewClocks starts
	// runs together); nil makes one.
	Clock *kernel.Clock
}

// DefaultKernelMaxTime bounds a kernel-mode run in wall time.
const DefaultKernelMaxTime = 15 * time.Minute

// Seed returns a pointer to n, for Config.Seed.
func Seed(n uint64) *uint64 { return &n }

func newWorld(cfg Config, seed uint64, noRecords bool) *sim.World {
	o := sim.Options{Seed: seed, DiscardTrace: noRecords, MaxTime: cfg.MaxTime, MaxEvents: cfg.MaxEvents, MaxMemory: cfg.MaxMemory, MaxHosts: cfg.MaxHosts, Progress: cfg.Progress}
	if cfg.Kernel {
		if o.MaxTime == 0 {
			o.MaxTime = DefaultKernelMaxTime
		}
		if cfg.Clock != nil {
			o.Clock = cfg.Clock
		}
		return kernel.NewWorld(o)
	}
	return sim.New(o)
}

// Builtin is a notebook shipped in the binary.
type Builtin struct {
	Name, Title, Summary string
	text                 string
}

// List returns the built-in notebooks, by name.
func List() []Builtin {
	entries, _ := fs.ReadDir(builtinFS, "notebooks")
	var out []Builtin
	for _, e := range entries {
		b, err := fs.ReadFile(builtinFS, "notebooks/"+e.Name())
		if err != nil {
			continue
		}
		out = append(out, builtin(strings.TrimSuffix(e.Name(), ".md"), string(b)))
	}
	return out
}

// Names returns the built-in notebooks' names.
func Names() []string {
	var n []string
	for _, b := range List() {
		n = append(n, b.Name)
	}
	return n
}

// Lookup finds a built-in notebook by name.
func Lookup(name string) (Builtin, error) {
	if !strings.ContainsAny(name, "/\\") {
		if b, err := fs.ReadFile(builtinFS, "notebooks/"+name+".md"); err == nil {
			return builtin(name, string(b)), nil
		}
	}
	return Builtin{}, fmt.Errorf("unknown scenario %q: want one of %s, or a notebook file (FILE.md)", name, strings.Join(Names(), ", "))
}

// builtin describes a shipped notebook. One that does not parse is still
// listed (its title says so), so that running or checking it reports the
// error instead of the notebook silently disappearing.
func builtin(name, text string) Builtin {
	nb, err := ParseNotebook(name+".md", text)
	if err != nil {
		return Builtin{Name: name, Title: "does not parse: " + err.Error(), text: text}
	}
	return Builtin{Name: name, Title: nb.Title, Summary: nb.Summary, text: text}
}

// Text returns the built-in notebook's Markdown.
func (b Builtin) Text() string { return b.text }

// Result is a finished notebook run. Close releases its World.
type Result struct {
	trace.Report
	Notebook *Notebook
	// Outputs holds each cell's output, as written into the notebook.
	Outputs []string
	// Original is the notebook's text as read.
	Original string
	// name gives the notebook's names of sockets, by host and endpoint.
	name func(host string, endpoint int) string
	// Mermaid holds each cell's Mermaid diagrams (ladder ... mermaid),
	// written after its output block as blocks of their own.
	Mermaid [][]string
	// Figures are the notebook's ladders as pictures, in order.
	Figures []Figure
	// letGo is how many accepted connections records none let go of.
	letGo int
	// ran is how many cells ran (all of them unless a budget stopped the
	// run: see Stopped).
	ran int
}

// Figure is a picture of a ladder statement: every ladder of a notebook is
// one, whatever form the notebook printed it in.
type Figure struct {
	// Name is NOTEBOOK-N, N counting the notebook's ladders from 1: the
	// file name (with .svg) that --svg-dir writes.
	Name string
	// Cell is the index of the cell that drew it.
	Cell int
	// Caption says what it shows ("ladder client server").
	Caption string
	// Form is how the notebook printed it: text, svg or mermaid.
	Form string
	// Ladder is what it shows.
	Ladder diagram.Ladder
}

// SVG draws the figure.
func (f Figure) SVG() (string, error) {
	var b strings.Builder
	err := diagram.WriteLadderSVG(&b, f.Ladder)
	return b.String(), err
}

// SocketName is the notebook's name of the socket whose endpoint is
// (host, endpoint), as Transition.Endpoint numbers them ("c",
// "server:80/1"), or "" for an endpoint the notebook never named.
func (r *Result) SocketName(host string, endpoint int) string {
	return r.name(host, endpoint)
}

// Close releases the World's stacks.
func (r *Result) Close() { r.World.Close() }

// Rendered returns the notebook with every output block rewritten.
func (r *Result) Rendered() string { return r.Notebook.Render(r.Outputs, r.Mermaid) }

// Changed reports whether the outputs differ from those in the file.
func (r *Result) Changed() bool { return r.Rendered() != r.Original }

// Diff is a unified diff from the file to the rendered notebook, or "".
func (r *Result) Diff() string {
	return trace.Printable(unifiedDiff(r.Notebook.Path, r.Notebook.Path+" (rerun)", r.Original, r.Rendered()))
}

// Failures lists each failed expectation as FILE:LINE:COL: message.
func (r *Result) Failures() []string {
	var out []string
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, trace.Printable(fmt.Sprintf("%s: %s: got %s", c.Pos, c.Text, c.Detail)))
		}
	}
	return out
}

// KernelNote says what a kernel-mode run is and how its times are judged.
func KernelNote() string {
	hz, known := kernel.HZ()
	hzText := fmt.Sprintf("HZ=%d", hz)
	if !known {
		hzText = "HZ unknown, taken as 1000"
	}
	return fmt.Sprintf("kernel mode: every host is a network namespace of this machine's Linux %s; times are wall time since the start; "+
		"times in expectations are judged within %v plus the timer-wheel slack of the timer they name (%s: up to %v for a 60 s timer; a bare time counts as at most 60 s)",
		kernel.Release(), kernel.Latency, hzText, kernel.TimerSlack(60*time.Second, hz))
}

// WriteCells prints the run cell by cell: each cell's code, then its output.
func (r *Result) WriteCells(w io.Writer) error {
	if r.Release != "" {
		fmt.Fprintf(w, "# %s\n\n", KernelNote())
	}
	for i, c := range r.Notebook.cells[:r.ran] {
		fmt.Fprintf(w, "-- %s:%d --\n", r.Notebook.Path, c.first)
		for _, l := range c.code {
			fmt.Fprintf(w, "  %s\n", trace.Printable(l))
		}
		if out := strings.TrimRight(r.Outputs[i], "\n"); out != "" {
			fmt.Fprintf(w, "%s\n", out)
		}
		fmt.Fprintln(w)
	}
	failed := len(r.Failures())
	if !r.World.Records() {
		fmt.Fprintf(w, "records none: kept none of the run's %d packets and %d state transitions (counts only)", r.World.PacketCount(), r.World.TransitionsSeen())
		if r.letGo > 0 {
			fmt.Fprintf(w, "; let go of %d accepted connections once their sockets were gone", r.letGo)
		}
		fmt.Fprintln(w)
	}
	if r.Stopped != "" {
		fmt.Fprintf(w, "stopped: %s\n", r.Stopped)
	}
	fmt.Fprintf(w, "%d expectations, %d failed\n", len(r.Checks), failed)
	for _, f := range r.Failures() {
		fmt.Fprintln(w, f)
	}
	return nil
}

// Run runs a built-in notebook by name.
func Run(name string, cfg Config) (*Result, error) {
	b, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return RunText(name+".md", b.text, cfg)
}

// RunFile runs the notebook at path.
func RunFile(p string, cfg Config) (*Result, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return RunText(p, string(b), cfg)
}

// RunText runs a notebook given as text; path names it in messages. A
// malformed statement is an error (*PosError: FILE:LINE:COL: message) and
// no result. A run that exceeds its budget returns the result of what ran
// (every cell up to the statement that stopped it, with the expectations
// made so far judged) and the budget error (*sim.BudgetError, positioned).
// Failed expectations are not errors: they are in the result.
func RunText(p, text string, cfg Config) (*Result, error) {
	nb, err := ParseNotebook(p, text)
	if err != nil {
		return nil, err
	}
	if cfg.MSL < 0 {
		return nil, fmt.Errorf("MSL %v: want a positive duration", cfg.MSL)
	}
	if cfg.MSL == 0 {
		cfg.MSL = sim.DefaultMSL
	}
	seed := uint64(0)
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	in := &interp{
		file: p, cfg: cfg, seed: seed, w: newWorld(cfg, seed, false),
		hosts: map[string]*sim.Host{}, socks: map[string]*sock{}, marks: map[string]int{},
	}
	parts := make([][]part, len(nb.cells))
	for i, c := range nb.cells {
		in.parts, in.cell = nil, i
		for j, l := range c.code {
			st, err := lexLine(p, c.first+j, l)
			if err == nil {
				st, err = in.substitute(st)
			}
			if err == nil {
				err = in.exec(st)
			}
			if err != nil {
				if !errors.As(err, new(*sim.BudgetError)) {
					in.w.Close()
					return nil, err
				}
				parts[i] = in.parts
				res, ferr := in.finish(nb, text, parts[:i+1])
				if ferr != nil {
					return nil, ferr
				}
				res.Stopped = err.Error()
				return res, err
			}
		}
		if err := in.checkNATs(); err != nil {
			in.w.Close()
			return nil, err
		}
		parts[i] = in.parts
	}
	if err := in.checkSets(); err != nil {
		in.w.Close()
		return nil, err
	}
	if err := in.checkConfigHosts(); err != nil {
		in.w.Close()
		return nil, err
	}
	if inspect != nil {
		inspect(in)
	}
	return in.finish(nb, text, parts)
}

// inspect, set by tests, sees the interpreter once every cell has run.
var inspect func(*interp)

// finish judges the expectations and writes each cell's output.
func (in *interp) finish(nb *Notebook, text string, parts [][]part) (*Result, error) {
	in.judging = true
	p := in.file
	res := &Result{Notebook: nb, Original: text, Outputs: make([]string, len(nb.cells)), Mermaid: make([][]string, len(nb.cells)),
		Figures: in.figures, ran: len(parts), name: in.endpointNames()}
	res.Scenario = strings.TrimSuffix(path.Base(p), ".md")
	res.Title, res.World = nb.Title, in.w
	if in.cfg.Kernel {
		res.Release = kernel.Release()
		res.Notes = append(res.Notes, KernelNote())
	}
	if in.noRecords {
		note := fmt.Sprintf("records none (line %d): the run kept none of its %d packets and %d state transitions, only counts", in.recordsAt, in.w.PacketCount(), in.w.TransitionsSeen())
		if res.letGo = in.nforgotten(); res.letGo > 0 {
			note += fmt.Sprintf(", and let go of %d accepted connections once their sockets were gone", res.letGo)
		}
		res.Notes = append(res.Notes, note)
	}
	for _, se := range in.series {
		res.Series = append(res.Series, se.samples...)
	}
	for _, e := range in.expects {
		if e.missing != nil {
			if msg := e.missing(); msg != "" {
				in.w.Close()
				return nil, &posError{file: e.file, line: e.line, col: e.col, msg: e.src + ": " + msg}
			}
		}
		e.ok, e.detail = e.eval()
		res.Checks = append(res.Checks, trace.Check{Text: e.src, OK: e.ok, Detail: e.detail, Pos: e.Pos()})
	}
	for i, ps := range parts {
		var b strings.Builder
		for _, pt := range ps {
			if pt.mermaid != "" {
				res.Mermaid[i] = append(res.Mermaid[i], pt.mermaid)
				continue
			}
			if pt.series != nil {
				b.WriteString(pt.series.table())
				continue
			}
			if pt.exp == nil {
				b.WriteString(trace.Printable(pt.text))
				if pt.note {
					res.Notes = append(res.Notes, strings.TrimSpace(pt.text))
				}
				continue
			}
			verdict := "ok  "
			if !pt.exp.ok {
				verdict = "FAIL"
			}
			fmt.Fprintf(&b, "%s %s\n     %s\n", verdict, trace.Printable(pt.exp.src), trace.Printable(pt.exp.detail))
		}
		res.Outputs[i] = b.String()
	}
	return res, nil
}

// ConfigError is a Config that does not fit the notebook: a --profile or
// --sysctl for a host it does not have. It is bad usage, as a malformed
// notebook is.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// checkConfigHosts refuses a Profiles or Sysctls entry naming a host the
// notebook never declared.
func (in *interp) checkConfigHosts() error {
	var hosts []string
	for _, h := range in.w.Hosts() {
		hosts = append(hosts, h.Name())
	}
	check := func(flag, v string) error {
		host, _, _ := strings.Cut(v, ":")
		if host == "*" || in.hosts[host] != nil {
			return nil
		}
		return &ConfigError{Msg: fmt.Sprintf("%s %s: %s has no host %q: want one of %s", flag, v, in.file, host, strings.Join(hosts, ", "))}
	}
	for _, p := range in.cfg.Profiles {
		if err := check("--profile", p); err != nil {
			return err
		}
	}
	for _, s := range in.cfg.Sysctls {
		if err := check("--sysctl", s); err != nil {
			return err
		}
	}
	return nil
}

// PosError is the error of a malformed notebook: FILE:LINE:COL: message.
type PosError = posError

// IsPosError reports whether err is a malformed-notebook error.
func IsPosError(err error) bool {
	var pe *posError
	return errors.As(err, &pe)
}

func sortedKeys(m map[string]int) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}
