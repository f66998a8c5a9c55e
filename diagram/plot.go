package diagram

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"slices"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// StatePlot is what a plot of one host's sockets by state shows: how many
// of its endpoints are in each state over time (TIME-WAIT building up and
// draining is the picture the articles describe).
type StatePlot struct {
	Host        string
	Transitions []sim.Transition // the World's, in order; other hosts' are left out
	End         time.Duration    // the run's end, where the lines stop
}

// plottedStates are the states a plot may show, in legend order.
var plottedStates = []sim.State{sim.SynSent, sim.SynReceived, sim.Established, sim.FinWait1, sim.FinWait2,
	sim.CloseWait, sim.Closing, sim.LastAck, sim.TimeWait}

// WriteStatePlotSVG draws the plot with gonum's plotting library, as SVG:
// a step line per state the host's endpoints were ever in (listeners left
// out), seconds along x, endpoints up y.
func WriteStatePlotSVG(out io.Writer, sp StatePlot) error {
	count := map[sim.State]int{}          // lookups only
	series := map[sim.State]plotter.XYs{} // lookups only
	state := map[int]sim.State{}          // endpoint -> state; lookups only
	point := func(s sim.State, t time.Duration) {
		series[s] = append(series[s], plotter.XY{X: t.Seconds(), Y: float64(count[s])})
	}
	for _, t := range sp.Transitions {
		if t.Host != sp.Host || t.From == sim.Listen || t.To == sim.Listen || t.From == t.To {
			continue
		}
		if prev, ok := state[t.Endpoint]; ok && prev != sim.Closed {
			count[prev]--
			point(prev, t.At)
		}
		state[t.Endpoint] = t.To
		if t.To != sim.Closed {
			count[t.To]++
			point(t.To, t.At)
		}
	}
	p := plot.New()
	p.Title.Text = sp.Host + ": sockets by state"
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "endpoints"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for _, s := range plottedStates {
		xys, ok := series[s]
		if !ok {
			continue
		}
		// Each line starts at 0 and runs to the end of the run.
		xys = append(plotter.XYs{{X: xys[0].X, Y: 0}}, xys...)
		xys = append(xys, plotter.XY{X: max(sp.End.Seconds(), xys[len(xys)-1].X), Y: float64(count[s])})
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("diagram: plot %s: %w", s, err)
		}
		l.StepStyle = plotter.PostStep
		l.LineStyle.Width = vg.Points(2)
		l.LineStyle.Color = hexColour(stateColours[s])
		if s == sim.TimeWait {
			l.LineStyle.Width = vg.Points(3)
		}
		p.Add(l)
		p.Legend.Add(s.String(), l)
	}
	if len(series) == 0 {
		p.Title.Text += " (no connections)"
	}
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return writeSVG(out, p, 3.5*vg.Inch, "plot")
}

// writeSVG writes p as an 8-inch-wide SVG of the given height, its axes
// from 0; what names the plot in errors. Nothing is written if rendering
// fails.
func writeSVG(out io.Writer, p *plot.Plot, height vg.Length, what string) error {
	p.X.Min, p.Y.Min = 0, 0
	wt, err := p.WriterTo(8*vg.Inch, height, "svg")
	if err != nil {
		return fmt.Errorf("diagram: %s: %w", what, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return fmt.Errorf("diagram: %s: %w", what, err)
	}
	_, err = out.Write(b.Bytes())
	return err
}

// hexColour reads #rrggbb.
func hexColour(s string) color.Color {
	var r, g, b uint8
	if _, err := fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b); err != nil {
		return color.Black
	}
	return color.RGBA{R: r, G: g, B: b, A: 255}
}

// SeriesPlot is one host's samples of one sample statement.
type SeriesPlot struct {
	Title   string
	Samples []trace.Sample // one host's, in time order
}

// WriteSeriesPlotSVG draws a host's sampled series with gonum's plotting
// library, as SVG: a line per state any sample counts, and a dashed line
// per connect outcome other than ok (connect calls that failed in each
// interval), seconds along x.
func WriteSeriesPlotSVG(out io.Writer, sp SeriesPlot) error {
	p := plot.New()
	p.Title.Text = sp.Title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "endpoints; failed connects per interval"
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Add(plotter.NewGrid())
	for i, st := range trace.SampledStates {
		var xys plotter.XYs
		any := false
		for _, s := range sp.Samples {
			xys = append(xys, plotter.XY{X: s.At.Seconds(), Y: float64(s.States[i])})
			any = any || s.States[i] > 0
		}
		if !any {
			continue
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("diagram: series plot: %w", err)
		}
		l.LineStyle.Width = vg.Points(2)
		l.LineStyle.Color = hexColour(stateColours[st])
		p.Add(l)
		p.Legend.Add(st.String(), l)
	}
	var errnos []string
	for _, s := range sp.Samples {
		for _, c := range s.Connects {
			if c.Name != "ok" && !slices.Contains(errnos, c.Name) {
				errnos = append(errnos, c.Name)
			}
		}
	}
	slices.Sort(errnos)
	for _, e := range errnos {
		var xys plotter.XYs
		for _, s := range sp.Samples {
			v, _ := sim.CounterOf(s.Connects, e)
			xys = append(xys, plotter.XY{X: s.At.Seconds(), Y: float64(v)})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			return fmt.Errorf("diagram: series plot: %w", err)
		}
		l.LineStyle.Width = vg.Points(1.5)
		l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(e, l)
	}
	return writeSVG(out, p, 3.5*vg.Inch, "series plot")
}

// WriteHeapPlotSVG draws a host's sampled heap account (the memory the
// simulator holds for its connections, sim.Host.HeapBytes) in KiB,
// seconds along x. Samples without an account (a kernel host's) are left
// out.
func WriteHeapPlotSVG(out io.Writer, sp SeriesPlot) error {
	p := plot.New()
	p.Title.Text = sp.Title
	p.X.Label.Text = "time (s)"
	p.Y.Label.Text = "simulator heap for the connections (KiB)"
	p.Add(plotter.NewGrid())
	var xys plotter.XYs
	for _, s := range sp.Samples {
		if s.Heap >= 0 {
			xys = append(xys, plotter.XY{X: s.At.Seconds(), Y: float64(s.Heap) / 1024})
		}
	}
	if len(xys) == 0 {
		return fmt.Errorf("diagram: heap plot: no sample has a heap account")
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return fmt.Errorf("diagram: heap plot: %w", err)
	}
	l.LineStyle.Width = vg.Points(2)
	p.Add(l)
	return writeSVG(out, p, 2.5*vg.Inch, "heap plot")
}
