package diagram

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// Ladder is what a ladder diagram shows: a column per node, the packets
// that cross links between the columns, and the hosts' states.
type Ladder struct {
	// ID prefixes the ids inside the SVG, so that several ladders can
	// share one HTML page; "ladder" when empty.
	ID string
	// Title is written above the columns (optional).
	Title string
	// Columns are the nodes (hosts or middle hops), left to right.
	Columns []string
	// Rows are the packets (trace.Rows of the World's packets, or a tail
	// of them); those that do not cross between two columns are left out.
	Rows []trace.Row
	// Transitions are the hosts' state changes; those of other nodes are
	// left out.
	Transitions []sim.Transition
	// Restarts are the TIME-WAIT timers that restarted (World.
	// TimeWaitRestarts), marked on their endpoint's band.
	Restarts []sim.TimeWaitRestart
	// Name, when set, gives the notebook's name of a host's endpoint
	// ("c", "server:80/1"), or "".
	Name func(host string, endpoint int) string
}

// item is one packet or hop drop of the ladder (trace.LadderPackets).
type item = trace.LadderPacket

// items selects the ladder's packets, as every form of the ladder does,
// and maps each column to its index.
func (l *Ladder) items() ([]item, map[string]int) {
	col := map[string]int{} // lookups only
	for i, c := range l.Columns {
		col[c] = i
	}
	return trace.LadderPackets(l.Columns, l.Rows), col
}

// stay is one endpoint's stay in a state.
type stay struct {
	host     string
	endpoint int
	state    sim.State
	in, out  time.Duration // out < 0: to the end
	restarts []time.Duration
	lane     int // the endpoint's place beside its column
}

// stays turns the transitions of the ladder's hosts into stays, listeners
// and CLOSED left out.
func (l *Ladder) stays(col map[string]int) ([]stay, map[string]int) {
	open := map[[2]int]int{}    // (column, endpoint) -> index in out; lookups only
	lanes := map[[2]int]int{}   // (column, endpoint) -> lane; lookups only
	perHost := map[string]int{} // endpoints per host; lookups only
	var out []stay
	for _, t := range l.Transitions {
		c, ok := col[t.Host]
		if !ok || t.From == sim.Listen || t.To == sim.Listen {
			continue
		}
		key := [2]int{c, t.Endpoint}
		if _, ok := lanes[key]; !ok {
			lanes[key] = perHost[t.Host]
			perHost[t.Host]++
		}
		if i, ok := open[key]; ok {
			out[i].out = t.At
			delete(open, key)
		}
		if t.To != sim.Closed {
			open[key] = len(out)
			out = append(out, stay{host: t.Host, endpoint: t.Endpoint, state: t.To, in: t.At, out: -1, lane: lanes[key]})
		}
	}
	for _, r := range l.Restarts {
		for i := range out {
			s := &out[i]
			if s.host == r.Host && s.endpoint == r.Endpoint && s.state == sim.TimeWait && r.At >= s.in && (s.out < 0 || r.At <= s.out) {
				s.restarts = append(s.restarts, r.At)
			}
		}
	}
	return out, perHost
}

// Geometry of the ladder, in pixels.
const (
	ladderTop     = 78.0
	timeLabelW    = 92.0
	stateLabelW   = 170.0
	laneW         = 16.0
	bandW         = 10.0
	columnGap2    = 420.0 // between the two columns of a two-column ladder
	columnGapMany = 300.0
	rightMargin   = 190.0
	fontSize      = 14.0
)

// stateColours are the bands' fills: opening states blue, established
// green, the closing states warm, TIME-WAIT red.
var stateColours = map[sim.State]string{ // lookups only
	sim.SynSent: "#9ecae1", sim.SynReceived: "#9ecae1", sim.Established: "#74c476",
	sim.FinWait1: "#fdae6b", sim.FinWait2: "#fd8d3c", sim.CloseWait: "#fdd0a2",
	sim.Closing: "#bcbddc", sim.LastAck: "#9e9ac8", sim.TimeWait: "#de2d26",
}

// WriteLadderSVG draws the ladder as an SVG document: a column per node
// with its name on top, time flowing down (to scale, with a labelled break
// for a long idle gap), each packet an arrow from its sending time to its
// arrival time labelled with its trace number and segment (hover shows the
// whole packet), a packet lost on a link an arrow ending in an X, one a
// hop refused an X in the hop's column, held packets dashed, injected ones
// dotted from a circle, and each host's states as bands beside its column
// (TIME-WAIT's with its length and a mark where it restarted).
func WriteLadderSVG(out io.Writer, l Ladder) error {
	if len(l.Columns) < 2 {
		return fmt.Errorf("diagram: a ladder needs two columns, got %d", len(l.Columns))
	}
	id := l.ID
	if id == "" {
		id = "ladder"
	}
	items, col := l.items()
	stays, lanesPerHost := l.stays(col)

	var starts, ends []time.Duration
	for _, it := range items {
		starts = append(starts, it.Row.Sent)
		if it.To >= 0 && it.Row.Delivered >= 0 {
			ends = append(ends, it.Row.Delivered)
		}
	}
	for _, t := range l.Transitions {
		if _, ok := col[t.Host]; ok && t.From != sim.Listen && t.To != sim.Listen {
			starts = append(starts, t.At)
		}
	}
	for _, r := range l.Restarts {
		if _, ok := col[r.Host]; ok {
			ends = append(ends, r.At)
		}
	}
	if len(starts) == 0 {
		starts = []time.Duration{0}
	}
	axis := newTimeAxis(ladderTop, starts, ends)

	gap := columnGap2
	if len(l.Columns) > 2 {
		gap = columnGapMany
	}
	left := timeLabelW + stateLabelW + laneW*float64(max(lanesPerHost[l.Columns[0]], 1))
	x := func(c int) float64 { return left + gap*float64(c) }
	last := len(l.Columns) - 1
	width := x(last) + laneW*float64(max(lanesPerHost[l.Columns[last]], 1)) + rightMargin
	height := axis.bottom + 30

	w := bufio.NewWriter(out)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="ladder" id="%s" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Verdana, sans-serif" font-size="%.0f">`+"\n",
		esc(id), width, height, width, height, fontSize)
	fmt.Fprintf(w, `<defs><marker id="%s-head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker></defs>`+"\n", esc(id))
	fmt.Fprintf(w, `<style>.packet line{stroke:#222;stroke-width:2}.packet.held line{stroke-dasharray:8 5}.packet.injected line{stroke:#6a3d9a;stroke-dasharray:2 4}.packet.lost line{stroke:#b30000}.drop{stroke:#b30000;stroke-width:3}.band text,.hopdrop text{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round}.lifeline{stroke:#888;stroke-width:1.5}.axis{fill:#666;font-size:11px}.break{stroke:#999;fill:none;stroke-width:1.5}</style>`+"\n")
	fmt.Fprintf(w, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff"/>`+"\n", width, height)
	if l.Title != "" {
		fmt.Fprintf(w, `<text x="%.1f" y="22" font-size="16" font-weight="bold">%s</text>`+"\n", 10.0, esc(l.Title))
	}
	for c, name := range l.Columns {
		fmt.Fprintf(w, `<text class="column" x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold" font-size="16">%s</text>`+"\n", x(c), ladderTop-34, esc(name))
		fmt.Fprintf(w, `<line class="lifeline" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x(c), ladderTop-24, x(c), axis.bottom+10)
	}
	// The time axis: a label per slot, where there is room.
	lastTick := -100.0
	for i, t := range axis.times {
		if y := axis.ys[i]; y-lastTick >= 16 {
			fmt.Fprintf(w, `<text class="axis" x="8" y="%.1f" dominant-baseline="middle">%s s</text>`+"\n", y, trace.Seconds(t))
			lastTick = y
		}
	}
	for _, b := range axis.breaks {
		mid := (b.y0 + b.y1) / 2
		fmt.Fprintf(w, `<g class="axis-break"><path class="break" d="M%.1f,%.1f l10,-6 l10,12 l10,-6 H%.1f"/>`, timeLabelW, mid, width-20)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#555" font-style="italic">%s later (axis broken)</text></g>`+"\n", (x(0)+x(last))/2, mid-8, durationText(b.d))
	}
	// States first, so that arrows draw over them. The labels of a
	// column's lanes stand beyond its outermost lane, and a label never
	// covers the one before it in its column (states passed through at
	// one instant, or entered at once by two connections, stack).
	lastLabel := map[int]float64{} // column -> y; lookups only
	for _, s := range stays {
		c := col[s.host]
		y0 := axis.at(s.in)
		y1 := axis.bottom
		if s.out >= 0 {
			y1 = axis.at(s.out)
		}
		side, anchor := 1.0, "start"
		if c == 0 {
			side, anchor = -1, "end"
		}
		bx := x(c) + side*(6+laneW*float64(s.lane))
		if side < 0 {
			bx -= bandW
		}
		label := s.state.String()
		if lanesPerHost[s.host] > 1 && l.Name != nil {
			if n := l.Name(s.host, s.endpoint); n != "" {
				label = n + " " + label
			}
		}
		if s.state == sim.TimeWait && s.out >= 0 {
			label += " " + durationText(s.out-s.in)
		}
		if len(s.restarts) > 0 {
			label += fmt.Sprintf(", restarted ×%d", len(s.restarts))
		}
		outer := x(c) + side*(6+laneW*float64(max(lanesPerHost[s.host], 1)-1))
		tx := outer + bandW + 6
		if side < 0 {
			tx = outer - bandW - 6
		}
		fmt.Fprintf(w, `<g class="band state-%s" data-host="%s" data-endpoint="%d"><title>%s</title>`, s.state, esc(s.host), s.endpoint, esc(stayTitle(s)))
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" rx="2"/>`, bx, y0, bandW, max(y1-y0, 2), stateColours[s.state])
		ly := y0 + 7
		if prev, ok := lastLabel[c]; ok && ly < prev+14 {
			ly = prev + 14
		}
		lastLabel[c] = ly
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="%s" dominant-baseline="middle" font-size="12">%s</text>`, tx, ly, anchor, esc(label))
		for _, r := range s.restarts {
			ry := axis.at(r)
			fmt.Fprintf(w, `<g class="restart"><line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="3"/><text x="%.1f" y="%.1f" text-anchor="%s" dominant-baseline="middle" font-size="12">timer restarted</text></g>`,
				bx-4, ry, bx+bandW+4, ry, tx, ry+8, anchor)
		}
		fmt.Fprintf(w, "</g>\n")
	}
	var labels labelBoxes
	byID := map[int]*trace.Row{} // lookups only
	for i := range l.Rows {
		byID[l.Rows[i].ID] = &l.Rows[i]
	}
	for _, it := range items {
		writeItem(w, id, it, axis, x, len(l.Columns)-1, rewritten(it.Row, byID), &labels)
	}
	fmt.Fprintf(w, "</svg>\n")
	return w.Flush()
}

// writeItem draws one packet: an arrow, an arrow into an X, an X in a
// hop's column, or a loop from a host to itself (outward from the middle of
// the ladder: the last column's loops go left).
func writeItem(w *bufio.Writer, id string, it item, axis *timeAxis, x func(int) float64, lastCol int, nat string, labels *labelBoxes) {
	r := it.Row
	y0 := axis.next(r.Sent)
	title := rowLine(*r)
	if it.To < 0 {
		// Refused inside a node: an X in its column.
		cx := x(it.From)
		fmt.Fprintf(w, `<g class="hopdrop" data-id="%d"><title>%s</title>`, r.ID, esc(title))
		writeX(w, cx, y0, 7)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" dominant-baseline="middle" font-size="12">%s dropped at %s: %s</text></g>`+"\n", cx+12, y0, esc(r.Summary()), esc(r.From), esc(r.Rule))
		return
	}
	if it.From == it.To {
		cx, side := x(it.From), 1.0
		if it.From == lastCol && lastCol > 0 {
			side = -1
		}
		fmt.Fprintf(w, `<g class="packet loop" data-id="%d"><title>%s</title>`, r.ID, esc(title))
		fmt.Fprintf(w, `<path d="M%.1f,%.1f h%.1f v10 h%.1f" fill="none" stroke="#222" stroke-width="2" marker-end="url(#%s-head)"/>`, cx, y0-5, 24*side, -22*side, esc(id))
		text := r.Summary() + nat + " to itself"
		tw := textWidth(text, fontSize)
		lx := cx + side*(30+tw/2)
		labels.add(lx, y0, tw+8)
		writeLabel(w, lx, y0, text)
		fmt.Fprintf(w, "</g>\n")
		return
	}
	x0, x1 := x(it.From), x(it.To)
	lost := r.Fate == netem.Dropped || (r.Fate == netem.Held && r.Delivered < 0)
	y1 := y0
	if !lost {
		y1 = max(axis.at(r.Delivered), y0)
	}
	class := "packet"
	switch {
	case lost:
		class += " lost"
	case r.Fate == netem.Held:
		class += " held"
	case r.Fate == netem.Injected:
		class += " injected"
	case r.Fate == netem.Duplicated:
		class += " duplicate"
	}
	label := r.Summary() + nat
	switch {
	case r.Fate == netem.Held && !lost:
		label += " (held)"
	case r.Fate == netem.Injected:
		label += " (injected)"
	case r.Fate == netem.Duplicated:
		label += fmt.Sprintf(" (copy of #%d)", r.Orig)
	case r.Discarded != "":
		label += " (discarded)"
	case r.Corrupted:
		label += " (corrupted)"
	}
	fmt.Fprintf(w, `<g class="%s" data-id="%d"><title>%s</title>`, class, r.ID, esc(title))
	if lost {
		// The packet dies on the link, 60% of the way.
		ex, ey := x0+0.6*(x1-x0), y0+0.6*rowHeight
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, y0, ex, ey)
		writeX(w, ex, ey, 7)
		// Its label stands above the line, from the column on.
		text := label + " ✗ " + lossText(r)
		lx := x0 + 10
		if ex < x0 {
			lx = x0 - 10 - textWidth(text, fontSize)
		}
		writeLabel(w, lx+textWidth(text, fontSize)/2, y0-11, text)
		fmt.Fprintf(w, "</g>\n")
		return
	}
	if r.Fate == netem.Injected {
		fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="5" fill="#fff" stroke="#6a3d9a" stroke-width="2"/>`, x0, y0)
	}
	fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" marker-end="url(#%s-head)"/>`, x0, y0, x1, y1, esc(id))
	// The label sits on the arrow's middle, on a white box; an arrow that
	// crosses a broken gap (a packet held for minutes) has it in the
	// longest such gap, where nothing else is.
	at := func(f float64) (float64, float64) { return x0 + f*(x1-x0), y0 + f*(y1-y0) }
	var longest time.Duration
	for _, b := range axis.breaks {
		if b.y0 >= y0 && b.y1 <= y1 && b.d > longest && y1 > y0 {
			ly := (b.y0+b.y1)/2 + 12
			f := (ly - y0) / (y1 - y0)
			at = func(float64) (float64, float64) { return x0 + f*(x1-x0), ly }
			longest = b.d
		}
	}
	// Labels of arrows that leave or arrive together would cover each
	// other at their middles: the first place along the arrow that is
	// free.
	width := textWidth(label, fontSize) + 8
	lx, ly := at(0.5)
	for _, f := range []float64{0.5, 0.35, 0.65, 0.25, 0.75} {
		if cx, cy := at(f); labels.free(cx, cy, width) {
			lx, ly = cx, cy
			break
		}
	}
	labels.add(lx, ly, width)
	writeLabel(w, lx, ly, label)
	fmt.Fprintf(w, "</g>\n")
}

// rewritten says what a middle hop changed in a packet it forwarded (a
// NAT's translation): " src 198.51.100.1:40000" or " dst 10.0.0.2:80",
// or "" when nothing did.
func rewritten(r *trace.Row, byID map[int]*trace.Row) string {
	p := byID[r.Prev]
	if r.Prev == 0 || p == nil || !r.TCP || !p.TCP {
		return ""
	}
	out := ""
	if p.H.Src != r.H.Src {
		out += " src " + r.H.Src.String()
	}
	if p.H.Dst != r.H.Dst {
		out += " dst " + r.H.Dst.String()
	}
	return out
}

// labelBoxes are the label boxes placed so far (centre, width; 18 high).
type labelBoxes [][3]float64

func (l labelBoxes) free(cx, cy, width float64) bool {
	for _, b := range l {
		if abs(cx-b[0]) < (width+b[2])/2 && abs(cy-b[1]) < 19 {
			return false
		}
	}
	return true
}

func (l *labelBoxes) add(cx, cy, width float64) { *l = append(*l, [3]float64{cx, cy, width}) }

func abs(x float64) float64 { return max(x, -x) }

// writeLabel writes text centred at (cx, cy) on a white box that hides
// what it covers.
func writeLabel(w *bufio.Writer, cx, cy float64, text string) {
	width := textWidth(text, fontSize) + 8
	fmt.Fprintf(w, `<rect class="label" x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3" fill="#fff" fill-opacity="0.9"/>`, cx-width/2, cy-9, width, 18.0)
	fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle" dominant-baseline="central">%s</text>`, cx, cy, esc(text))
}

// textWidth estimates how wide text is at size (DejaVu Sans averages a
// little under 0.6 em a character for these labels).
func textWidth(text string, size float64) float64 {
	return float64(utf8.RuneCountInString(text)) * size * 0.58
}

func writeX(w *bufio.Writer, cx, cy, r float64) {
	fmt.Fprintf(w, `<path class="drop" d="M%.1f,%.1f L%.1f,%.1f M%.1f,%.1f L%.1f,%.1f"/>`, cx-r, cy-r, cx+r, cy+r, cx-r, cy+r, cx+r, cy-r)
}

// lossText says who lost a packet: a rule, random loss.
func lossText(r *trace.Row) string {
	if r.Rule == "" || r.Rule == "loss" {
		return "lost"
	}
	return "dropped by " + r.Rule
}

// rowLine is the packet's trace line, as `trace` prints it.
func rowLine(r trace.Row) string {
	var b strings.Builder
	_ = trace.WriteRows(&b, []trace.Row{r})
	return strings.TrimSpace(b.String())
}

func stayTitle(s stay) string {
	t := fmt.Sprintf("%s endpoint %d: %s from %s s", s.host, s.endpoint, s.state, trace.Seconds(s.in))
	if s.out >= 0 {
		t += fmt.Sprintf(" to %s s (%s)", trace.Seconds(s.out), durationText(s.out-s.in))
	}
	for _, r := range s.restarts {
		t += fmt.Sprintf("; timer restarted at %s s", trace.Seconds(r))
	}
	return t
}

// durationText prints a duration shortly: 60 s, 1.5 s, 200 ms, 12.5 ms.
func durationText(d time.Duration) string {
	switch {
	case d >= time.Second:
		s := fmt.Sprintf("%.3f", d.Seconds())
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s + " s"
	case d >= time.Millisecond:
		s := fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		return s + " ms"
	}
	return fmt.Sprintf("%d µs", d/time.Microsecond)
}
