package trace

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// Ladder widths: the time column and the arrow between two neighbouring
// columns (ladderArrow with two columns, ladderGap with more). A state
// change of the first column starts under its name; one of the last column
// ends under its name; one of a middle column starts at its line.
const (
	ladderTime  = 11
	ladderArrow = 60
	ladderGap   = 36
)

// WriteLadder draws a ladder diagram with one column per node in cols
// (hosts or middle hops, left to right): each packet that crosses a link
// between two columns is an arrow at the time it was sent (with its fate or
// arrival time at the end of the row); a packet a column's node dropped
// before it reached a link (a NAT refusing it, no route) is an X in that
// column; and each host's state changes stand in its column, interleaved in
// the order the World recorded them. Packets and transitions of other nodes
// are left out. rows come from Rows (all of them, or a tail).
func WriteLadder(out io.Writer, cols []string, rows []Row, ts []sim.Transition) error {
	if len(cols) < 2 {
		return fmt.Errorf("trace: a ladder needs two columns, got %d", len(cols))
	}
	col := map[string]int{} // lookups only
	for i, c := range cols {
		col[c] = i
	}
	// Column i's line is at i*gap; an arrow covers both lines it joins.
	gap := ladderArrow - 1
	if len(cols) > 2 {
		gap = ladderGap
	}
	width := gap*(len(cols)-1) + 1
	type item struct {
		order int64
		row   *Row
		tr    *sim.Transition
	}
	var items []item
	for i := range rows {
		r := &rows[i]
		_, from := col[r.From]
		_, to := col[r.To]
		if (from || r.From == "") && to || from && r.Fate == netem.Dropped {
			items = append(items, item{order: r.Order, row: r})
		}
	}
	for i := range ts {
		if _, ok := col[ts[i].Host]; ok {
			items = append(items, item{order: ts[i].Order, tr: &ts[i]})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		ta, tb := itemTime(a.row, a.tr), itemTime(b.row, b.tr)
		if ta != tb {
			return int(ta - tb)
		}
		return int(a.order - b.order)
	})

	w := bufio.NewWriter(out)
	w.WriteString(ladderHeader(cols, gap, width))
	for _, it := range items {
		if it.tr != nil {
			t := it.tr
			text := fmt.Sprintf("%v -> %v", t.From, t.To)
			if t.Inferred {
				text += "*"
			}
			if t.Cause != "" {
				text += " [" + t.Cause + "]"
			}
			switch i := col[t.Host]; i {
			case len(cols) - 1:
				fmt.Fprintf(w, "%*s  %*s\n", ladderTime, Seconds(t.At), width, text)
			default:
				fmt.Fprintf(w, "%*s  %*s%s\n", ladderTime, Seconds(t.At), i*gap, "", text)
			}
			continue
		}
		r := it.row
		from, okFrom := col[r.From]
		to, okTo := col[r.To]
		if !okTo {
			// Dropped inside a node, before any link.
			line := fmt.Sprintf("%*sX %s dropped at %s", from*gap, "", r.Summary(), r.From)
			fmt.Fprintf(w, "%*s  %-*s  by %s\n", ladderTime, Seconds(r.Sent), width, line, r.Rule)
			continue
		}
		if !okFrom { // injected: drawn from the neighbouring column
			from = to - 1
			if to == 0 {
				from = 1
			}
		}
		lo, hi := min(from, to), max(from, to)
		line := strings.Repeat(" ", lo*gap) + arrow(r, from > to, (hi-lo)*gap+1)
		fmt.Fprintf(w, "%*s  %-*s  %s\n", ladderTime, Seconds(r.Sent), width, line, r.FateText())
	}
	if slices.ContainsFunc(ts, func(t sim.Transition) bool {
		_, ok := col[t.Host]
		return t.Inferred && ok
	}) {
		fmt.Fprintf(w, "%*s  * passed through within one event, without resting in the state\n", ladderTime, "")
	}
	return w.Flush()
}

// ladderHeader names the columns: the first starts at its line, the last
// ends at its line, and a middle one is centred on its line.
func ladderHeader(cols []string, gap, width int) string {
	line := []byte(strings.Repeat(" ", width))
	place := func(at int, name string) {
		at = max(0, min(at, len(line)-len(name)))
		copy(line[at:], name)
	}
	place(0, cols[0])
	for i := 1; i < len(cols)-1; i++ {
		place(i*gap-len(cols[i])/2, cols[i])
	}
	place(len(line)-len(cols[len(cols)-1]), cols[len(cols)-1])
	return fmt.Sprintf("%*s  %s\n", ladderTime, "t (s)", strings.TrimRight(string(line), " "))
}

func itemTime(r *Row, t *sim.Transition) int64 {
	if r != nil {
		return int64(r.Sent)
	}
	return int64(t.At)
}

// arrow draws a packet across span columns of text, right to left when
// leftward.
func arrow(r *Row, leftward bool, span int) string {
	label := " " + r.Summary() + " "
	body := span - 4
	if len(label) > body-4 {
		label = label[:body-4]
	}
	lost := r.Fate == netem.Dropped || (r.Fate == netem.Held && r.Delivered < 0)
	line := []byte(strings.Repeat("-", body))
	if r.Fate == netem.Injected {
		line = []byte(strings.Repeat("=", body))
	}
	start := 2
	if leftward {
		start = body - 2 - len(label)
	}
	copy(line[start:], label)
	if lost {
		// The packet dies in the middle of the link.
		mid := body / 2
		if leftward {
			for i := 0; i < mid-1 && i < start; i++ {
				line[i] = ' '
			}
			if mid-1 < start {
				line[mid-1] = 'X'
			} else {
				line[0] = 'X'
			}
		} else {
			for i := body - 1; i > mid && i >= start+len(label); i-- {
				line[i] = ' '
			}
			if mid+1 >= start+len(label) {
				line[mid+1] = 'X'
			} else {
				line[body-1] = 'X'
			}
		}
		if leftward {
			return "| " + string(line) + "-|"
		}
		return "|-" + string(line) + " |"
	}
	if leftward {
		return "|<" + string(line) + "-|"
	}
	return "|-" + string(line) + ">|"
}
