package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// interp runs a notebook's statements, top to bottom, on one World.
type interp struct {
	file string
	cfg  Config
	w    *sim.World
	seed uint64
	// noRecords is set by records none (records.go), at line recordsAt.
	noRecords bool
	recordsAt int
	hosts     map[string]*sim.Host // lookups only
	socks     map[string]*sock     // lookups only
	links     []*sim.Link
	nconn     int
	// natStmts are the nat statements, checked for their outside link
	// at the end of each cell.
	natStmts []natStmt

	last      lastCall
	expects   []*expectation
	pending   func() string  // the missing-subject check of the expectation being parsed
	marks     map[string]int // per view: records already shown
	workloads []*workload
	// order holds the sockets in creation order. Under records none a
	// listener's accepted connections leave it (and socks) once their
	// socket is gone (see forgotten); sweepAt is the length at which
	// record looks for them next.
	order   []*sock
	sweepAt int
	// laneGroups are the parallel statement's groups, given at line
	// parallelAt; laneSocks the connections each lane accepted in the
	// running window (accepted); nil with one lane.
	laneGroups [][]string
	parallelAt int
	laneSocks  [][]*sock
	swept      int // sockets sweep let go of
	// pktNames are the named packets (#NAME); lookups only. rowCache is
	// the decoded trace once the run is over (judging).
	pktNames map[string]*pktName
	rowCache []trace.Row
	judging  bool
	// awaited are the stand-ins of connections that expectations named
	// before their listener accepted them; lookups only.
	awaited map[string]*sock

	// parts of the current cell's output: text, or an expectation whose
	// verdict is written once the whole notebook has run.
	parts []part
	// cell is the index of the running cell; figures are the pictures
	// the notebook asked for (ladder ... svg).
	cell    int
	figures []Figure
	// series are the sample statements' samples.
	series []*series
	// params are the notebook's parameters (lookups only), in the order
	// declared.
	params     map[string]string
	paramOrder []string
}

type part struct {
	text string
	note bool
	exp  *expectation
	// mermaid is a Mermaid diagram the cell writes after its output
	// block, as a block of its own that a code host draws.
	mermaid string
	// series is a sample statement's table, written once the notebook
	// has run.
	series *series
}

type natStmt struct {
	st      stmt
	name    string
	outside token
}

// lastCall remembers the last connect or listen and its error.
type lastCall struct {
	op  string
	err error
}

// sock is a named socket of the notebook.
type sock struct {
	name     string
	host     *sim.Host
	s        *sim.Socket
	created  time.Duration
	listener *listenSpec
	naccept  int
	// of is the listener that accepted the connection (nil for a socket
	// the notebook opened).
	of *sock
	// awaited marks a stand-in for a connection a listener has not
	// accepted yet (see awaitedSock); listenerName names that listener.
	awaited      bool
	listenerName string
}

func (in *interp) printf(format string, args ...any) {
	in.parts = append(in.parts, part{text: fmt.Sprintf(format, args...)})
}

func (in *interp) hostNames() string {
	var n []string
	for _, h := range in.w.Hosts() {
		n = append(n, h.Name())
	}
	if len(n) == 0 {
		return "none defined yet"
	}
	return strings.Join(n, ", ")
}

// nodeNames lists the hosts and the middle hops.
func (in *interp) nodeNames() string {
	var n []string
	for _, h := range in.w.Hosts() {
		n = append(n, h.Name())
	}
	for _, h := range in.w.Hops() {
		n = append(n, h.Name())
	}
	if len(n) == 0 {
		return "none defined yet"
	}
	return strings.Join(n, ", ")
}

// commands maps each statement verb to its handler.
var commands map[string]func(*interp, stmt, []token) error

func init() {
	commands = map[string]func(*interp, stmt, []token) error{
		"seed": (*interp).cmdSeed, "host": (*interp).cmdHost, "link": (*interp).cmdLink,
		"drop": (*interp).cmdRule, "delay": (*interp).cmdRule, "duplicate": (*interp).cmdRule, "hold": (*interp).cmdRule,
		"release": (*interp).cmdRelease, "inject": (*interp).cmdInject,
		"listen": (*interp).cmdListen, "connect": (*interp).cmdConnect, "send": (*interp).cmdSend,
		"close": (*interp).cmdClose, "shutdown": (*interp).cmdShutdown, "workload": (*interp).cmdWorkload,
		"run": (*interp).cmdRun, "expect": (*interp).cmdExpect,
		"sysctl": (*interp).cmdSysctl, "nat": (*interp).cmdNAT, "router": (*interp).cmdRouter, "netem": (*interp).cmdNetem, "conntrack": (*interp).cmdConntrack,
		"netstat": (*interp).cmdNetstat, "nstat": (*interp).cmdCounters, "dmesg": (*interp).cmdDmesg, "slabtop": (*interp).cmdSlabtop,
		"ss": (*interp).cmdSS, "trace": (*interp).cmdTrace, "ladder": (*interp).cmdLadder,
		"states": (*interp).cmdStates, "counters": (*interp).cmdCounters, "note": (*interp).cmdNote,
		"packet": (*interp).cmdPacket, "records": (*interp).cmdRecords, "parallel": (*interp).cmdParallel, "sample": (*interp).cmdSample, "param": (*interp).cmdParam,
	}
}

func verbs() string {
	var v []string
	for k := range commands {
		v = append(v, k)
	}
	slices.Sort(v)
	return strings.Join(v, ", ")
}

// exec runs one statement.
func (in *interp) exec(st stmt) error {
	toks := st.toks
	if len(toks) == 0 {
		return nil
	}
	// A time prefix: +D after the current time, @T at an absolute time.
	if p := toks[0].text; strings.HasPrefix(p, "+") || strings.HasPrefix(p, "@") {
		d, ok := parseDuration(p[1:])
		if !ok || d < 0 {
			return in.errAt(st, toks[0], "time prefix %q: want +D (after now) or @T (at T), e.g. +0.1 or @2s", p)
		}
		at := d
		if p[0] == '+' {
			at = in.w.Now() + d
		}
		if at < in.w.Now() {
			return in.errAt(st, toks[0], "time prefix %q: %s s is in the past (now %s s)", p, trace.Seconds(at), trace.Seconds(in.w.Now()))
		}
		if err := in.w.RunFor(at - in.w.Now()); err != nil {
			return in.errAt(st, toks[0], "%v", err)
		}
		toks = toks[1:]
		if len(toks) == 0 {
			return in.errEnd(st, "a time prefix needs a command after it")
		}
	}
	fn, ok := commands[toks[0].text]
	if !ok {
		return in.errAt(st, toks[0], "unknown command %q: want one of %s", toks[0].text, verbs())
	}
	needsHosts := toks[0].text != "seed" && toks[0].text != "host" && toks[0].text != "note" && toks[0].text != "param" && toks[0].text != "records" && toks[0].text != "parallel"
	if needsHosts && len(in.w.Hosts()) == 0 {
		return in.errAt(st, toks[0], "%s before any host: declare hosts first (host NAME IP)", toks[0].text)
	}
	switch toks[0].text {
	case "host":
		if done, err := in.expandHosts(st, toks[1:]); done || err != nil {
			return err
		}
	case "link":
		if done, err := in.expandLinks(st, toks[1:]); done || err != nil {
			return err
		}
	}
	return fn(in, st, toks[1:])
}

// cmdRun advances the clock: run D, run until SUBJECT STATE [within D], or
// run (until no event is left).
func (in *interp) cmdRun(st stmt, args []token) error {
	if len(args) == 0 {
		if err := in.w.Run(); err != nil {
			return in.errAt(st, st.toks[0], "%v", err)
		}
		return nil
	}
	if args[0].text != "until" {
		if len(args) != 1 {
			return in.errEnd(st, "run takes a duration, or until SUBJECT STATE [within D]")
		}
		d, err := in.duration(st, args[0], "run")
		if err != nil {
			return err
		}
		if err := in.w.RunFor(d); err != nil {
			return in.errAt(st, args[0], "%v", err)
		}
		return nil
	}
	o, err := in.options(st, args[1:], "within")
	if err != nil {
		return err
	}
	limit := time.Hour
	if t, ok := o.kv["within"]; ok {
		if limit, err = in.duration(st, t, "within"); err != nil {
			return err
		}
	}
	subj, rest, err := in.subject(st, o.words)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return in.errEnd(st, "run until takes a subject and a state, e.g. run until c1 TIME-WAIT")
	}
	state, err := sim.ParseState(rest[0].text)
	if err != nil {
		return in.errAt(st, rest[0], "%v", err)
	}
	if err := in.runUntil(subj, state, in.w.Now()+limit); err != nil {
		return in.errAt(st, rest[0], "%v", err)
	}
	return nil
}

// runUntil runs events until the subject is in state, and then the rest
// of that instant, so that the next statement never sees half of it. No
// event after deadline runs: reaching the state later is an error.
func (in *interp) runUntil(subj subject, state sim.State, deadline time.Duration) error {
	limit := deadline - in.w.Now()
	for !in.inStateNow(subj, state) {
		at, ok := in.w.NextEventAt()
		if ok && at <= deadline {
			if _, err := in.w.Step(); err != nil {
				return err
			}
			continue
		}
		if !ok && !in.w.RealTime() {
			return fmt.Errorf("%s never reached %v: the run went idle at %s s", subj.desc(), state, trace.Seconds(in.w.Now()))
		}
		// Nothing more is due by the deadline (on a real clock, something
		// may still be posted until then).
		if err := in.w.RunFor(deadline - in.w.Now()); err != nil {
			return err
		}
		if in.inStateNow(subj, state) {
			break
		}
		next := "none"
		if at, ok := in.w.NextEventAt(); ok {
			next = "at " + trace.Seconds(at) + " s"
		}
		return fmt.Errorf("%s did not reach %v within %v (by %s s; the next event is %s)", subj.desc(), state, limit, trace.Seconds(deadline), next)
	}
	return in.w.RunFor(0) // the rest of the instant
}

func (in *interp) cmdNote(st stmt, args []token) error {
	if len(args) != 1 || !args[0].quoted {
		return in.errEnd(st, `note takes one quoted string: note "..."`)
	}
	in.parts = append(in.parts, part{text: args[0].text + "\n", note: true})
	return nil
}
