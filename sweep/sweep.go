package sweep

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/trace"
)

// Axis is one parameter and the values it takes.
type Axis struct {
	Name   string
	Values []string
}

// Point is one run of the grid: its index (the first axis changes
// slowest) and its --set values.
type Point struct {
	Index int
	Set   []string
}

// Points lists the grid of axes, in order.
func Points(axes []Axis) []Point {
	n := 1
	for _, a := range axes {
		n *= len(a.Values)
	}
	out := make([]Point, 0, n)
	for i := 0; i < n; i++ {
		p := Point{Index: i}
		rest := i
		for k := len(axes) - 1; k >= 0; k-- {
			a := axes[k]
			p.Set = append(p.Set, a.Name+"="+a.Values[rest%len(a.Values)])
			rest /= len(a.Values)
		}
		slices.Reverse(p.Set)
		out = append(out, p)
	}
	return out
}

// Options says what to sweep. The zero value of each field but Run and
// Axes is a good default.
type Options struct {
	// Run runs the notebook with a Config (scenarios.RunFile or
	// scenarios.Run bound to the notebook).
	Run func(scenarios.Config) (*scenarios.Result, error)
	// Config is the base of every point's Config; its Set is extended.
	Config scenarios.Config
	Axes   []Axis
	// Shard and Shards select the points whose Index % Shards == Shard
	// (Shards 0 or 1: all of them).
	Shard, Shards int
	// Workers runs points at once (0: GOMAXPROCS).
	Workers int
}

// row is one point's result: its cells, column by column.
type row struct {
	index int
	names []string
	cells []string
	err   error
}

// Run runs the shard's points, Workers at a time, and writes their rows
// as CSV (a header, then the rows in point order): point, the parameters,
// passed, checks, failed, stopped (the budget that stopped it), end_s,
// events, then each host's counters at the end (HOST:COUNTER). A
// malformed notebook stops the sweep with its error.
func Run(out io.Writer, o Options) error {
	if o.Run == nil || len(o.Axes) == 0 {
		return fmt.Errorf("sweep: want a notebook and at least one parameter with values")
	}
	for _, a := range o.Axes {
		if len(a.Values) == 0 {
			return fmt.Errorf("sweep: parameter %s has no value", a.Name)
		}
	}
	shards := max(o.Shards, 1)
	if o.Shard < 0 || o.Shard >= shards {
		return fmt.Errorf("sweep: shard %d of %d: want 0 to %d", o.Shard, shards, shards-1)
	}
	var points []Point
	for _, p := range Points(o.Axes) {
		if p.Index%shards == o.Shard {
			points = append(points, p)
		}
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rows := make([]row, len(points))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < min(workers, max(len(points), 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				rows[i] = runPoint(o, points[i])
			}
		}()
	}
	for i := range points {
		next <- i
	}
	close(next)
	wg.Wait()
	var header []string
	cw := csv.NewWriter(out)
	for _, r := range rows {
		if r.err != nil {
			return r.err
		}
		if header == nil {
			header = r.names
			if err := cw.Write(header); err != nil {
				return err
			}
		}
		if !slices.Equal(header, r.names) {
			return fmt.Errorf("sweep: point %d has columns %v, point %d had %v: the hosts or their counters differ between points", r.index, r.names, rows[0].index, header)
		}
		if err := cw.Write(r.cells); err != nil {
			return err
		}
	}
	if header == nil { // an empty shard still says what its columns are not
		if err := cw.Write([]string{"point"}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// runPoint runs one point.
func runPoint(o Options, p Point) row {
	cfg := o.Config
	cfg.Set = append(slices.Clone(cfg.Set), p.Set...)
	res, err := o.Run(cfg)
	r := row{index: p.Index}
	stopped := ""
	if err != nil {
		if res == nil {
			r.err = fmt.Errorf("sweep: point %d (%s): %w", p.Index, strings.Join(p.Set, " "), err)
			return r
		}
		stopped = err.Error()
	}
	defer res.Close()
	add := func(name, cell string) {
		r.names = append(r.names, name)
		r.cells = append(r.cells, cell)
	}
	add("point", strconv.Itoa(p.Index))
	for _, s := range p.Set {
		k, v, _ := strings.Cut(s, "=")
		add(k, v)
	}
	failed := len(res.Failures())
	add("passed", strconv.FormatBool(failed == 0 && stopped == ""))
	add("checks", strconv.Itoa(len(res.Checks)))
	add("failed", strconv.Itoa(failed))
	add("stopped", stopped)
	add("end_s", trace.Seconds(res.World.Now()))
	add("events", strconv.FormatInt(res.World.Events(), 10))
	for _, h := range res.World.Hosts() {
		for _, c := range h.Counters() {
			add(h.Name()+":"+c.Name, strconv.FormatUint(c.Value, 10))
		}
		if b := h.HeapBytes(); b >= 0 {
			add(h.Name()+":heap_bytes", strconv.FormatInt(b, 10))
		}
	}
	return r
}

// Merge joins the CSVs of a sweep's shards into the CSV one machine
// would have written: one header (they must agree), the rows in point
// order. A point twice is an error; so is a missing one, unless
// partial.
func Merge(out io.Writer, ins []io.Reader, partial bool) error {
	var header []string
	type line struct {
		point int
		cells []string
	}
	var lines []line
	for k, in := range ins {
		recs, err := csv.NewReader(bufio.NewReader(in)).ReadAll()
		if err != nil {
			return fmt.Errorf("sweep: shard %d: %w", k+1, err)
		}
		if len(recs) == 0 || len(recs[0]) == 0 || recs[0][0] != "point" {
			return fmt.Errorf("sweep: shard %d is not a sweep's CSV (no point column first)", k+1)
		}
		if len(recs) == 1 {
			continue // an empty shard
		}
		if header == nil {
			header = recs[0]
		} else if !slices.Equal(header, recs[0]) {
			return fmt.Errorf("sweep: shard %d's columns differ from the first shard's", k+1)
		}
		for _, rec := range recs[1:] {
			n, err := strconv.Atoi(rec[0])
			if err != nil {
				return fmt.Errorf("sweep: shard %d: point %q is not a number", k+1, rec[0])
			}
			lines = append(lines, line{n, rec})
		}
	}
	slices.SortFunc(lines, func(a, b line) int { return a.point - b.point })
	for i, l := range lines {
		if i > 0 && lines[i-1].point == l.point {
			return fmt.Errorf("sweep: point %d is in two shards", l.point)
		}
		if !partial && l.point != i {
			return fmt.Errorf("sweep: point %d is missing (pass --partial to merge what there is)", i)
		}
	}
	cw := csv.NewWriter(out)
	if header == nil {
		header = []string{"point"}
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, l := range lines {
		if err := cw.Write(l.cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
