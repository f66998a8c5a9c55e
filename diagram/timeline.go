package diagram

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// Timeline is what a state timeline shows: one row per endpoint (a
// socket), its stays in each state as bars along a time axis.
type Timeline struct {
	// Transitions are the World's, in order; listeners are left out.
	Transitions []sim.Transition
	// Restarts are the TIME-WAIT timers that restarted, marked on their
	// bars.
	Restarts []sim.TimeWaitRestart
	// Name, when set, gives the notebook's name of an endpoint.
	Name func(host string, endpoint int) string
	// End is where bars still open at the end stop (the run's end).
	End time.Duration
	// MaxRows bounds the rows drawn (0: 200); the rest are counted.
	MaxRows int
}

// Timeline geometry, in pixels. Up to timelineFew rows the time axis is
// the ladder's (to scale, with breaks); beyond, linear over
// timelineLinearW.
const (
	timelineFew     = 8
	timelineLinearW = 1000.0
	timelineLabelW  = 260.0
	timelineRowH    = 26.0
	timelineTop     = 40.0
)

// WriteTimelineSVG draws each endpoint's states as a row of bars, a Gantt
// chart of the connection's life: time runs left to right, to scale, with
// a labelled break for a long idle gap, as in the ladder.
func WriteTimelineSVG(out io.Writer, tl Timeline) error {
	maxRows := tl.MaxRows
	if maxRows <= 0 {
		maxRows = 200
	}
	type key struct {
		host string
		ep   int
	}
	var order []key
	rowOf := map[key]int{} // lookups only
	label := map[key]string{}
	var starts []time.Duration
	for _, t := range tl.Transitions {
		if t.From == sim.Listen || t.To == sim.Listen {
			continue
		}
		k := key{t.Host, t.Endpoint}
		if _, ok := rowOf[k]; !ok {
			rowOf[k] = len(order)
			order = append(order, k)
			name := ""
			if tl.Name != nil {
				name = tl.Name(t.Host, t.Endpoint)
			}
			if name == "" {
				name = fmt.Sprintf("%s %v>%v", t.Host, t.Local, t.Remote)
			} else {
				name = t.Host + " " + name
			}
			label[k] = name
		}
		if rowOf[k] < maxRows {
			starts = append(starts, t.At)
		}
	}
	end := tl.End
	if len(starts) > 0 && end < starts[len(starts)-1] {
		end = starts[len(starts)-1]
	}
	shown := min(len(order), maxRows)
	var axis *timeAxis
	if shown <= timelineFew {
		axis = newTimeAxis(timelineLabelW, append(starts, end), nil)
	} else {
		// Many sockets: one linear scale for the whole run, so that the
		// chart fits a screen and build-ups show as they happened.
		axis = linearAxis(timelineLabelW, timelineLinearW, end)
	}
	width := axis.bottom + 40
	height := timelineTop + timelineRowH*float64(shown) + 40
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="DejaVu Sans, Verdana, sans-serif" font-size="13">`+"\n", width, height, width, height)
	fmt.Fprintf(w, `<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff"/>`+"\n", width, height)
	// The axis along the top: a tick per labelled time.
	last := -100.0
	for i, t := range axis.times {
		if x := axis.ys[i]; x-last >= 90 {
			fmt.Fprintf(w, `<text class="axis" x="%.1f" y="20" font-size="11" fill="#666">%s s</text><line x1="%.1f" y1="24" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x, trace.Seconds(t), x, x, height-30)
			last = x
		}
	}
	for _, b := range axis.breaks {
		fmt.Fprintf(w, `<g class="axis-break"><path d="M%.1f,%.1f v%.1f" stroke="#999" stroke-dasharray="4 3"/><text x="%.1f" y="%.1f" font-size="11" fill="#555" font-style="italic">%s</text></g>`+"\n",
			(b.y0+b.y1)/2, timelineTop-6, timelineRowH*float64(shown)+8, b.y0+2, height-14, durationText(b.d)+" later")
	}
	open := map[key]sim.Transition{} // lookups only
	bar := func(k key, from sim.Transition, to time.Duration, restarts []time.Duration) {
		r := rowOf[k]
		if r >= maxRows || from.To == sim.Closed {
			return
		}
		x0, x1 := axis.at(from.At), axis.at(to)
		y := timelineTop + timelineRowH*float64(r)
		title := fmt.Sprintf("%s: %v from %s s to %s s (%s)", label[k], from.To, trace.Seconds(from.At), trace.Seconds(to), durationText(to-from.At))
		fmt.Fprintf(w, `<g class="bar state-%s"><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`, from.To, esc(title), x0, y+4, max(x1-x0, 2), timelineRowH-8, stateColours[from.To])
		if x1-x0 > textWidth(from.To.String(), 11)+6 {
			fmt.Fprintf(w, `<text x="%.1f" y="%.1f" font-size="11" dominant-baseline="central">%s</text>`, x0+3, y+timelineRowH/2, from.To)
		}
		for _, rs := range restarts {
			if rs < from.At || rs > to {
				continue
			}
			fmt.Fprintf(w, `<line class="restart" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="3"/>`, axis.at(rs), y+1, axis.at(rs), y+timelineRowH-1)
		}
		fmt.Fprintf(w, "</g>\n")
	}
	restarts := map[key][]time.Duration{} // lookups only
	for _, r := range tl.Restarts {
		k := key{r.Host, r.Endpoint}
		restarts[k] = append(restarts[k], r.At)
	}
	for _, t := range tl.Transitions {
		if t.From == sim.Listen || t.To == sim.Listen {
			continue
		}
		k := key{t.Host, t.Endpoint}
		if prev, ok := open[k]; ok {
			bar(k, prev, t.At, restarts[k])
		}
		open[k] = t
	}
	for _, k := range order {
		if prev, ok := open[k]; ok {
			bar(k, prev, end, restarts[k])
		}
	}
	for i, k := range order[:shown] {
		fmt.Fprintf(w, `<text x="8" y="%.1f" dominant-baseline="central">%s</text>`+"\n", timelineTop+timelineRowH*(float64(i)+0.5), esc(label[k]))
	}
	if len(order) > shown {
		fmt.Fprintf(w, `<text x="8" y="%.1f" fill="#555">and %d more endpoints</text>`+"\n", height-14, len(order)-shown)
	}
	fmt.Fprintf(w, "</svg>\n")
	return w.Flush()
}
