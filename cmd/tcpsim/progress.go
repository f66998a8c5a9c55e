package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tcpsim/tcpsim/trace"
)

// progress prints a run's progress on one line of stderr, rewritten in
// place: the virtual time, the events per second of wall time, and how
// long the running `run D` statement still needs at that pace. It is the
// command's, the one place here that reads the wall clock for the user.
type progress struct {
	out     io.Writer
	start   time.Time // wall
	last    time.Time // wall, of the last line
	lastEv  int64
	printed bool
	// after is how long a run goes on before the first line: a short
	// run prints nothing.
	after time.Duration
	clock func() time.Time
}

func newProgress(out io.Writer, clock func() time.Time) *progress {
	now := clock()
	return &progress{out: out, start: now, last: now, after: time.Second, clock: clock}
}

// update is sim.Options.Progress.
func (p *progress) update(now, until time.Duration, events int64) {
	wall := p.clock()
	if wall.Sub(p.start) < p.after || wall.Sub(p.last) < 250*time.Millisecond {
		return
	}
	rate := float64(events-p.lastEv) / wall.Sub(p.last).Seconds()
	line := fmt.Sprintf("tcpsim: t=%s s, %d events, %.0f events/s", trace.Seconds(now), events, rate)
	if until > now {
		// The pace of virtual time since the start gives the ETA of the
		// running statement.
		if pace := now.Seconds() / wall.Sub(p.start).Seconds(); pace > 0 {
			eta := time.Duration((until - now).Seconds() / pace * float64(time.Second)).Round(time.Second)
			line += fmt.Sprintf(", this run ends at %s s in about %v", trace.Seconds(until), eta)
		}
	}
	fmt.Fprintf(p.out, "\r%-100s", line)
	p.last, p.lastEv, p.printed = wall, events, true
}

// done ends the line, when one was printed.
func (p *progress) done() {
	if p.printed {
		fmt.Fprintf(p.out, "\r%-100s\r", "")
	}
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
