package scenarios

import (
	"fmt"
	"strings"
)

// cmdParallel: parallel NAMES [| NAMES]... runs each group of hosts (and
// hops) in a lane of its own, on a core of its own when the machine has
// one, and every other node in lane 0 (sim.World.Parallel). It must come
// after records none and before the first host.
func (in *interp) cmdParallel(st stmt, args []token) error {
	usage := "parallel NAME... [| NAME...]..., e.g. parallel web | c[1-100]"
	switch {
	case len(args) == 0:
		return in.errEnd(st, "parallel takes groups of hosts separated by |: %s", usage)
	case in.cfg.Kernel:
		return in.errAt(st, st.toks[0], "parallel: a kernel-mode run is one lane (its hosts are kernels on a real clock)")
	case !in.noRecords:
		return in.errAt(st, st.toks[0], "parallel needs records none before it: the order of two lanes' packets at one instant would depend on the machine, so a parallel run keeps counts only")
	case len(in.w.Hosts())+len(in.w.Hops()) > 0:
		return in.errAt(st, st.toks[0], "parallel must come before the first host")
	case in.laneGroups != nil:
		return in.errAt(st, st.toks[0], "parallel was already given (line %d)", in.parallelAt)
	}
	groups := [][]string{nil}
	for _, t := range args {
		if t.text == "|" {
			if len(groups[len(groups)-1]) == 0 {
				return in.errAt(st, t, "parallel: an empty group before |: %s", usage)
			}
			groups = append(groups, nil)
			continue
		}
		names, isRange, err := in.nameRange(st, t)
		if err != nil {
			return err
		}
		if !isRange {
			if err := in.nodeName(st, t, "parallel"); err != nil {
				return err
			}
			names = []string{t.text}
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], names...)
	}
	if len(groups[len(groups)-1]) == 0 {
		return in.errEnd(st, "parallel: an empty group after |: %s", usage)
	}
	if err := in.w.Parallel(groups); err != nil {
		return in.errAt(st, st.toks[0], "%v", strings.TrimPrefix(err.Error(), "sim: "))
	}
	in.laneGroups, in.parallelAt = groups, st.line
	in.laneSocks = make([][]*sock, in.w.Lanes())
	in.w.OnWindow(in.gather)
	if in.cfg.Lanes != nil {
		in.cfg.Lanes(in.w.Lanes())
	}
	in.printf("parallel: %d lanes: ", len(groups)+1)
	for i, g := range groups {
		in.printf("lane %d %s; ", i+1, laneNames(g))
	}
	in.printf("lane 0 every other node. Lanes run at once, apart by less than the shortest delay of a link between two lanes; events of one instant on two lanes run in a fixed order, which may differ from one lane's.\n")
	return nil
}

// laneNames shows a lane's names, a long list by its ends.
func laneNames(g []string) string {
	if len(g) <= 4 {
		return strings.Join(g, " ")
	}
	return fmt.Sprintf("%s %s ... %s (%d nodes)", g[0], g[1], g[len(g)-1], len(g))
}
