package scenarios

// A run at a production's size sends millions of packets; keeping each
// (and each state transition) costs memory that grows with the run and
// time to append it. `records none`, before the first host, keeps none:
// the World counts (packets, nstat counters, states entered, endpoints by
// state) and the views that read the live state (ss, netstat, nstat,
// sample, conntrack) and the counting expectations work as before, while
// every statement that would read the trace (trace, ladder, states,
// packet, #N, inject, expectations about packets or a subject's states
// over time) is an error naming the records statement, said by the code
// that would read them (needRecords): an expectation judged on records
// that were never kept would be a wrong answer, not a smaller one.

// cmdRecords: records all|none.
func (in *interp) cmdRecords(st stmt, args []token) error {
	if len(args) != 1 || (args[0].text != "all" && args[0].text != "none") {
		return in.errEnd(st, "records takes all (the default: every packet and transition) or none (counts only)")
	}
	if len(in.w.Hosts()) > 0 {
		return in.errAt(st, args[0], "records must come before the first host")
	}
	if in.laneGroups != nil {
		return in.errAt(st, args[0], "records must come before parallel (line %d)", in.parallelAt)
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

// needRecords refuses, under records none, what reads the records: the
// statement or expectation whose token t reads the packets or the
// transitions (trace, ladder, states, packet, a packet reference #N,
// expectations about packets or about a subject's states over time) says
// so where it is parsed.
func (in *interp) needRecords(st stmt, t token, what string) error {
	if !in.noRecords {
		return nil
	}
	return in.errAt(st, t, "%s needs the packets and transitions the run records, and `records none` (line %d) keeps none: remove it, or use what counts (nstat, ss, sample, expect HOST COUNTER, expect HOST STATE count N)", what, in.recordsAt)
}
