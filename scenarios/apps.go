package scenarios

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// listenSpec is how a listener's accepted connections behave.
type listenSpec struct {
	reply           string // sent once, after the first bytes arrive
	http            bool   // answer HTTP/1.1 requests
	body            int    // HTTP response body size
	keepOpen        bool   // never close, even on EOF
	closeAfterReply bool   // close right after sending the reply
	opts            sim.SocketOptions
}

// name returns the socket name of as=NAME, or def when there is none. An
// explicit name must be a word no socket, host or hop has; a default name
// never takes an explicit one over (see freeName).
func (in *interp) name(st stmt, o options, def string) (string, error) {
	t, ok := o.kv["as"]
	if !ok {
		return def, nil
	}
	if t.text == "" || strings.ContainsAny(t.text, ":>#/") || !printableWord(t.text) {
		return "", in.errAt(st, t, "socket name %q: want a word of printable characters with no : > # / or blank", t.text)
	}
	if in.w.Node(t.text) != nil {
		return "", in.errAt(st, t, "socket name %q: taken by a host or hop (%s)", t.text, in.nodeNames())
	}
	if in.named(t.text) != nil {
		return "", in.errAt(st, t, "socket name %q is taken (sockets so far: %s)", t.text, in.sockNames())
	}
	return t.text, nil
}

// printableWord reports whether s is a word a terminal shows as it is: no
// blank, no control character, no bidirectional override.
func printableWord(s string) bool {
	return s != "" && trace.Printable(s) == s && !strings.ContainsFunc(s, unicode.IsSpace)
}

// freeName returns the first of prefix1, prefix2, ... from n on that no
// socket, host or hop has, and the number it used.
func (in *interp) freeName(prefix string, n int) (string, int) {
	for ; ; n++ {
		name := fmt.Sprintf("%s%d", prefix, n)
		if in.socks[name] == nil && in.w.Node(name) == nil {
			return name, n
		}
	}
}

// socketOptions reads the options every socket may take.
func (in *interp) socketOptions(st stmt, o options) (sim.SocketOptions, error) {
	var so sim.SocketOptions
	for _, w := range o.words {
		switch w.text {
		case "reuseaddr":
			so.ReuseAddr = true
		case "no-read":
			so.NoAutoRead = true
		}
	}
	if t, ok := o.kv["linger"]; ok {
		d, err := in.duration(st, t, "linger")
		if err != nil {
			return so, err
		}
		so.Linger, so.LingerTimeout = true, d
	}
	if t, ok := o.kv["from"]; ok {
		p, err := in.port(st, t)
		if err != nil {
			return so, err
		}
		so.LocalPort = p
	}
	if t, ok := o.kv["addr"]; ok {
		a, err := netip.ParseAddr(t.text)
		if err != nil || (a != sim.Loopback && !in.isHostAddr(a)) {
			return so, in.errAt(st, t, "addr %q: want the host's address or %v", t.text, sim.Loopback)
		}
		so.LocalAddr = a
	}
	return so, nil
}

// isHostAddr reports whether a is one of the notebook's hosts' addresses.
func (in *interp) isHostAddr(a netip.Addr) bool {
	for _, h := range in.w.Hosts() {
		if h.Addr() == a {
			return true
		}
	}
	return false
}

func (in *interp) callResult(op, name string, err error) {
	in.last = lastCall{op: op, err: err}
	if err != nil {
		in.printf("%s %s: %v\n", op, name, err)
	}
}

// cmdListen: listen HOST PORT [as NAME] [addr=IP] [reuseaddr] [linger=D]
// [no-read] [reply="..."] [http] [body=N] [keep-open].
func (in *interp) cmdListen(st stmt, args []token) error {
	o, err := in.options(st, args, "as", "addr", "linger", "reply", "body")
	if err != nil {
		return err
	}
	var words []token
	spec := &listenSpec{body: 100}
	for _, w := range o.words {
		switch w.text {
		case "reuseaddr", "no-read":
		case "http":
			spec.http = true
		case "keep-open":
			spec.keepOpen = true
		case "close-after-reply":
			spec.closeAfterReply = true
		default:
			words = append(words, w)
		}
	}
	if len(words) != 2 {
		return in.errEnd(st, "listen takes a host and a port: listen HOST PORT [as NAME] [addr=IP] [reuseaddr] [linger=D] [no-read] [reply=\"...\" [close-after-reply]] [http] [body=N] [keep-open]")
	}
	h, err := in.host(st, words[0])
	if err != nil {
		return err
	}
	port, err := in.port(st, words[1])
	if err != nil {
		return err
	}
	name, err := in.name(st, o, fmt.Sprintf("%s:%d", h.Name(), port))
	if err != nil {
		return err
	}
	if in.named(name) != nil {
		name = fmt.Sprintf("%s:%d@%s", h.Name(), port, strings.TrimSuffix(fmt.Sprint(in.w.Now()), "0s"))
	}
	if spec.opts, err = in.socketOptions(st, o); err != nil {
		return err
	}
	if t, ok := o.kv["reply"]; ok {
		spec.reply = t.text
	}
	if t, ok := o.kv["body"]; ok {
		if spec.body, err = in.size(st, t, "body"); err != nil {
			return err
		}
	}
	l, err := h.Listen(port, spec.opts)
	in.callResult("listen", name, err)
	if err != nil {
		return nil
	}
	lk := in.record(name, h, l, spec)
	l.OnAccept = func(c *sim.Socket) {
		lk.naccept++
		in.accepted(fmt.Sprintf("%s/%d", name, lk.naccept), h, c, lk)
		in.serveAccepted(c, spec)
	}
	return nil
}

// serveAccepted gives an accepted connection its listener's behaviour.
func (in *interp) serveAccepted(c *sim.Socket, spec *listenSpec) {
	var req []byte
	replied := false
	c.OnData = func(c *sim.Socket, p []byte) {
		switch {
		case spec.http:
			// Only the new bytes (and the three before them, where a
			// blank line may start) can end a request's header.
			from := max(0, len(req)-3)
			req = append(req, p...)
			for {
				end := bytes.Index(req[from:], []byte("\r\n\r\n"))
				if end < 0 {
					return
				}
				end += from
				head := string(req[:end])
				req, from = req[end+4:], 0
				closeAfter := strings.Contains(strings.ToLower(head), "\r\nconnection: close")
				resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n", spec.body)
				if closeAfter {
					resp += "Connection: close\r\n"
				}
				_, _ = c.Send(append([]byte(resp+"\r\n"), bytes.Repeat([]byte("x"), spec.body)...))
				if closeAfter && !spec.keepOpen {
					_ = c.Close()
					return
				}
			}
		case spec.reply != "" && !replied:
			replied = true
			_, _ = c.Send([]byte(spec.reply))
			if spec.closeAfterReply {
				_ = c.Close()
			}
		}
	}
	if !spec.keepOpen {
		c.OnEOF = func(c *sim.Socket) { _ = c.Close() }
	}
}

// cmdConnect: connect HOST TARGET [as NAME] [from=PORT] [reuseaddr]
// [linger=D] [no-read].
func (in *interp) cmdConnect(st stmt, args []token) error {
	o, err := in.options(st, args, "as", "from", "linger")
	if err != nil {
		return err
	}
	var words []token
	for _, w := range o.words {
		if w.text != "reuseaddr" && w.text != "no-read" {
			words = append(words, w)
		}
	}
	if len(words) != 2 {
		return in.errEnd(st, "connect takes a host and a target: connect HOST HOST:PORT [as NAME] [from=PORT] [reuseaddr] [linger=D] [no-read]")
	}
	h, err := in.host(st, words[0])
	if err != nil {
		return err
	}
	target, err := in.addrPort(st, words[1])
	if err != nil {
		return err
	}
	def, n := in.freeName("c", in.nconn+1)
	name, err := in.name(st, o, def)
	if err != nil {
		return err
	}
	if name == def {
		in.nconn = n
	}
	so, err := in.socketOptions(st, o)
	if err != nil {
		return err
	}
	s, err := h.Connect(target, so)
	in.callResult("connect", name, err)
	if err != nil {
		// The name stays defined, for expect NAME error ERRNO and for
		// statements that then fail as they would on a closed socket.
		s = h.FailedSocket(err)
	}
	in.record(name, h, s, nil)
	return nil
}

// payload reads "text" or a byte count.
func (in *interp) payload(st stmt, t token) ([]byte, error) {
	if t.quoted {
		return []byte(t.text), nil
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 || n > maxBytes {
		return nil, in.errAt(st, t, "payload %q: want a quoted string or a byte count from 0 to %d (16 MiB)", t.text, maxBytes)
	}
	return bytes.Repeat([]byte("x"), n), nil
}

func (in *interp) cmdSend(st stmt, args []token) error {
	if len(args) != 2 {
		return in.errEnd(st, `send takes a socket and a payload: send SOCK "text" or send SOCK N`)
	}
	sk, err := in.sock(st, args[0])
	if err != nil {
		return err
	}
	p, err := in.payload(st, args[1])
	if err != nil {
		return err
	}
	if _, err := sk.s.Send(p); err != nil {
		in.printf("send %s: %v\n", sk.name, err)
	}
	return nil
}

func (in *interp) cmdClose(st stmt, args []token) error {
	if len(args) != 1 {
		return in.errEnd(st, "close takes a socket")
	}
	sk, err := in.sock(st, args[0])
	if err != nil {
		return err
	}
	if err := sk.s.Close(); err != nil {
		in.printf("close %s: %v\n", sk.name, err)
	}
	return nil
}

func (in *interp) cmdShutdown(st stmt, args []token) error {
	if len(args) < 1 || len(args) > 2 {
		return in.errEnd(st, "shutdown takes a socket and optionally write, read or both")
	}
	sk, err := in.sock(st, args[0])
	if err != nil {
		return err
	}
	read, write := false, true
	if len(args) == 2 {
		switch args[1].text {
		case "write":
		case "read":
			read, write = true, false
		case "both":
			read = true
		default:
			return in.errAt(st, args[1], "shutdown %q: want write, read or both", args[1].text)
		}
	}
	if err := sk.s.Shutdown(read, write); err != nil {
		in.printf("shutdown %s: %v\n", sk.name, err)
	}
	return nil
}

// cmdWorkload: workload CLIENT TARGET n=N [rate=R/s | concurrency=C]
// [per-conn=K] [mode=close|keep-alive] makes N HTTP/1.1 requests, K on
// each connection (default 1), one after the other. Open loop (rate): a
// new connection every K/R seconds, whatever the earlier ones do; closed
// loop (concurrency): C connections at a time, each replaced when it ends.
// With mode=close the last request of a connection says "Connection:
// close" and the server closes first; with keep-alive the client closes
// once it has the last response.
func (in *interp) cmdWorkload(st stmt, args []token) error {
	o, err := in.options(st, args, "n", "rate", "mode", "per-conn", "concurrency", "ramp")
	if err != nil {
		return err
	}
	usage := "workload CLIENT|CLIENT[A-B] HOST:PORT n=N [rate=R/s [ramp=D] | concurrency=C] [per-conn=K] [mode=close|keep-alive]"
	if len(o.words) != 2 {
		return in.errEnd(st, "workload takes a client (or a range of them) and a target: %s", usage)
	}
	clients, err := in.hostList(st, o.words[0])
	if err != nil {
		return err
	}
	target, err := in.addrPort(st, o.words[1])
	if err != nil {
		return err
	}
	if l := in.listenerAt(target); l != nil && !l.listener.http {
		return in.errAt(st, o.words[1], "%v is %s, which does not speak HTTP: want a listener with http (listen HOST PORT http)", target, l.name)
	}
	nt, ok := o.kv["n"]
	if !ok {
		return in.errEnd(st, "workload needs n=N, the number of requests")
	}
	n, err := in.count(st, nt, "n")
	if err != nil {
		return err
	}
	if n > 10_000_000 {
		return in.errAt(st, nt, "n %d: want at most 10000000 requests", n)
	}
	perConn := 1
	if t, ok := o.kv["per-conn"]; ok {
		if perConn, err = in.count(st, t, "per-conn"); err != nil || perConn < 1 || perConn > 1_000_000 {
			return in.errAt(st, t, "per-conn %q: want 1 to 1000000 requests per connection", t.text)
		}
	}
	gap, concurrency := time.Duration(0), 0
	connRate := 0.0 // connections a second, open loop
	if t, ok := o.kv["rate"]; ok {
		r, err := strconv.ParseFloat(strings.TrimSuffix(t.text, "/s"), 64)
		if err != nil || r <= 0 || r > 1e9 {
			return in.errAt(st, t, "rate %q: want requests per second, e.g. 100/s", t.text)
		}
		gap = time.Duration(float64(time.Second) * float64(perConn) / r)
		connRate = r / float64(perConn)
	}
	var ramp time.Duration
	if t, ok := o.kv["ramp"]; ok {
		if _, open := o.kv["rate"]; !open {
			return in.errAt(st, t, "ramp needs rate=R/s: the rate rises from 0 to R over the ramp")
		}
		if ramp, err = in.duration(st, t, "ramp"); err != nil {
			return err
		}
		if ramp <= 0 || ramp > 24*time.Hour {
			return in.errAt(st, t, "ramp %q: want a duration above 0 and at most 24h", t.text)
		}
	}
	if t, ok := o.kv["concurrency"]; ok {
		if _, both := o.kv["rate"]; both {
			return in.errAt(st, t, "workload takes rate= (open loop) or concurrency= (closed loop), not both")
		}
		if concurrency, err = in.count(st, t, "concurrency"); err != nil || concurrency < 1 || concurrency > 100_000 {
			return in.errAt(st, t, "concurrency %q: want 1 to 100000 connections at a time", t.text)
		}
	}
	keepAlive := false
	if t, ok := o.kv["mode"]; ok {
		switch t.text {
		case "close":
		case "keep-alive":
			keepAlive = true
		default:
			return in.errAt(st, t, "mode %q: want close or keep-alive", t.text)
		}
	}
	wl := &workload{clients: clients, target: target, n: n, perConn: perConn, gap: gap, ramp: ramp, connRate: connRate, concurrency: concurrency, keepAlive: keepAlive}
	if err := wl.start(in.w); err != nil {
		return in.errAt(st, o.words[0], "%v", err)
	}
	in.workloads = append(in.workloads, wl)
	mode := "Connection: close (the server closes first)"
	if keepAlive {
		mode = "keep-alive (the client closes first)"
	}
	pace := fmt.Sprintf("a connection every %v", gap)
	if ramp > 0 {
		pace = fmt.Sprintf("the rate rising from 0 to a connection every %v over %v", gap, ramp)
	}
	if concurrency > 0 {
		pace = fmt.Sprintf("%d connections at a time", concurrency)
	}
	in.printf("workload: %d requests from %s to %v, %d per connection, %s, %s\n", n, hostsText(o.words[0], clients), target, perConn, pace, mode)
	return nil
}

// listenerAt returns the notebook's listener at target, if it has one.
func (in *interp) listenerAt(target netip.AddrPort) *sock {
	for _, sk := range in.order {
		if sk.listener != nil && sk.s.Local().Port() == target.Port() && (sk.host.Addr() == target.Addr() || sk.s.Local().Addr() == target.Addr()) {
			return sk
		}
	}
	return nil
}

// rampAt is when connection k (from 0) of an open loop whose rate rises
// linearly from 0 to r connections a second over ramp, then stays at r,
// starts: the time by which the rate's integral, r·t²/(2·ramp), reaches k
// (k/r - ramp/2 + ramp after the ramp's r·ramp/2 connections). Times are
// exact functions of k: no error accumulates over a million connections.
func rampAt(k int, r float64, ramp time.Duration) time.Duration {
	d := ramp.Seconds()
	if during := r * d / 2; float64(k) < during {
		return time.Duration(math.Sqrt(2*d*float64(k)/r) * float64(time.Second))
	}
	return time.Duration((float64(k)/r + d/2) * float64(time.Second))
}
