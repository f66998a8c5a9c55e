package scenarios

import (
	"slices"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// ladderHosts are the columns of a ladder that names none: the first two
// hosts (in the order they were defined) that exchanged a packet among
// rows, else the first two joined by a path, else the first two. It needs
// two hosts.
func ladderHosts(w *sim.World, rows []trace.Row) []sim.Node {
	hosts := w.Hosts()
	index := map[string]int{} // lookups only
	for i, h := range hosts {
		index[h.Name()] = i
	}
	best := [2]int{-1, -1}
	for _, r := range rows {
		a, okA := index[r.Sender]
		b, okB := index[r.To]
		if !okA || !okB || a == b {
			continue
		}
		p := [2]int{min(a, b), max(a, b)}
		if best[0] < 0 || p[0] < best[0] || p[0] == best[0] && p[1] < best[1] {
			best = p
		}
	}
	if best[0] < 0 {
		best = [2]int{0, 1}
	search:
		for i := range hosts {
			for j := i + 1; j < len(hosts); j++ {
				if w.Path(hosts[i], hosts[j]) != nil || w.Path(hosts[j], hosts[i]) != nil {
					best = [2]int{i, j}
					break search
				}
			}
		}
	}
	return []sim.Node{hosts[best[0]], hosts[best[1]]}
}

// ladderColumns are the columns of a ladder between named nodes: each
// node, and between two that are not linked, the hops a packet crosses
// (the way back when there is no route there, as into a NAT).
func ladderColumns(w *sim.World, named []sim.Node) []string {
	cols := []string{named[0].Name()}
	for i := 1; i < len(named); i++ {
		a, b := named[i-1], named[i]
		path := w.Path(a, b)
		if path == nil {
			path = w.Path(b, a)
			slices.Reverse(path)
		}
		if w.Link(a, b) != nil || path == nil {
			path = []sim.Node{a, b}
		}
		for _, n := range path[1:] {
			cols = append(cols, n.Name())
		}
	}
	return cols
}

// ladderOptions names the ladder's sockets as the notebook does and marks
// the TIME-WAIT restarts not yet shown (all of them with all).
func (in *interp) ladderOptions(all bool) trace.LadderOptions {
	rs := in.w.TimeWaitRestarts()
	first := in.marks["ladder-restarts"]
	in.marks["ladder-restarts"] = len(rs)
	if !all {
		rs = rs[first:]
	}
	return trace.LadderOptions{
		Name:     in.endpointNames(),
		Restarts: rs,
	}
}
