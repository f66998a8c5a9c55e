package scenarios

import (
	"fmt"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// finalACKRule drops the client's first pure ACK after the server's FIN.
var finalACKRule = netem.Rule{
	Name:   "final ACK",
	Match:  netem.PureACK(netem.AtoB),
	After:  &netem.Match{Dir: netem.BtoA, Flags: netem.FIN},
	Action: netem.Action{Kind: netem.Drop},
}

var lostFinalACK = Scenario{
	Name:  "lost-final-ack",
	Title: "The final ACK is lost: the server retransmits its FIN and TIME-WAIT answers it",
	Claim: "TIME-WAIT's first purpose: if the active closer's last ACK is lost, the passive closer, " +
		"still in LAST-ACK, retransmits its FIN; the active closer, still in TIME-WAIT, ACKs it again " +
		"and restarts its 2×MSL timer, and the passive closer reaches CLOSED on that ACK.",
	run: func(e *env) error {
		if _, err := e.clientClosesFirst("", "", finalACKRule); err != nil {
			return err
		}
		e.lostFinalACKChecks(e.facts())
		e.note("gVisor restarts TIME-WAIT on a retransmitted FIN, as RFC 9293 §3.10.7.4 and Linux " +
			"(tcp_timewait_state_process) do; unlike Linux it does not restart it on a bare in-window ACK.")
		return nil
	},
}

func (e *env) lostFinalACKChecks(f facts) {
	tw := e.client.TimeWait()
	dropped, ok := firstOr(f.packets("client", func(r trace.Row) bool {
		return pureACK(r) && r.Fate == netem.Dropped
	}))
	e.check(ok && dropped.Rule == finalACKRule.Name, "the client's final ACK is lost", "%s", rowText(dropped, ok))

	fins := f.packets("server", hasFlags(netem.FIN))
	lastAck, okLA := firstOr(f.entered("server", sim.LastAck))
	closed, okC := firstOr(f.left("server", sim.LastAck))
	var refin trace.Row
	okRe := len(fins) >= 2 && fins[1].H.Seq == fins[0].H.Seq
	if okRe {
		refin = fins[1]
	}
	e.check(okRe && okLA && okC && refin.Sent > lastAck.At && refin.Sent < closed.At,
		"the server retransmits its FIN from LAST-ACK", "%s; server in LAST-ACK %s..%s",
		rowText(refin, okRe), trace.Seconds(lastAck.At), trace.Seconds(closed.At))

	twIn, okTW := firstOr(f.entered("client", sim.TimeWait))
	twOut, okTWo := firstOr(f.left("client", sim.TimeWait))
	reack, okRA := firstOr(f.packets("client", func(r trace.Row) bool {
		return okRe && pureACK(r) && r.Sent == refin.Delivered && r.Fate == netem.Delivered
	}))
	e.check(okRA && okTW && okTWo && reack.Sent > twIn.At && reack.Sent < twOut.At,
		"the client ACKs the retransmitted FIN from TIME-WAIT", "%s; client in TIME-WAIT %s..%s",
		rowText(reack, okRA), trace.Seconds(twIn.At), trace.Seconds(twOut.At))

	e.check(okRA && okC && closed.To == sim.Closed && closed.At == reack.Delivered,
		"the server reaches CLOSED when that ACK arrives", "LAST-ACK -> %v at %s, re-ACK arrived %s",
		closed.To, trace.Seconds(closed.At), trace.Seconds(reack.Delivered))

	var first = sim.Never
	if len(fins) > 0 {
		first = fins[0].Delivered
	}
	e.check(okRe && okTWo && twOut.At == refin.Delivered+tw,
		fmt.Sprintf("the client's TIME-WAIT ends 2×MSL (%v) after the retransmitted FIN arrived, not after the first", tw),
		"TIME-WAIT ended %s; retransmitted FIN arrived %s (+%v = %s); first FIN arrived %s (+%v = %s)",
		trace.Seconds(twOut.At), trace.Seconds(refin.Delivered), tw, trace.Seconds(refin.Delivered+tw),
		trace.Seconds(first), tw, trace.Seconds(first+tw))
}

// rowText describes a packet for a check's detail.
func rowText(r trace.Row, ok bool) string {
	if !ok {
		return "no such packet"
	}
	return fmt.Sprintf("%s sent %s, %s", r.Summary(), trace.Seconds(r.Sent), r.FateText())
}
