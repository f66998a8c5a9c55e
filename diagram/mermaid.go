package diagram

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// MermaidMark starts every Mermaid diagram tcpsim writes (a Mermaid
// comment), so that the notebook runner knows which blocks are its own
// output.
const MermaidMark = "%% tcpsim"

// MermaidMaxText is the longest diagram WriteLadderMermaid writes, in
// bytes: Mermaid's default maxTextSize (characters, in UTF-16 units, never
// more than the bytes), which code hosts keep. Mermaid draws only an
// error box for a longer text.
const MermaidMaxText = 50000

// mermaidCutRoom is kept free under MermaidMaxText for the note that says
// what a cut diagram leaves out.
const mermaidCutRoom = 250

// WriteLadderMermaid writes the ladder as a Mermaid sequence diagram, the
// form a code host renders as a picture from a ```mermaid block: a
// participant per column, a message per packet (-x when it was lost, --)
// when held, injected ones noted), the hosts' state changes as notes, and
// a note where a long idle gap passes. Mermaid draws no time axis: the
// order is the trace's. A ladder whose text would pass MermaidMaxText
// stops before it, with a last note counting the packets and the notes
// (state changes, timer restarts) it leaves out.
func WriteLadderMermaid(out io.Writer, l Ladder) error {
	if len(l.Columns) < 2 {
		return fmt.Errorf("diagram: a ladder needs two columns, got %d", len(l.Columns))
	}
	items, col := l.items()
	type entry struct {
		at    time.Duration
		order int64
		it    *item
		tr    *sim.Transition
		rs    *sim.TimeWaitRestart
	}
	var es []entry
	for i := range items {
		es = append(es, entry{at: items[i].Row.Sent, order: items[i].Row.Order, it: &items[i]})
	}
	for i := range l.Transitions {
		t := &l.Transitions[i]
		if _, ok := col[t.Host]; ok && t.From != sim.Listen && t.To != sim.Listen {
			es = append(es, entry{at: t.At, order: t.Order, tr: t})
		}
	}
	for i := range l.Restarts {
		r := &l.Restarts[i]
		if _, ok := col[r.Host]; ok {
			es = append(es, entry{at: r.At, order: r.Order, rs: r})
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return int(a.order - b.order)
	})
	ids := make([]string, len(l.Columns))
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "%s ladder %s\nsequenceDiagram\n", MermaidMark, mermaidText(strings.Join(l.Columns, " ")))
	for i, c := range l.Columns {
		ids[i] = fmt.Sprintf("n%d", i)
		fmt.Fprintf(w, "    participant %s as %s\n", ids[i], mermaidText(c))
	}
	hosts := map[string]int{} // endpoints per host; lookups only
	seen := map[[2]int]bool{} // membership only
	for _, t := range l.Transitions {
		if c, ok := col[t.Host]; ok && t.To != sim.Listen && t.From != sim.Listen && !seen[[2]int{c, t.Endpoint}] {
			seen[[2]int{c, t.Endpoint}] = true
			hosts[t.Host]++
		}
	}
	size := w.Buffered()
	var prev time.Duration
	var line strings.Builder // one entry's lines
	for i, e := range es {
		line.Reset()
		if i > 0 && e.at-prev >= time.Second {
			fmt.Fprintf(&line, "    Note over %s,%s: %s pass\n", ids[0], ids[len(ids)-1], mermaidText(durationText(e.at-prev)))
		}
		prev = e.at
		if r := e.rs; r != nil {
			fmt.Fprintf(&line, "    Note over %s: %s TIME-WAIT timer restarted, ends %s\n", ids[col[r.Host]], trace.Seconds(r.At), trace.Seconds(r.Until))
		} else if t := e.tr; t != nil {
			text := fmt.Sprintf("%s %v → %v", trace.Seconds(t.At), t.From, t.To)
			if hosts[t.Host] > 1 && l.Name != nil {
				if n := l.Name(t.Host, t.Endpoint); n != "" {
					text = n + ": " + text
				}
			}
			if t.Cause != "" {
				text += " (" + t.Cause + ")"
			}
			fmt.Fprintf(&line, "    Note over %s: %s\n", ids[col[t.Host]], mermaidText(text))
		} else {
			writeMermaidPacket(&line, e.it, ids)
		}
		if size+line.Len() > MermaidMaxText-mermaidCutRoom {
			packets, notes := 0, 0
			for _, e := range es[i:] {
				if e.it != nil {
					packets++
				} else {
					notes++
				}
			}
			fmt.Fprintf(w, "    Note over %s,%s: … %d more packets and %d more notes not drawn (Mermaid draws at most %d characters, the SVG ladder draws them all)\n",
				ids[0], ids[len(ids)-1], packets, notes, MermaidMaxText)
			break
		}
		size += line.Len()
		w.WriteString(line.String())
	}
	return w.Flush()
}

// writeMermaidPacket writes a packet's line: a message between its
// columns, or a note where a hop refused it.
func writeMermaidPacket(w io.Writer, it *item, ids []string) {
	r := it.Row
	label := trace.Seconds(r.Sent) + " " + r.Summary()
	if it.To < 0 {
		fmt.Fprintf(w, "    Note over %s: %s dropped: %s\n", ids[it.From], mermaidText(label), mermaidText(r.Rule))
		return
	}
	arrow := "->>"
	switch {
	case r.Fate == netem.Dropped || (r.Fate == netem.Held && r.Delivered < 0):
		arrow = "-x"
		label += " ✗ " + lossText(r)
	case r.Fate == netem.Held:
		arrow = "--)"
		label += " (held, arrives " + trace.Seconds(r.Delivered) + ")"
	case r.Fate == netem.Injected:
		label += " (injected)"
	case r.Fate == netem.Duplicated:
		label += fmt.Sprintf(" (copy of #%d)", r.Orig)
	}
	fmt.Fprintf(w, "    %s%s%s: %s\n", ids[it.From], arrow, ids[it.To], mermaidText(label))
}

// mermaidText makes text safe in a Mermaid message or note: Mermaid reads
// # and ; as entity syntax and a newline as the end of the statement, and
// a code host's renderer must not meet markup, nor a backtick that could
// close the block.
func mermaidText(s string) string {
	s = trace.Printable(s)
	r := strings.NewReplacer("#", "#35;", ";", "#59;", "\n", " ", "<", "#lt;", ">", "#gt;", "&", "#amp;", "%", "#37;", "`", "#96;")
	return r.Replace(s)
}
