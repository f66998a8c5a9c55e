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

// Ladder widths: the time column and the arrow between the two sides. A
// left state change starts under the left host's name; a right one ends
// under the right host's.
const (
	ladderTime  = 11
	ladderArrow = 60
)

// WriteLadder draws a two-column ladder diagram between hosts left and
// right: each packet is an arrow at the time it was sent (with its fate or
// arrival time at the end of the row) and each side's state changes stand
// in its own column, interleaved in the order the World recorded them.
// Packets and transitions of other hosts are left out. rows come from Rows
// (all of them, or a tail).
func WriteLadder(out io.Writer, left, right string, rows []Row, ts []sim.Transition) error {
	type item struct {
		order int64
		row   *Row
		tr    *sim.Transition
	}
	var items []item
	for i := range rows {
		r := &rows[i]
		in := func(h string) bool { return h == left || h == right }
		if (r.From == "" || in(r.From)) && in(r.To) {
			items = append(items, item{order: r.Order, row: r})
		}
	}
	for i := range ts {
		if ts[i].Host == left || ts[i].Host == right {
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
	fmt.Fprintf(w, "%*s  %s%*s\n", ladderTime, "t (s)", left, ladderArrow-len(left), right)
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
			if t.Host == left {
				fmt.Fprintf(w, "%*s  %s\n", ladderTime, Seconds(t.At), text)
			} else {
				fmt.Fprintf(w, "%*s  %*s\n", ladderTime, Seconds(t.At), ladderArrow, text)
			}
			continue
		}
		r := it.row
		fmt.Fprintf(w, "%*s  %s  %s\n", ladderTime, Seconds(r.Sent), arrow(r, r.From == right || (r.From == "" && r.To == left)), r.FateText())
	}
	if slices.ContainsFunc(ts, func(t sim.Transition) bool { return t.Inferred }) {
		fmt.Fprintf(w, "%*s  * passed through within one event, without resting in the state\n", ladderTime, "")
	}
	return w.Flush()
}

func itemTime(r *Row, t *sim.Transition) int64 {
	if r != nil {
		return int64(r.Sent)
	}
	return int64(t.At)
}

// arrow draws a packet between the two columns, right to left when leftward.
func arrow(r *Row, leftward bool) string {
	label := " " + r.Summary() + " "
	body := ladderArrow - 4
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
