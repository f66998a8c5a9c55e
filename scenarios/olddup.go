package scenarios

import (
	"bytes"
	"fmt"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// isnPeriod is how long gVisor's (and Linux's) ISN clock takes to wrap: the
// ISN of a tuple is a keyed hash of the tuple plus the time in 64 ns ticks,
// so it repeats every 2^32 × 64 ns (gVisor tcp/connect.go
// generateSecureISN; Linux net/core/secure_seq.c seq_scale).
const isnPeriod = time.Duration(1<<32) * 64 * time.Nanosecond

// The old-duplicate timeline: connection 1 at 0, connection 2 on the same
// tuple one ISN period later, the held segment arriving 100 ms into it and
// the client's own data 200 ms into it.
const (
	clientPort = 40000
	conn2At    = isnPeriod
	releaseAt  = conn2At + 100*time.Millisecond
	newDataAt  = conn2At + 200*time.Millisecond
	conn2Close = conn2At + time.Second
	oldPayload = "old"
	newPayload = "new"
)

var oldDuplicate = Scenario{
	Name:  "old-duplicate",
	Title: "A delayed duplicate of an old incarnation meets the next one on the same 4-tuple",
	Claim: "TIME-WAIT's second purpose: a segment of connection 1 delayed in the network must not be " +
		"accepted by connection 2 on the same 4-tuple. The network holds connection 1's first data " +
		"segment (\"old\"; TCP retransmits it) and releases it " + fmt.Sprint(releaseAt-conn2At) +
		" into connection 2, opened " + trace.Seconds(isnPeriod) + " s later, when the ISN clock has " +
		"wrapped so both incarnations start at the same sequence number. While TIME-WAIT (2×MSL) lasts, " +
		"connection 2 cannot be opened and the old segment is harmless; when TIME-WAIT is shorter than " +
		"the segment's delay, the old bytes land in connection 2's stream in place of the new ones.",
	run: func(e *env) error {
		hold := netem.Rule{
			Name:   "delay the old segment",
			Match:  netem.Match{Dir: netem.AtoB, Payload: netem.WithPayload, Contains: []byte(oldPayload)},
			Action: netem.Action{Kind: netem.Hold, Until: releaseAt},
		}
		if err := e.link(hold); err != nil {
			return err
		}
		l, err := e.echoServer("")
		if err != nil {
			return err
		}
		opts := sim.SocketOptions{LocalPort: clientPort}
		c1, err := e.client.Connect(serverAP, opts)
		if err != nil {
			return err
		}
		c1.OnConnect = func(c *sim.Socket) { _, _ = c.Send([]byte(oldPayload)) }
		e.w.At(closeAt+time.Second, func() { _ = c1.Close() })

		var c2 *sim.Socket
		var c2err error
		e.w.At(conn2At, func() {
			c2, c2err = e.client.Connect(serverAP, opts)
			if c2err != nil {
				return
			}
			e.w.At(newDataAt, func() { _, _ = c2.Send([]byte(newPayload)) })
			e.w.At(conn2Close, func() { _ = c2.Close() })
		})
		if err := e.w.Run(); err != nil {
			return err
		}
		e.oldDuplicateChecks(l, c2, c2err)
		return nil
	},
}

func (e *env) pawsNote() {
	e.note("Linux would reject the old segment in connection 2 even with a short TIME-WAIT: its TSval "+
		"is %s s older than connection 2's, and Linux applies PAWS (RFC 7323 §5, tcp_paws_discard in "+
		"net/ipv4/tcp_input.c). gVisor does not implement PAWS, so here only TIME-WAIT protects the new "+
		"connection.", trace.Seconds(isnPeriod))
}

func (e *env) oldDuplicateChecks(l, c2 *sim.Socket, c2err error) {
	f := e.facts()
	tw := e.client.TimeWait()
	tuple := fmt.Sprintf("%v:%d > %v", clientAddr, clientPort, serverAP)

	held, okH := firstOr(f.packets("client", func(r trace.Row) bool { return r.Fate == netem.Held }))
	e.check(okH && held.Delivered == releaseAt && bytes.Equal(held.Data[held.H.PayloadOff:], []byte(oldPayload)),
		fmt.Sprintf("the network holds connection 1's first %q segment for %s s", oldPayload, trace.Seconds(releaseAt-held.Sent)),
		"%s", rowText(held, okH))

	twEnd, okTW := firstOr(f.left("client", sim.TimeWait))
	if c2err != nil || c2 == nil {
		e.check(sim.Errno(c2err) == "EADDRINUSE" && okTW && twEnd.At > conn2At,
			fmt.Sprintf("connection 2 (%s) cannot start while connection 1's TIME-WAIT (2×MSL = %v) holds the tuple", tuple, tw),
			"connect at %s: %v; TIME-WAIT ends %s", trace.Seconds(conn2At), c2err, trace.Seconds(twEnd.At))
		rst, okR := firstOr(f.packets("server", func(r trace.Row) bool {
			return r.H.Flags&netem.RST != 0 && okH && r.Sent == held.Delivered
		}))
		e.check(okR, "the released old segment meets no connection: the server answers it with RST",
			"%s", rowText(rst, okR))
		twIn, _ := firstOr(f.entered("client", sim.TimeWait))
		e.check(okR && okTW && rst.Delivered < twEnd.At && twEnd.At == twIn.At+tw,
			"the client's TIME-WAIT ignores that RST and ends on time (RFC 1337)",
			"RST arrived %s; TIME-WAIT %s..%s", trace.Seconds(rst.Delivered), trace.Seconds(twIn.At), trace.Seconds(twEnd.At))
		e.note("gVisor always ignores RST in TIME-WAIT (RFC 1337). Linux with its default " +
			"net.ipv4.tcp_rfc1337=0 would let this RST end TIME-WAIT early (tcp_timewait_state_process " +
			"in net/ipv4/tcp_minisocks.c), freeing the tuple before 2×MSL.")
		return
	}

	e.check(okTW && twEnd.At <= conn2At,
		fmt.Sprintf("connection 2 (%s) opens because connection 1's TIME-WAIT (2×MSL = %v) is over", tuple, tw),
		"TIME-WAIT ended %s, connect at %s", trace.Seconds(twEnd.At), trace.Seconds(conn2At))

	syns := f.packets("client", func(r trace.Row) bool { return r.H.Flags == netem.SYN })
	e.check(len(syns) == 2 && syns[0].H.Seq == syns[1].H.Seq,
		fmt.Sprintf("both incarnations start at the same ISN: the 64 ns ISN clock wrapped after %s s", trace.Seconds(isnPeriod)),
		"client SYNs: %s", isns(syns))

	e.pawsNote()
	acc := l.Accepted()
	var got []byte
	if len(acc) >= 2 {
		got = acc[1].Received()
	}
	e.check(bytes.Equal(got, []byte(oldPayload)),
		fmt.Sprintf("the released old segment lands in connection 2: the server reads %q where the client sent %q", oldPayload, newPayload),
		"connection 2's server stream: %q; client sent %q", got, newPayload)
}

func isns(rows []trace.Row) string {
	var b bytes.Buffer
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "#%d at %s seq %d", r.ID, trace.Seconds(r.Sent), r.H.Seq)
	}
	return b.String()
}
