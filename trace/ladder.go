package trace

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// LadderOptions are what a ladder may add to its packets and transitions.
type LadderOptions struct {
	// Name names a host's endpoint (Transition.Endpoint), such as a
	// notebook's socket name, or returns "". When a host has more than one
	// connection among the ladder's transitions (listeners aside), each of
	// its state changes starts with its endpoint's name ("c2: ESTABLISHED
	// -> FIN-WAIT-1"; "ep 3" for an endpoint without one). Nil names none.
	Name func(host string, endpoint int) string
	// Restarts are TIME-WAIT timer restarts, each marked in its host's
	// column ("TIME-WAIT timer restarted, ends 60.360000").
	Restarts []sim.TimeWaitRestart
}

// WriteLadder draws a ladder diagram with one column per node in cols
// (hosts or middle hops, left to right): each packet that crosses a link
// between two columns is an arrow at the time it was sent (with its fate or
// arrival time at the end of the row); a packet a column's node dropped
// before it reached a link (a NAT refusing it, no route) is an X in that
// column; and each host's state changes stand in its column, interleaved in
// the order the World recorded them, wrapped within the column when long.
// Packets and transitions of other nodes are left out. rows come from Rows
// (all of them, or a tail).
func WriteLadder(out io.Writer, cols []string, rows []Row, ts []sim.Transition) error {
	return WriteLadderOptions(out, cols, rows, ts, LadderOptions{})
}

// WriteLadderOptions is WriteLadder with socket names and TIME-WAIT
// restarts (o).
func WriteLadderOptions(out io.Writer, cols []string, rows []Row, ts []sim.Transition, o LadderOptions) error {
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
		rs    *sim.TimeWaitRestart
		// from and to are the row's columns (LadderPacket).
		from, to int
	}
	var items []item
	for _, p := range LadderPackets(cols, rows) {
		items = append(items, item{order: p.Row.Order, row: p.Row, from: p.From, to: p.To})
	}
	for i := range ts {
		if _, ok := col[ts[i].Host]; ok {
			items = append(items, item{order: ts[i].Order, tr: &ts[i]})
		}
	}
	for i := range o.Restarts {
		if _, ok := col[o.Restarts[i].Host]; ok {
			items = append(items, item{order: o.Restarts[i].Order, rs: &o.Restarts[i]})
		}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		ta, tb := itemTime(a.row, a.tr, a.rs), itemTime(b.row, b.tr, b.rs)
		if ta != tb {
			return cmp.Compare(ta, tb)
		}
		return cmp.Compare(a.order, b.order)
	})
	named := namedHosts(ts, col, o.Name)
	label := func(host string, endpoint int) string {
		if !named[host] {
			return ""
		}
		if n := o.Name(host, endpoint); n != "" {
			return n + ": "
		}
		return fmt.Sprintf("ep %d: ", endpoint)
	}
	// state writes a state change's text in host's column, wrapped within
	// the column: the first and middle columns start at their line, the
	// last ends at its line; continuation lines are indented under the
	// first.
	state := func(w *bufio.Writer, at time.Duration, host, text string) {
		i := col[host]
		lines := wrap(text, gap)
		start := i * gap
		if i == len(cols)-1 {
			block := 0
			for k, l := range lines {
				block = max(block, utf8.RuneCountInString(l)+min(k, 1)*wrapIndent)
			}
			start = max(0, width-block)
		}
		for k, l := range lines {
			t := ""
			if k == 0 {
				t = Seconds(at)
			}
			fmt.Fprintf(w, "%*s  %*s%s\n", ladderTime, t, start+min(k, 1)*wrapIndent, "", strings.ReplaceAll(l, nbsp, " "))
		}
	}
	w := bufio.NewWriter(out)
	w.WriteString(ladderHeader(cols, gap, width))
	for _, it := range items {
		if rs := it.rs; rs != nil {
			state(w, rs.At, rs.Host, label(rs.Host, rs.Endpoint)+"TIME-WAIT timer restarted, ends "+Seconds(rs.Until))
			continue
		}
		if it.tr != nil {
			t := it.tr
			// The change itself is never broken across lines.
			text := label(t.Host, t.Endpoint) + strings.ReplaceAll(fmt.Sprintf("%v -> %v", t.From, t.To), " ", nbsp)
			if t.Inferred {
				text += "*"
			}
			if t.Cause != "" {
				text += " [" + t.Cause + "]"
			}
			state(w, t.At, t.Host, text)
			continue
		}
		r, from, to := it.row, it.from, it.to
		if to < 0 {
			// Dropped inside a node, before any link.
			line := fmt.Sprintf("%*sX %s dropped at %s", from*gap, "", r.Summary(), r.From)
			fmt.Fprintf(w, "%*s  %-*s  by %s\n", ladderTime, Seconds(r.Sent), width, line, r.Rule)
			continue
		}
		if from == to {
			// From a host to itself (its lo, or its own address): a loop
			// in its column, which the last column ends at its line.
			text := "@ " + r.Summary() + " to itself"
			start := from * gap
			if from == len(cols)-1 {
				start = max(0, width-utf8.RuneCountInString(text))
			}
			fmt.Fprintf(w, "%*s  %-*s  %s\n", ladderTime, Seconds(r.Sent), width, strings.Repeat(" ", start)+text, r.FateText())
			continue
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

func itemTime(r *Row, t *sim.Transition, rs *sim.TimeWaitRestart) time.Duration {
	switch {
	case r != nil:
		return r.Sent
	case t != nil:
		return t.At
	}
	return rs.At
}

// namedHosts are the hosts of the columns with more than one connection
// (an endpoint that was never a listener) among ts, when name is set.
func namedHosts(ts []sim.Transition, col map[string]int, name func(string, int) string) map[string]bool {
	named := map[string]bool{} // lookups only
	if name == nil {
		return named
	}
	listener := map[sim.EndpointKey]bool{} // lookups only
	for _, t := range ts {
		if t.From == sim.Listen || t.To == sim.Listen {
			listener[sim.EndpointKey{Host: t.Host, Endpoint: t.Endpoint}] = true
		}
	}
	first := map[string]int{} // lookups only
	for _, t := range ts {
		if _, ok := col[t.Host]; !ok || listener[sim.EndpointKey{Host: t.Host, Endpoint: t.Endpoint}] {
			continue
		}
		if f, ok := first[t.Host]; !ok {
			first[t.Host] = t.Endpoint
		} else if f != t.Endpoint {
			named[t.Host] = true
		}
	}
	return named
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

// nbsp joins words that wrap keeps on one line.
const nbsp = "\u00a0"

// wrapIndent is how much further a wrapped line of a state change starts.
const wrapIndent = 2

// wrap breaks text into lines of at most width characters at spaces
// (inside a word longer than a line), each line after the first wrapIndent
// narrower.
func wrap(text string, width int) []string {
	var lines []string
	rs := []rune(text)
	for len(rs) > 0 {
		w := width
		if len(lines) > 0 {
			w -= wrapIndent
		}
		w = max(w, 1)
		if len(rs) <= w {
			lines = append(lines, string(rs))
			break
		}
		cut := lastSpace(rs[:w+1])
		if cut <= 0 {
			cut = w
		}
		lines = append(lines, strings.TrimRight(string(rs[:cut]), " "))
		rs = rs[cut:]
		for len(rs) > 0 && rs[0] == ' ' {
			rs = rs[1:]
		}
	}
	return lines
}

func lastSpace(rs []rune) int {
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i] == ' ' {
			return i
		}
	}
	return -1
}

// LadderPacket is a packet a ladder draws: an arrow from column From to
// column To, or, when To < 0, an X in column From, whose node refused it
// before it reached a link (a NAT without a mapping, no route).
type LadderPacket struct {
	Row      *Row
	From, To int
}

// LadderPackets selects the packets a ladder with columns cols draws, in
// the order of rows: those that cross a link between two columns, those
// injected into a column's node (drawn from the neighbouring column), and
// those a column's node dropped before any link. Every form of the ladder
// (text, SVG, Mermaid) draws these.
func LadderPackets(cols []string, rows []Row) []LadderPacket {
	col := map[string]int{} // lookups only
	for i, c := range cols {
		col[c] = i
	}
	var out []LadderPacket
	for i := range rows {
		r := &rows[i]
		from, okFrom := col[r.From]
		to, okTo := col[r.To]
		switch {
		case okTo && (okFrom || r.From == ""):
			if !okFrom { // injected: from the neighbouring column
				from = to - 1
				if to == 0 {
					from = 1
				}
			}
			out = append(out, LadderPacket{Row: r, From: from, To: to})
		case okFrom && r.Fate == netem.Dropped:
			out = append(out, LadderPacket{Row: r, From: from, To: -1})
		}
	}
	return out
}
