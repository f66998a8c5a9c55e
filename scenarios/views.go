package scenarios

import (
	"fmt"
	"strings"
	"text/tabwriter"

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

func (in *interp) cmdLadder(st stmt, args []token) error {
	all, err := in.viewAll(st, args)
	if err != nil {
		return err
	}
	hosts := in.w.Hosts()
	if len(hosts) < 2 {
		return in.errAt(st, st.toks[0], "ladder needs two hosts")
	}
	var b strings.Builder
	_ = trace.WriteLadder(&b, hosts[0].Name(), hosts[1].Name(), in.newRows("ladder-packets", all), in.newTransitions("ladder-states", all))
	in.printf("%s", b.String())
	return nil
}

func (in *interp) cmdStates(st stmt, args []token) error {
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
		h, err := in.host(st, a)
		if err != nil {
			return nil, err
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// cmdSS prints each host's sockets and states, as ss -tan lists them.
func (in *interp) cmdSS(st stmt, args []token) error {
	hs, err := in.hostsArg(st, args)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "at %s s\n", trace.Seconds(in.w.Now()))
	for _, h := range hs {
		fmt.Fprintf(&b, "%s:\n", h.Name())
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  State\tLocal Address:Port\tPeer Address:Port")
		for _, e := range h.Endpoints() {
			peer := "*:*"
			if e.Remote.IsValid() {
				peer = e.Remote.String()
			}
			fmt.Fprintf(tw, "  %v\t%v\t%s\n", e.State, e.Local, peer)
		}
		_ = tw.Flush()
	}
	in.printf("%s", b.String())
	return nil
}

// cmdCounters prints each host's TCP counters (gVisor's names) and what the
// observer counted.
func (in *interp) cmdCounters(st stmt, args []token) error {
	hs, err := in.hostsArg(st, args)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, h := range hs {
		tcp := h.Stack().Stats().TCP
		fmt.Fprintf(&b, "%s: ActiveConnectionOpenings %d, PassiveConnectionOpenings %d, EstablishedResets %d, "+
			"ResetsSent %d, ResetsReceived %d, Retransmits %d, SegmentsSent %d, ValidSegmentsReceived %d, "+
			"TIME-WAIT entered %d, in TIME-WAIT now %d\n",
			h.Name(), tcp.ActiveConnectionOpenings.Value(), tcp.PassiveConnectionOpenings.Value(),
			tcp.EstablishedResets.Value(), tcp.ResetsSent.Value(), tcp.ResetsReceived.Value(),
			tcp.Retransmits.Value(), tcp.SegmentsSent.Value(), tcp.ValidSegmentsReceived.Value(),
			h.Entered(sim.TimeWait), h.StateCount(sim.TimeWait))
	}
	for i, wl := range in.workloads {
		fmt.Fprintf(&b, "workload %d: %d started, %d answered", i+1, wl.started, wl.done)
		for _, e := range sortedKeys(wl.errs) {
			fmt.Fprintf(&b, ", %d %s", wl.errs[e], e)
		}
		b.WriteString("\n")
	}
	in.printf("%s", b.String())
	return nil
}
