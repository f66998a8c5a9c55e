package scenarios

import (
	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// This file builds the pictures of a whole run, for the command line's
// --svg and the HTML report.

// Ladder returns the ladder of the whole run between columns (nodes, left
// to right); with none, between the two hosts of the run's first
// connection, with the hops its packets cross.
func (r *Result) Ladder(columns []string) diagram.Ladder {
	if len(columns) == 0 {
		columns = DefaultColumns(r.World)
	}
	return diagram.Ladder{
		ID: r.Scenario, Title: r.Scenario, Columns: columns,
		Rows: trace.Rows(r.World.Packets()), Transitions: r.World.Transitions(), Restarts: r.World.TimeWaitRestarts(), Name: r.SocketName,
	}
}

// DefaultColumns picks a ladder's columns for a run: the sender of the
// first packet a host sent and the host it was addressed to, with the
// middle hops between them; the first two hosts when no packet says more.
func DefaultColumns(w *sim.World) []string {
	byAddr := map[string]*sim.Host{} // lookups only
	for _, h := range w.Hosts() {
		byAddr[h.Addr().String()] = h
	}
	for _, r := range trace.Rows(w.Packets()) {
		src := w.Host(r.Sender)
		dst := byAddr[r.H.Dst.Addr().String()]
		if !r.TCP || src == nil || dst == nil || src == dst {
			continue
		}
		if p := w.Path(src, dst); len(p) >= 2 {
			return sim.NodeNames(p)
		}
	}
	var cols []string
	for _, h := range w.Hosts() {
		if len(cols) < 2 {
			cols = append(cols, h.Name())
		}
	}
	return cols
}
