package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/report"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/trace"
)

// writePictures writes what --svg, --svg-dir, --series and --html ask
// for.
func writePictures(rf runFlags, res *scenarios.Result) error {
	if rf.svg != "" {
		l := res.Ladder(nil)
		if err := writeFile(rf.svg, func(w io.Writer) error { return diagram.WriteLadderSVG(w, l) }); err != nil {
			return err
		}
	}
	if rf.svgDir != "" {
		if err := os.MkdirAll(rf.svgDir, 0o755); err != nil {
			return usageError{msg: err.Error() + ": want a directory that can be created", pos: true}
		}
		for _, f := range res.Figures {
			svg, err := f.SVG()
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(rf.svgDir, f.Name+".svg"), func(w io.Writer) error {
				_, err := io.WriteString(w, svg)
				return err
			}); err != nil {
				return err
			}
		}
		if len(res.Figures) == 0 {
			fmt.Fprintf(os.Stderr, "tcpsim: %s draws no ladder; --svg FILE draws the whole run's\n", res.Scenario)
		}
	}
	if rf.series != "" {
		if err := writeFile(rf.series, func(w io.Writer) error { return trace.WriteSeriesCSV(w, res.Series) }); err != nil {
			return err
		}
	}
	if rf.html != "" {
		return writeFile(rf.html, func(w io.Writer) error { return report.WriteHTML(w, res, report.Options{}) })
	}
	return nil
}

// checkReports writes, for tcpsim check --html DIR, one page per notebook
// and an index.
type checkReports struct {
	dir     string
	entries []report.Entry
}

func (c *checkReports) add(target string, res *scenarios.Result, problem string) error {
	if c == nil {
		return nil
	}
	e := report.Entry{Scenario: target, Problem: problem}
	if res != nil {
		e.Scenario, e.Title = res.Scenario, res.Title
		e.Checks, e.Failed = len(res.Checks), len(res.Failures())
		e.File = res.Scenario + ".html"
		if err := writeFile(filepath.Join(c.dir, e.File), func(w io.Writer) error {
			return report.WriteHTML(w, res, report.Options{Index: "index.html"})
		}); err != nil {
			return err
		}
	}
	c.entries = append(c.entries, e)
	return nil
}

func (c *checkReports) finish() error {
	if c == nil {
		return nil
	}
	return writeFile(filepath.Join(c.dir, "index.html"), func(w io.Writer) error {
		return report.WriteIndex(w, "tcpsim notebooks", c.entries)
	})
}
