package scenarios

import (
	"strings"

	"github.com/tcpsim/tcpsim/sim"
)

// A run at a production's size sends millions of packets; keeping each
// (and each state transition) costs memory that grows with the run and
// time to append it. `records none`, before the first host, keeps none:
// the World counts (packets, nstat counters, states entered, endpoints by
// state) and the views that read the live state (ss, netstat, nstat,
// sample, conntrack) and the counting expectations work as before, while
// every statement that would read the trace (trace, ladder, states,
// packet, #N, expectations about packets or a subject's states over
// time) is an error naming the records statement: an expectation judged
// on records that were never kept would be a wrong answer, not a
// smaller one.

// cmdRecords: records all|none.
func (in *interp) cmdRecords(st stmt, args []token) error {
	if len(args) != 1 || (args[0].text != "all" && args[0].text != "none") {
		return in.errEnd(st, "records takes all (the default: every packet and transition) or none (counts only)")
	}
	if len(in.w.Hosts()) > 0 {
		return in.errAt(st, args[0], "records must come before the first host")
	}
	if in.cfg.Kernel && args[0].text == "none" {
		return in.errAt(st, args[0], "records none: a kernel-mode run keeps its records (its runs are real time, not large)")
	}
	in.noRecords = args[0].text == "none"
	if in.noRecords {
		in.recordsAt = st.line
	}
	in.w = newWorld(in.cfg, in.seed, in.noRecords)
	return nil
}

// needsRecords reports whether a statement reads the packets or the
// transitions the World recorded, and which of its tokens does.
func needsRecords(verb string, args []token) (token, bool) {
	switch verb {
	case "trace", "ladder", "states", "packet":
		return token{}, true
	}
	for _, a := range args {
		if strings.HasPrefix(a.text, "#") && !a.quoted { // quoted: text, not a packet
			return a, true
		}
	}
	if verb != "expect" || len(args) == 0 {
		return token{}, false
	}
	switch a := args[0].text; {
	case isNumber(a):
		return args[0], true
	case a == "connect" || a == "listen" || a == "bytes" || a == "workload":
		return token{}, false
	}
	for i, a := range args {
		if strings.HasPrefix(a.text, "Tcp") || a.text == "log" || a.text == "error" || a.text == "received" {
			return token{}, false
		}
		if _, err := sim.ParseState(a.text); err == nil && i > 0 {
			// A host's count of endpoints in a state now is read live.
			if len(args) == i+3 && args[i+1].text == "count" {
				return token{}, false
			}
			return a, true
		}
	}
	return token{}, false
}

// checkRecords refuses a statement that needs records under records none.
func (in *interp) checkRecords(st stmt, verb token, args []token) error {
	if !in.noRecords {
		return nil
	}
	t, ok := needsRecords(verb.text, args)
	if !ok {
		return nil
	}
	if t.text == "" {
		t = verb
	}
	return in.errAt(st, t, "%s needs the packets and transitions the run records, and `records none` (line %d) keeps none: remove it, or use what counts (nstat, ss, sample, expect HOST COUNTER, expect HOST STATE count N)", verb.text, in.recordsAt)
}
