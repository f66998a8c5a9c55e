package report

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// Options adjusts a report. The zero value is a good default.
type Options struct {
	// Index, when set, is the file name of the index page that links
	// back ("index.html"), for tcpsim check --html.
	Index string
}

// markdown renders the notebooks' prose: CommonMark with GitHub's tables,
// raw HTML in the prose escaped (goldmark's default), so that prose cannot
// add scripts to the page.
var markdown = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough))

// WriteHTML writes the report of a notebook's run as one self-contained
// HTML page: no script, no request, nothing to fetch, so that it opens
// offline in a lecture hall. It holds the notebook's prose rendered, each
// cell's code and output, every ladder as an SVG (hover over an arrow for
// its packet), the expectations as a checklist, a timeline of each
// socket's states, and a plot per host of its sockets by state over time.
func WriteHTML(out io.Writer, res *scenarios.Result, o Options) error {
	w := bufio.NewWriter(out)
	title := res.Title
	if title == "" {
		title = res.Scenario
	}
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n", esc(title), css)
	if o.Index != "" {
		fmt.Fprintf(w, "<nav><a href=\"%s\">all notebooks</a></nav>\n", esc(o.Index))
	}
	fmt.Fprintf(w, "<header><h1>%s</h1>\n<p class=\"meta\">%s</p>\n", esc(title), esc(meta(res)))
	if res.Stopped != "" {
		fmt.Fprintf(w, "<p class=\"stopped\">The run stopped before its end: %s</p>\n", esc(res.Stopped))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "<p class=\"note\">%s</p>\n", esc(n))
	}
	fmt.Fprintf(w, "</header>\n<main>\n")

	figures := map[int][]scenarios.Figure{} // by cell; lookups only
	for _, f := range res.Figures {
		figures[f.Cell] = append(figures[f.Cell], f)
	}
	for _, seg := range res.Notebook.Segments() {
		if !seg.IsCell {
			var b bytes.Buffer
			// The first heading is the page's title.
			prose := seg.Prose
			if h := "# " + res.Title; res.Title != "" && strings.HasPrefix(strings.TrimSpace(prose), h) {
				prose = strings.Replace(prose, h, "", 1)
			}
			if err := markdown.Convert([]byte(trace.Printable(prose)), &b); err != nil {
				return fmt.Errorf("report: %w", err)
			}
			fmt.Fprintf(w, "<div class=\"prose\">\n%s</div>\n", b.String())
			continue
		}
		if err := writeCell(w, res, seg, figures[seg.Cell]); err != nil {
			return err
		}
	}
	writeChecks(w, res)
	if err := writeStates(w, res); err != nil {
		return err
	}
	fmt.Fprintf(w, "</main>\n<footer>%s</footer>\n</body>\n</html>\n", esc("tcpsim "+sim.StackVersion()))
	return w.Flush()
}

func meta(res *scenarios.Result) string {
	backend := "simulated gVisor netstacks on a virtual clock"
	if res.Release != "" {
		backend = "the running Linux kernel " + res.Release + ", in real time"
	}
	return fmt.Sprintf("notebook %s · seed %d · %s", res.Scenario, res.World.Seed(), backend)
}

func writeCell(w *bufio.Writer, res *scenarios.Result, seg scenarios.Segment, figs []scenarios.Figure) error {
	fmt.Fprintf(w, "<section class=\"cell\" id=\"cell-%d\">\n<pre class=\"code\">%s</pre>\n", seg.Cell+1, esc(strings.Join(seg.Code, "\n")))
	if seg.Cell < len(res.Outputs) {
		if out := strings.TrimRight(res.Outputs[seg.Cell], "\n"); out != "" {
			fmt.Fprintf(w, "<pre class=\"output\">%s</pre>\n", outputHTML(out))
		}
	}
	for _, f := range figs {
		svg, err := f.SVG()
		if err != nil {
			return fmt.Errorf("report: %s: %w", f.Name, err)
		}
		fmt.Fprintf(w, "<figure class=\"ladder\" id=\"%s\">\n%s<figcaption>%s (%s.svg)</figcaption>\n</figure>\n", esc(f.Name), svg, esc(f.Caption), esc(f.Name))
	}
	fmt.Fprintf(w, "</section>\n")
	return nil
}

// outputHTML escapes a cell's output and marks the verdicts.
func outputHTML(out string) string {
	var b strings.Builder
	for i, l := range strings.Split(out, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case strings.HasPrefix(l, "ok   expect "):
			fmt.Fprintf(&b, "<span class=\"ok\">%s</span>", esc(l))
		case strings.HasPrefix(l, "FAIL expect "):
			fmt.Fprintf(&b, "<span class=\"fail\">%s</span>", esc(l))
		default:
			b.WriteString(esc(l))
		}
	}
	return b.String()
}

func writeChecks(w *bufio.Writer, res *scenarios.Result) {
	failed := len(res.Failures())
	fmt.Fprintf(w, "<section id=\"checks\">\n<h2>Expectations: %d, %d failed</h2>\n<ul class=\"checklist\">\n", len(res.Checks), failed)
	for _, c := range res.Checks {
		class, mark := "ok", "✓"
		if !c.OK {
			class, mark = "fail", "✗"
		}
		fmt.Fprintf(w, "<li class=\"%s\"><span class=\"mark\">%s</span> <code>%s</code><br><span class=\"detail\">%s</span> <span class=\"pos\">%s</span></li>\n",
			class, mark, esc(c.Text), esc(c.Detail), esc(c.Pos))
	}
	fmt.Fprintf(w, "</ul>\n</section>\n")
}

// writeStates draws the timeline of every socket and a plot per host.
func writeStates(w *bufio.Writer, res *scenarios.Result) error {
	ts := res.World.Transitions()
	end := res.World.Now()
	var b strings.Builder
	if err := diagram.WriteTimelineSVG(&b, diagram.Timeline{Transitions: ts, Restarts: res.World.TimeWaitRestarts(), Name: res.SocketName, End: end}); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(w, "<section id=\"timeline\">\n<h2>Each socket's states</h2>\n<div class=\"scroll\">%s</div>\n</section>\n", b.String())
	fmt.Fprintf(w, "<section id=\"plots\">\n<h2>Sockets by state, per host</h2>\n")
	for _, h := range res.World.Hosts() {
		var p bytes.Buffer
		if err := diagram.WriteStatePlotSVG(&p, diagram.StatePlot{Host: h.Name(), Transitions: ts, End: end}); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		plotFigure(w, "plot", h.Name()+": sockets by state over time", p.Bytes())
	}
	fmt.Fprintf(w, "</section>\n")
	return writeSeries(w, res)
}

// writeSeries plots each sample statement's series, per host.
func writeSeries(w *bufio.Writer, res *scenarios.Result) error {
	if len(res.Series) == 0 {
		return nil
	}
	fmt.Fprintf(w, "<section id=\"series\">\n<h2>Sampled series</h2>\n")
	type key struct {
		n    int
		host string
	}
	var order []key
	byKey := map[key][]trace.Sample{} // lookups only
	for _, s := range res.Series {
		k := key{s.Series, s.Host}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], s)
	}
	for _, k := range order {
		var p bytes.Buffer
		title := fmt.Sprintf("sample %d, %s", k.n, k.host)
		if err := diagram.WriteSeriesPlotSVG(&p, diagram.SeriesPlot{Title: title, Samples: byKey[k]}); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		plotFigure(w, "plot series", title, p.Bytes())
		if !slices.ContainsFunc(byKey[k], func(s trace.Sample) bool { return s.Heap > 0 }) {
			continue // a kernel host's, or one that held nothing
		}
		p.Reset()
		title = fmt.Sprintf("sample %d, %s: memory", k.n, k.host)
		if err := diagram.WriteHeapPlotSVG(&p, diagram.SeriesPlot{Title: title, Samples: byKey[k]}); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		plotFigure(w, "plot series", title, p.Bytes())
	}
	fmt.Fprintf(w, "</section>\n")
	return nil
}

// plotFigure writes a plot as an image of its own (its ids stay its own),
// alt its text.
func plotFigure(w *bufio.Writer, class, alt string, svg []byte) {
	fmt.Fprintf(w, "<figure class=\"%s\"><img alt=\"%s\" src=\"data:image/svg+xml;base64,%s\"></figure>\n", class, esc(alt), base64.StdEncoding.EncodeToString(svg))
}

// esc makes text safe in HTML, control characters escaped.
func esc(s string) string { return html.EscapeString(trace.Printable(s)) }

const css = `body{font-family:"DejaVu Sans",Verdana,sans-serif;max-width:1400px;margin:0 auto;padding:1em 2em;color:#222;line-height:1.45}
header h1{margin-bottom:.2em}.meta{color:#555;margin-top:0}.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.4em .8em}
.stopped{background:#fdecea;border-left:4px solid #b30000;padding:.4em .8em}
pre{background:#f6f8fa;padding:.7em 1em;overflow-x:auto;font-size:13px;line-height:1.35;border-radius:4px}
pre.code{border-left:4px solid #4c78a8}pre.output{border-left:4px solid #999}
.ok{color:#1a7f37}.fail{color:#b30000;font-weight:bold}
figure{margin:1em 0;overflow-x:auto}figcaption{color:#555;font-size:13px}
.checklist{list-style:none;padding-left:0}.checklist li{margin:.5em 0}.checklist .mark{font-weight:bold}
.checklist li.ok .mark{color:#1a7f37}.checklist li.fail .mark{color:#b30000}.detail{color:#444;font-size:13px}.pos{color:#888;font-size:12px}
.scroll{overflow-x:auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em}
.plot img{max-width:100%;height:auto}nav{font-size:14px}`

// Entry is one notebook of an index page.
type Entry struct {
	// File is the report's file name, relative to the index.
	File string
	// Title and Scenario name the notebook.
	Title, Scenario string
	// Checks and Failed count its expectations.
	Checks, Failed int
	// Problem, when set, says why the notebook has no report (it is
	// malformed, or a budget stopped it).
	Problem string
}

// WriteIndex writes a page that links to each notebook's report, with its
// verdict.
func WriteIndex(out io.Writer, title string, entries []Entry) error {
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>%s</h1></header>\n<main>\n<ul class=\"checklist\">\n", esc(title), css, esc(title))
	for _, e := range entries {
		class, mark := "ok", "✓"
		if e.Failed > 0 || e.Problem != "" {
			class, mark = "fail", "✗"
		}
		fmt.Fprintf(w, "<li class=\"%s\"><span class=\"mark\">%s</span> ", class, mark)
		if e.File != "" {
			fmt.Fprintf(w, "<a href=\"%s\">%s</a>", esc(e.File), esc(e.Scenario))
		} else {
			fmt.Fprintf(w, "%s", esc(e.Scenario))
		}
		fmt.Fprintf(w, " %s<br><span class=\"detail\">", esc(e.Title))
		if e.Problem != "" {
			fmt.Fprintf(w, "%s", esc(e.Problem))
		} else {
			fmt.Fprintf(w, "%d expectations, %d failed", e.Checks, e.Failed)
		}
		fmt.Fprintf(w, "</span></li>\n")
	}
	fmt.Fprintf(w, "</ul>\n</main>\n</body>\n</html>\n")
	return w.Flush()
}
