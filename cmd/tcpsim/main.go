// Command tcpsim runs TCP teardown scenarios on gVisor network stacks over a
// simulated link, on a virtual clock, deterministically.
//
// Usage:
//
//	tcpsim list
//	tcpsim run NAME [--seed N] [--msl DURATION] [--pcap FILE] [--json]
//
// Exit status: 0 when every check of the scenario holds, 1 when one fails or
// the run stops on a budget, 2 for bad usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `usage:
  tcpsim list                      list the built-in scenarios
  tcpsim run NAME [flags]          run one and check its claims

flags of run:
  --seed N          seed of every random stream (default 0)
  --msl DURATION    maximum segment lifetime of both hosts; TIME-WAIT is 2×MSL (default 30s)
  --pcap FILE       write the packets to FILE (pcap, LINKTYPE_RAW, nanoseconds)
  --json            print one JSON document (docs/json.md) instead of text
  --max-time D      virtual-time budget (default 24h)
  --max-events N    event budget (default 50000000)
`

// usageError is bad usage: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	err := dispatch(args, stdout)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "tcpsim: %v\n\n%s", err, usage)
		return 2
	case errors.Is(err, errChecksFailed):
		return 1
	default:
		fmt.Fprintf(stderr, "tcpsim: %v\n", err)
		return 1
	}
}

var errChecksFailed = errors.New("a check failed")

func dispatch(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command: want list or run"}
	}
	switch args[0] {
	case "list":
		if len(args) > 1 {
			return usageError{fmt.Sprintf("list takes no arguments, got %q", strings.Join(args[1:], " "))}
		}
		for _, s := range scenarios.List() {
			fmt.Fprintf(stdout, "%-20s %s\n", s.Name, s.Title)
		}
		return nil
	case "run":
		return runScenario(args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q: want list or run", args[0])}
}

type runFlags struct {
	name string
	cfg  scenarios.Config
	pcap string
	json bool
}

func parseRun(args []string) (runFlags, error) {
	var rf runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	seed := fs.String("seed", "0", "")
	msl := fs.String("msl", "", "")
	maxTime := fs.String("max-time", "", "")
	maxEvents := fs.String("max-events", "", "")
	fs.StringVar(&rf.pcap, "pcap", "", "")
	fs.BoolVar(&rf.json, "json", false, "")
	// Accept flags before and after the scenario name.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return rf, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return rf, usageError{fmt.Sprintf("run takes one scenario name, got %d: want one of %s", len(pos), strings.Join(scenarios.Names(), ", "))}
	}
	rf.name = pos[0]
	if _, err := scenarios.Lookup(rf.name); err != nil {
		return rf, usageError{err.Error()}
	}
	var err error
	if rf.cfg.Seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return rf, usageError{fmt.Sprintf("--seed %q: want a whole number from 0 to %d", *seed, uint64(1<<64-1))}
	}
	if *msl != "" {
		if rf.cfg.MSL, err = positiveDuration("--msl", *msl); err != nil {
			return rf, err
		}
	}
	if *maxTime != "" {
		if rf.cfg.MaxTime, err = positiveDuration("--max-time", *maxTime); err != nil {
			return rf, err
		}
	}
	if *maxEvents != "" {
		n, err := strconv.ParseInt(*maxEvents, 10, 64)
		if err != nil || n <= 0 {
			return rf, usageError{fmt.Sprintf("--max-events %q: want a whole number above 0", *maxEvents)}
		}
		rf.cfg.MaxEvents = n
	}
	return rf, nil
}

func positiveDuration(flag, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, usageError{fmt.Sprintf("%s %q: want a positive duration such as 30s, 500ms or 2m", flag, v)}
	}
	return d, nil
}

func runScenario(args []string, stdout io.Writer) error {
	rf, err := parseRun(args)
	if err != nil {
		return err
	}
	res, err := scenarios.Run(rf.name, rf.cfg)
	if err != nil {
		var be *sim.BudgetError
		if errors.As(err, &be) {
			return fmt.Errorf("%v (raise it with --max-time or --max-events)", err)
		}
		return err
	}
	defer res.Close()
	if rf.pcap != "" {
		if err := writePcap(rf.pcap, res.World.Packets()); err != nil {
			return err
		}
	}
	if rf.json {
		if err := trace.WriteJSON(stdout, res.Report); err != nil {
			return err
		}
	} else if err := trace.WriteReport(stdout, res.Report); err != nil {
		return err
	}
	if !res.Passed() {
		return errChecksFailed
	}
	return nil
}

func writePcap(path string, pkts []sim.Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.WritePcap(f, pkts); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
