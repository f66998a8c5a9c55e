package trace

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/tcpsim/tcpsim/sim"
)

// Sample is one host at one instant of a sampled series (the notebook's
// sample statement): how many of its endpoints are in each state, how its
// connect calls ended during the interval that ends here, and its
// counters (cumulative, nstat's names).
type Sample struct {
	// Series numbers the notebook's sample statements from 1.
	Series int
	At     time.Duration
	Host   string
	// States counts the host's endpoints (listeners left out) by state,
	// in the order of SampledStates.
	States [len(SampledStates)]int
	// Connects are the connect calls that ended in the interval: "ok" or
	// an errno, sorted by name.
	Connects []sim.Counter
	// Counters are the host's counters at At.
	Counters []sim.Counter
	// Heap is the World's account of the heap it holds for the host's
	// connections at At (sim.Host.HeapBytes), -1 for a kernel host.
	Heap int64
}

// SampledStates are the states a sample counts.
var SampledStates = [...]sim.State{sim.SynSent, sim.SynReceived, sim.Established, sim.FinWait1, sim.FinWait2,
	sim.CloseWait, sim.Closing, sim.LastAck, sim.TimeWait}

// WriteSeriesCSV writes samples as CSV, one row per sample: series,
// t_s, host, a column per state, connects_ok and a column per errno seen
// in any sample (connects that ended in the interval), heap_bytes (empty
// for a kernel host), then every counter (cumulative). The same samples
// give the same bytes.
func WriteSeriesCSV(out io.Writer, samples []Sample) error {
	var errnos, counters []string
	for _, s := range samples {
		for _, c := range s.Connects {
			if c.Name != "ok" && !slices.Contains(errnos, c.Name) {
				errnos = append(errnos, c.Name)
			}
		}
		for _, c := range s.Counters {
			if !slices.Contains(counters, c.Name) {
				counters = append(counters, c.Name)
			}
		}
	}
	slices.Sort(errnos)
	w := csv.NewWriter(out)
	head := []string{"series", "t_s", "host"}
	for _, st := range SampledStates {
		head = append(head, st.String())
	}
	head = append(head, "connects_ok")
	for _, e := range errnos {
		head = append(head, "connects_"+e)
	}
	head = append(head, "heap_bytes")
	head = append(head, counters...)
	if err := w.Write(head); err != nil {
		return err
	}
	value := func(cs []sim.Counter, name string) string {
		v, _ := sim.CounterOf(cs, name)
		return strconv.FormatUint(v, 10)
	}
	for _, s := range samples {
		row := []string{strconv.Itoa(s.Series), Seconds(s.At), s.Host}
		for _, n := range s.States {
			row = append(row, strconv.Itoa(n))
		}
		row = append(row, value(s.Connects, "ok"))
		for _, e := range errnos {
			row = append(row, value(s.Connects, e))
		}
		heap := ""
		if s.Heap >= 0 {
			heap = strconv.FormatInt(s.Heap, 10)
		}
		row = append(row, heap)
		for _, c := range counters {
			row = append(row, value(s.Counters, c))
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("trace: series: %w", err)
	}
	return nil
}
