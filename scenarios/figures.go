package scenarios

import (
	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// This file builds the pictures of a whole run, for the command line's
// --svg and the HTML report.

// Ladder returns the ladder of the whole run between columns (nodes, left
// to right); with none, DefaultColumns.
func (r *Result) Ladder(columns []string) diagram.Ladder {
	if len(columns) == 0 {
		columns = DefaultColumns(r.World)
	}
	return diagram.Ladder{
		ID: r.Scenario, Title: r.Scenario, Columns: columns,
		Rows: trace.Rows(r.World.Packets()), Transitions: r.World.Transitions(), Restarts: r.World.TimeWaitRestarts(), Name: r.SocketName,
	}
}

// DefaultColumns picks a ladder's columns for a whole run as a plain
// ladder statement does (ladderHosts: two hosts that exchanged packets),
// with the hops between them.
func DefaultColumns(w *sim.World) []string {
	if len(w.Hosts()) < 2 {
		var cols []string
		for _, h := range w.Hosts() {
			cols = append(cols, h.Name())
		}
		return cols
	}
	return ladderColumns(w, ladderHosts(w, trace.Rows(w.Packets())))
}
