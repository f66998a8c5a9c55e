package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// closeAt is when the built-ins' client closes its connection.
const closeAt = 100 * time.Millisecond

var normalClose = Scenario{
	Name:  "normal-close",
	Title: "The four-way close: TIME-WAIT belongs to the side that closes first",
	Claim: "The client sends a request, reads the reply and closes first: it passes FIN-WAIT-1, " +
		"FIN-WAIT-2 and TIME-WAIT, which lasts 2×MSL; the server, which closes second, passes " +
		"CLOSE-WAIT and LAST-ACK and never holds TIME-WAIT.",
	run: func(e *env) error {
		c, err := e.clientClosesFirst("hello", "world")
		if err != nil {
			return err
		}
		f := e.facts()
		tw := e.client.TimeWait()

		want := []sim.State{sim.SynSent, sim.Established, sim.FinWait1, sim.FinWait2, sim.TimeWait, sim.Closed}
		got := f.visited("client")
		e.check(slices.Equal(got, want), "the client, closing first, passes FIN-WAIT-1, FIN-WAIT-2 and TIME-WAIT",
			"client states: %v", got)
		got = f.visited("server")
		e.check(slices.Contains(got, sim.CloseWait) && slices.Contains(got, sim.LastAck) && !slices.Contains(got, sim.TimeWait),
			"the server, closing second, passes CLOSE-WAIT and LAST-ACK and never enters TIME-WAIT", "server states: %v", got)
		e.checkFourWay(f)
		e.checkTimeWaitLength(f, "client", tw)
		e.check(string(c.Received()) == "world", "the reply arrives before the close", "client read %q", c.Received())
		return nil
	},
}

// clientClosesFirst runs the built-ins' basic exchange to the end: a link
// with rules, a server that answers reply (if any) and closes on EOF, and a
// client that sends request (if any) once connected and closes at closeAt.
func (e *env) clientClosesFirst(request, reply string, rules ...netem.Rule) (*sim.Socket, error) {
	if err := e.link(rules...); err != nil {
		return nil, err
	}
	if _, err := e.echoServer(reply); err != nil {
		return nil, err
	}
	c, err := e.client.Connect(serverAP, sim.SocketOptions{})
	if err != nil {
		return nil, err
	}
	if request != "" {
		c.OnConnect = func(c *sim.Socket) { _, _ = c.Send([]byte(request)) }
	}
	e.w.At(closeAt, func() { _ = c.Close() })
	return c, e.w.Run()
}

// checkFourWay checks that the close took FIN, ACK, FIN, ACK in that order.
func (e *env) checkFourWay(f facts) {
	var seq []string
	for _, r := range f.rows {
		if r.Sent < closeAt || !r.TCP {
			continue
		}
		seq = append(seq, fmt.Sprintf("%s [%v]", r.From, r.H.Flags))
	}
	want := []string{"client [F.]", "server [.]", "server [F.]", "client [.]"}
	e.check(slices.Equal(seq, want), "the close takes four segments: client FIN, server ACK, server FIN, client ACK",
		"segments from %s on: %v", trace.Seconds(closeAt), seq)
}

// checkTimeWaitLength checks that host's (first) TIME-WAIT lasted exactly tw.
func (e *env) checkTimeWaitLength(f facts, host string, tw time.Duration) {
	in, ok1 := firstOr(f.entered(host, sim.TimeWait))
	out, ok2 := firstOr(f.left(host, sim.TimeWait))
	e.check(ok1 && ok2 && out.At-in.At == tw, fmt.Sprintf("the %s's TIME-WAIT lasts 2×MSL = %v", host, tw),
		"entered %s, left %s: %v", trace.Seconds(in.At), trace.Seconds(out.At), out.At-in.At)
}

var simultaneousClose = Scenario{
	Name:  "simultaneous-close",
	Title: "Simultaneous close: both sides pass CLOSING and both hold TIME-WAIT",
	Claim: "Client and server close at the same instant; their FINs cross in flight. Each receives the " +
		"other's FIN in FIN-WAIT-1, answers it and moves to CLOSING, then to TIME-WAIT on the ACK of " +
		"its own FIN: both sides hold TIME-WAIT for 2×MSL (RFC 9293 §3.6, figure 13).",
	run: func(e *env) error {
		if err := e.link(); err != nil {
			return err
		}
		l, err := e.server.Listen(serverPort, sim.SocketOptions{})
		if err != nil {
			return err
		}
		c, err := e.client.Connect(serverAP, sim.SocketOptions{})
		if err != nil {
			return err
		}
		e.w.At(closeAt, func() {
			_ = c.Close()
			for _, a := range l.Accepted() {
				_ = a.Close()
			}
		})
		if err := e.w.Run(); err != nil {
			return err
		}
		f := e.facts()
		for _, host := range []string{"client", "server"} {
			got := f.visited(host)
			i := slices.Index(got, sim.FinWait1)
			e.check(i >= 0 && i+2 < len(got) && got[i+1] == sim.Closing && got[i+2] == sim.TimeWait,
				fmt.Sprintf("the %s goes FIN-WAIT-1 -> CLOSING -> TIME-WAIT", host), "%s states: %v", host, got)
		}
		fins := f.packets("client", hasFlags(netem.FIN))
		sfins := f.packets("server", hasFlags(netem.FIN))
		crossed := len(fins) > 0 && len(sfins) > 0 && fins[0].Sent < sfins[0].Delivered && sfins[0].Sent < fins[0].Delivered
		e.check(crossed, "the two FINs cross in flight", "client FIN sent %s, server FIN sent %s, one-way delay %v",
			sentOf(fins), sentOf(sfins), oneWay)
		e.checkTimeWaitLength(f, "client", e.client.TimeWait())
		e.checkTimeWaitLength(f, "server", e.server.TimeWait())
		return nil
	},
}

func sentOf(rows []trace.Row) string {
	if len(rows) == 0 {
		return "never"
	}
	return trace.Seconds(rows[0].Sent)
}
