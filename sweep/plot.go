package sweep

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot draws a sweep's CSV as an SVG made with gonum's plotting library:
// column y (a number: failed, events, server:TcpExtTCPTimeWaitOverflow,
// ...) against the values of the first parameter, one line per
// combination of the other parameters. params is how many parameter
// columns follow "point".
func Plot(out io.Writer, in io.Reader, params int, y string) error {
	recs, err := csv.NewReader(in).ReadAll()
	if err != nil {
		return fmt.Errorf("sweep: plot: %w", err)
	}
	if len(recs) < 2 || params < 1 || len(recs[0]) < 1+params {
		return fmt.Errorf("sweep: plot: want a sweep's CSV with at least one point")
	}
	head := recs[0]
	col := slices.Index(head, y)
	if col < 0 || col <= params {
		return fmt.Errorf("sweep: plot: no column %q: want one of %s", y, strings.Join(head[1+params:], ", "))
	}
	var xs []string // the first parameter's values, in order
	type key = string
	var lines []key
	values := map[key]map[string]float64{} // lookups only
	for _, r := range recs[1:] {
		x := r[1]
		if !slices.Contains(xs, x) {
			xs = append(xs, x)
		}
		var rest []string
		for i := 2; i <= params; i++ {
			rest = append(rest, head[i]+"="+r[i])
		}
		k := strings.Join(rest, " ")
		if _, ok := values[k]; !ok {
			values[k] = map[string]float64{}
			lines = append(lines, k)
		}
		v, err := strconv.ParseFloat(r[col], 64)
		if err != nil {
			if b, berr := strconv.ParseBool(r[col]); berr == nil && b {
				v = 1
			} else if berr != nil {
				return fmt.Errorf("sweep: plot: column %s holds %q, not a number", y, r[col])
			}
		}
		values[k][x] = v
	}
	p := plot.New()
	p.Title.Text = y + " by " + head[1]
	p.X.Label.Text = head[1]
	p.Y.Label.Text = y
	p.NominalX(xs...)
	p.Add(plotter.NewGrid())
	for i, k := range lines {
		var pts plotter.XYs
		for j, x := range xs {
			if v, ok := values[k][x]; ok {
				pts = append(pts, plotter.XY{X: float64(j), Y: v})
			}
		}
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("sweep: plot: %w", err)
		}
		l.Color, s.Color = plotutil.Color(i), plotutil.Color(i)
		l.Width = vg.Points(2)
		p.Add(l, s)
		name := k
		if name == "" {
			name = y
		}
		p.Legend.Add(name, l, s)
	}
	p.Legend.Top = true
	wt, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return fmt.Errorf("sweep: plot: %w", err)
	}
	_, err = wt.WriteTo(out)
	return err
}
