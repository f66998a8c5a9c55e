package scenarios

import (
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// viewAll reads the optional "all" of trace, ladder and states.
func (in *interp) viewAll(st stmt, args []token) (bool, error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && args[0].text == "all":
		return true, nil
	}
	return false, in.errAt(st, args[0], "want nothing (what is new since the last view) or all")
}

// newRows returns the packets not yet shown by the view key (all with all).
func (in *interp) newRows(key string, all bool) []trace.Row {
	rows := trace.Rows(in.w.Packets())
	first := in.marks[key]
	in.marks[key] = len(rows)
	if all {
		return rows
	}
	return rows[first:]
}

func (in *interp) newTransitions(key string, all bool) []sim.Transition {
	ts := in.w.Transitions()
	first := in.marks[key]
	in.marks[key] = len(ts)
	if all {
		return ts
	}
	return ts[first:]
}

func (in *interp) cmdTrace(st stmt, args []token) error {
	if err := in.needRecords(st, st.verb(), "trace"); err != nil {
		return err
	}
	all, err := in.viewAll(st, args)
	if err != nil {
		return err
	}
	var b strings.Builder
	_ = trace.WriteRows(&b, in.newRows("trace", all))
	if b.Len() == 0 {
		b.WriteString("(no packets)\n")
	}
	in.printf("%s", b.String())
	return nil
}

// cmdLadder: ladder [NODE...] [all] draws a ladder with a column per node
// (two hosts that exchanged packets when none is named: ladderHosts).
// Between two named nodes that are not linked, the hops a packet crosses
// get columns of their own.
func (in *interp) cmdLadder(st stmt, args []token) error {
	if err := in.needRecords(st, st.verb(), "ladder"); err != nil {
		return err
	}
	// Trailing words: all, and the form (text by default).
	all, format := false, "text"
words:
	for len(args) > 0 {
		t := args[len(args)-1]
		switch t.text {
		case "all":
			all = true
		case "svg", "mermaid":
			if format != "text" {
				return in.errAt(st, t, "ladder takes one of svg or mermaid")
			}
			format = t.text
		default:
			break words
		}
		args = args[:len(args)-1]
	}
	var named []sim.Node
	for _, a := range args {
		n, err := in.node(st, a)
		if err != nil {
			return err
		}
		named = append(named, n)
	}
	rows := in.newRows("ladder-packets", all)
	if len(named) == 0 {
		if len(in.w.Hosts()) < 2 {
			return in.errAt(st, st.toks[0], "ladder needs two hosts")
		}
		named = ladderHosts(in.w, rows)
	}
	if len(named) == 1 {
		return in.errAt(st, args[0], "ladder needs two columns: ladder A B [C...] [all]")
	}
	cols := ladderColumns(in.w, named)
	seen := map[string]bool{} // lookups only
	for _, c := range cols {
		if seen[c] {
			return in.errAt(st, st.toks[0], "ladder %s: %s would get two columns", strings.Join(cols, " "), c)
		}
		seen[c] = true
	}
	ts, opts := in.newTransitions("ladder-states", all), in.ladderOptions(all)
	// Every ladder is a figure (for --svg-dir and the HTML report); the
	// form says what the cell's output shows.
	n := len(in.figures) + 1
	name := fmt.Sprintf("%s-%d", strings.TrimSuffix(path.Base(in.file), ".md"), n)
	caption := "ladder " + strings.Join(cols, " ")
	l := diagram.Ladder{ID: name, Title: caption, Columns: cols, Rows: rows, Transitions: ts, Restarts: opts.Restarts, Name: opts.Name}
	in.figures = append(in.figures, Figure{Name: name, Cell: in.cell, Caption: caption, Form: format, Ladder: l})
	var b strings.Builder
	switch format {
	case "svg":
		in.printf("figure %d: %s, %d packets (SVG %s.svg: tcpsim run --svg-dir DIR, or --html FILE)\n", n, caption, len(rows), name)
	case "mermaid":
		if err := diagram.WriteLadderMermaid(&b, l); err != nil {
			return in.errAt(st, st.toks[0], "%v", err)
		}
		in.parts = append(in.parts, part{mermaid: b.String()})
	default:
		_ = trace.WriteLadderOptions(&b, cols, rows, ts, opts)
		in.printf("%s", b.String())
	}
	return nil
}

// endpointNames returns the notebook's names of the sockets opened so
// far, by host and endpoint.
func (in *interp) endpointNames() func(host string, endpoint int) string {
	names := map[sim.EndpointKey]string{} // lookups only
	for name, sk := range in.socks {
		if ep := sk.s.Endpoint(); ep != 0 {
			names[sim.EndpointKey{Host: sk.host.Name(), Endpoint: ep}] = name
		}
	}
	return func(host string, endpoint int) string { return names[sim.EndpointKey{Host: host, Endpoint: endpoint}] }
}

func (in *interp) cmdStates(st stmt, args []token) error {
	if err := in.needRecords(st, st.verb(), "states"); err != nil {
		return err
	}
	all, err := in.viewAll(st, args)
	if err != nil {
		return err
	}
	var b strings.Builder
	_ = trace.WriteTransitions(&b, in.newTransitions("states", all))
	if b.Len() == 0 {
		b.WriteString("(no transitions)\n")
	}
	in.printf("%s", b.String())
	return nil
}

// hostsArg reads an optional list of hosts (all of them when empty).
func (in *interp) hostsArg(st stmt, args []token) ([]*sim.Host, error) {
	if len(args) == 0 {
		return in.w.Hosts(), nil
	}
	var hs []*sim.Host
	for _, a := range args {
		more, err := in.hostList(st, a)
		if err != nil {
			return nil, err
		}
		hs = append(hs, more...)
	}
	return hs, nil
}

// tool prints a view of each host as if typed at its prompt.
func (in *interp) tool(st stmt, args []token, cmd string, write func(io.Writer, *sim.Host) error) error {
	hs, err := in.hostsArg(st, args)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s$ %s   # at %s s\n", h.Name(), cmd, trace.Seconds(in.w.Now()))
		if err := write(&b, h); err != nil {
			return err
		}
	}
	in.printf("%s", b.String())
	return nil
}

// cmdSS: ss [-s|-o] [HOST...] prints ss -tan (ss -s, or ss -tano with
// the timers of timewait sockets).
func (in *interp) cmdSS(st stmt, args []token) error {
	if len(args) > 0 {
		switch args[0].text {
		case "-s":
			return in.tool(st, args[1:], "ss -s", trace.WriteSSSummary)
		case "-o":
			return in.tool(st, args[1:], "ss -tano", trace.WriteSSTimers)
		}
	}
	return in.tool(st, args, "ss -tan", trace.WriteSS)
}

// cmdSlabtop: slabtop [HOST...] prints slabtop's tw_sock_TCP line.
func (in *interp) cmdSlabtop(st stmt, args []token) error {
	return in.tool(st, args, "slabtop -o (tw_sock_TCP)", trace.WriteSlabtop)
}

// cmdNetstat: netstat [HOST...] prints netstat -ant.
func (in *interp) cmdNetstat(st stmt, args []token) error {
	return in.tool(st, args, "netstat -ant", trace.WriteNetstat)
}

// cmdDmesg: dmesg [HOST...] prints the kernel log.
func (in *interp) cmdDmesg(st stmt, args []token) error {
	return in.tool(st, args, "dmesg", trace.WriteDmesg)
}

// cmdCounters: nstat [HOST...] (or counters) prints the counters as
// nstat -az names them, then the workloads' tallies.
func (in *interp) cmdCounters(st stmt, args []token) error {
	if err := in.tool(st, args, "nstat -az", trace.WriteNstat); err != nil {
		return err
	}
	var b strings.Builder
	for i, wl := range in.workloads {
		fmt.Fprintf(&b, "workload %d: %d started, %d answered", i+1, wl.started(), wl.done())
		errs := wl.errs()
		for _, e := range sortedKeys(errs) {
			fmt.Fprintf(&b, ", %d %s", errs[e], e)
		}
		b.WriteString("\n")
	}
	in.printf("%s", b.String())
	return nil
}

// cmdConntrack: conntrack [NAT...] prints each NAT's table (or the named
// ones'), as conntrack -L lists it.
func (in *interp) cmdConntrack(st stmt, args []token) error {
	var nats []*sim.Hop
	for _, a := range args {
		h := in.w.Hop(a.text)
		if h == nil || !h.IsNAT() {
			return in.errAt(st, a, "conntrack %s: want the name of a NAT (%s)", a.text, in.natNames())
		}
		nats = append(nats, h)
	}
	if len(args) == 0 {
		for _, h := range in.w.Hops() {
			if h.IsNAT() {
				nats = append(nats, h)
			}
		}
	}
	if len(nats) == 0 {
		return in.errAt(st, st.toks[0], "conntrack: no NAT in this notebook (add one with nat)")
	}
	var b strings.Builder
	for _, n := range nats {
		fmt.Fprintf(&b, "%s$ conntrack -L   # at %s s\n", n.Name(), trace.Seconds(in.w.Now()))
		for _, e := range n.Table() {
			fmt.Fprintf(&b, "tcp 6 %d %s src=%v dst=%v sport=%d dport=%d src=%v dst=%v sport=%d dport=%d\n",
				max(0, int((e.Expires-in.w.Now())/time.Second)), e.State, e.Inside.Addr(), e.Remote.Addr(), e.Inside.Port(),
				e.Remote.Port(), e.Remote.Addr(), e.Outside.Addr(), e.Remote.Port(), e.Outside.Port())
		}
	}
	in.printf("%s", b.String())
	return nil
}

func (in *interp) natNames() string {
	var n []string
	for _, h := range in.w.Hops() {
		if h.IsNAT() {
			n = append(n, h.Name())
		}
	}
	if len(n) == 0 {
		return "none defined"
	}
	return strings.Join(n, ", ")
}
