package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/tcpsim/tcpsim/sim"
)

// WriteReport writes a run for a person: a header, the packet trace, the
// ladder between the first two hosts, the verdict of each check and the
// notes on where gVisor and Linux differ.
func WriteReport(out io.Writer, r Report) error {
	w := bufio.NewWriter(out)
	wd := r.World
	fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.Title)
	fmt.Fprintf(w, "seed %d, %s, %d events, ended at %s s\n", wd.Seed(), sim.StackVersion(), wd.Events(), Seconds(wd.Now()))
	hosts := wd.Hosts()
	for _, h := range hosts {
		fmt.Fprintf(w, "  host %-8s %-10v MSL %v (TIME-WAIT %v), behaviour: gvisor\n", h.Name(), h.Addr(), h.MSL(), h.TimeWait())
	}
	for _, l := range wd.Links() {
		ab, ba := l.Path(l.A()), l.Path(l.B())
		fmt.Fprintf(w, "  link %s-%s: %v / %v one way\n", l.A().Name(), l.B().Name(), ab.Delay, ba.Delay)
	}
	fmt.Fprintf(w, "\n== packets\n")
	if err := WriteText(w, wd.Packets()); err != nil {
		return err
	}
	if len(hosts) >= 2 {
		fmt.Fprintf(w, "\n== ladder\n")
		if err := WriteLadder(w, hosts[0].Name(), hosts[1].Name(), Rows(wd.Packets()), wd.Transitions()); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n== checks\n")
	for _, c := range r.Checks {
		verdict := "PASS"
		if !c.OK {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s\n", verdict, c.Text)
		if c.Detail != "" {
			fmt.Fprintf(w, "      %s\n", c.Detail)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\n== gVisor and Linux\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", strings.TrimSpace(n))
		}
	}
	return w.Flush()
}
