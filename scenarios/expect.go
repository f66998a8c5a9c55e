package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// expectation is one expect statement: where it stands, what it says, and
// how to judge it once the notebook has run.
type expectation struct {
	file      string
	line, col int
	src       string
	eval      func() (bool, string)
	// missing, when set, reports a subject that never existed in the run:
	// the expectation is malformed, not false.
	missing func() string
	ok      bool
	detail  string
}

// Pos returns FILE:LINE:COL.
func (e *expectation) Pos() string { return fmt.Sprintf("%s:%d:%d", e.file, e.line, e.col) }

// subject is what a state expectation is about: a named socket, or a host's
// connections (optionally only those with a local and a remote address).
type subject struct {
	sock          *sock
	host          *sim.Host
	local, remote netip.AddrPort
}

func (s subject) desc() string {
	if s.sock != nil {
		return s.sock.name
	}
	d := s.host.Name()
	if s.local.IsValid() {
		d += " " + s.local.String()
	}
	if s.remote.IsValid() {
		d += " " + s.remote.String()
	}
	return d
}

// subject reads SOCK, or HOST [LOCAL [REMOTE]], and returns the rest.
func (in *interp) subject(st stmt, toks []token) (subject, []token, error) {
	if len(toks) == 0 {
		return subject{}, nil, in.errEnd(st, "want a socket or a host")
	}
	if sk := in.socks[toks[0].text]; sk != nil {
		return subject{sock: sk}, toks[1:], nil
	}
	h := in.hosts[toks[0].text]
	if h == nil {
		return subject{}, nil, in.errAt(st, toks[0], "unknown socket or host %q: want a socket (%s) or a host (%s)", toks[0].text, in.sockNames(), in.hostNames())
	}
	s := subject{host: h}
	rest := toks[1:]
	for i := 0; i < 2 && len(rest) > 0 && strings.Contains(rest[0].text, ":") && !strings.Contains(rest[0].text, ">"); i++ {
		ap, err := netip.ParseAddrPort(rest[0].text)
		if err != nil {
			return s, nil, in.errAt(st, rest[0], "address %q: want IP:PORT", rest[0].text)
		}
		if i == 0 {
			s.local = ap
		} else {
			s.remote = ap
		}
		rest = rest[1:]
	}
	return s, rest, nil
}

// inStateNow reports whether the subject is in state s right now.
func (in *interp) inStateNow(subj subject, s sim.State) bool {
	if subj.sock != nil {
		return subj.sock.s.State() == s
	}
	open := false
	for _, e := range subj.host.Endpoints() {
		if e.State == sim.Listen || !subj.matches(e.Local, e.Remote) {
			continue
		}
		open = true
		if e.State == s {
			return true
		}
	}
	return s == sim.Closed && !open
}

func (s subject) matches(local, remote netip.AddrPort) bool {
	return (!s.local.IsValid() || s.local == local) && (!s.remote.IsValid() || s.remote == remote)
}

// span is one stay in a state: [in, out), out < 0 while it lasts.
type span struct {
	in, out time.Duration
	key     string
}

// history returns the subject's transitions.
func (in *interp) history(subj subject) []sim.Transition {
	var out []sim.Transition
	if sk := subj.sock; sk != nil {
		id := sk.s.Endpoint()
		for _, t := range in.w.Transitions() {
			if t.Host == sk.host.Name() && t.Endpoint == id {
				out = append(out, t)
			}
		}
		return out
	}
	for _, t := range in.w.Transitions() {
		if t.Host == subj.host.Name() && t.From != sim.Listen && t.To != sim.Listen && subj.matches(t.Local, t.Remote) {
			out = append(out, t)
		}
	}
	return out
}

// spans lists the subject's stays in state s, in order of entry.
func spans(hist []sim.Transition, s sim.State) []span {
	var out []span
	open := map[string]int{} // endpoint number -> index of its open span; lookups only
	for _, t := range hist {
		key := strconv.Itoa(t.Endpoint)
		if i, ok := open[key]; ok && t.From == s {
			out[i].out = t.At
			delete(open, key)
		}
		if t.To == s {
			open[key] = len(out)
			out = append(out, span{in: t.At, out: -1, key: key})
		}
	}
	return out
}

// stateAt returns the states of the subject's endpoints at time at.
func stateAt(hist []sim.Transition, at time.Duration) []sim.State {
	cur := map[int]sim.State{} // lookups only
	var keys []int
	for _, t := range hist {
		if t.At > at {
			break
		}
		key := t.Endpoint
		if _, ok := cur[key]; !ok {
			keys = append(keys, key)
		}
		cur[key] = t.To
	}
	var out []sim.State
	for _, k := range keys {
		out = append(out, cur[k])
	}
	return out
}

func hasState(states []sim.State, s sim.State) bool {
	if s == sim.Closed {
		for _, x := range states {
			if x != sim.Closed {
				return false
			}
		}
		return true
	}
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}

// upTo keeps the transitions at or before t.
func upTo(hist []sim.Transition, t time.Duration) []sim.Transition {
	for i, x := range hist {
		if x.At > t {
			return hist[:i]
		}
	}
	return hist
}

func describe(hist []sim.Transition) string {
	if len(hist) == 0 {
		return "no transitions"
	}
	var b strings.Builder
	for i, t := range hist {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v at %s", t.To, trace.Seconds(t.At))
	}
	return b.String()
}

func spanText(sp span) string {
	if sp.out < 0 {
		return "from " + trace.Seconds(sp.in) + " on"
	}
	return fmt.Sprintf("from %s to %s (%v)", trace.Seconds(sp.in), trace.Seconds(sp.out), sp.out-sp.in)
}

// cmdExpect records an expectation.
func (in *interp) cmdExpect(st stmt, args []token) error {
	e := &expectation{file: in.file, line: st.line, col: st.toks[0].col, src: strings.Join(srcTexts(st.toks), " ")}
	var err error
	switch {
	case len(args) == 0:
		return in.errEnd(st, "expect what? want a state, packets, an error or bytes (see docs/notebooks.md)")
	case isNumber(args[0].text):
		e.eval, err = in.expectPackets(st, args)
	case strings.HasPrefix(args[0].text, "#"):
		e.eval, err = in.expectField(st, args)
	case args[0].text == "connect" || args[0].text == "listen":
		e.eval, err = in.expectCallError(st, args)
	case args[0].text == "bytes":
		e.eval, err = in.expectBytesIn(st, args)
	case args[0].text == "workload":
		e.eval, err = in.expectWorkload(st, args)
	default:
		e.eval, err = in.expectSubject(st, args)
	}
	if err != nil {
		return err
	}
	e.missing, in.pending = in.pending, nil
	in.expects = append(in.expects, e)
	in.parts = append(in.parts, part{exp: e})
	return nil
}

func srcTexts(ts []token) []string {
	var out []string
	for _, t := range ts {
		if t.quoted {
			k, v, ok := strings.Cut(t.text, "=")
			if ok && !strings.ContainsAny(k, " \"") && t.text != v {
				out = append(out, k+"="+strconv.Quote(v))
				continue
			}
			out = append(out, strconv.Quote(t.text))
			continue
		}
		out = append(out, t.text)
	}
	return out
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// expectSubject: SUBJ [never] STATE [at T | by T | from T to T | until T |
// for D | count N [at T]], SUBJ error ERRNO|none, SUBJ received "..."
func (in *interp) expectSubject(st stmt, args []token) (func() (bool, string), error) {
	subj, rest, err := in.subject(st, args)
	if err != nil {
		return nil, err
	}
	if subj.host != nil && (subj.local.IsValid() || subj.remote.IsValid()) {
		in.pending = func() string {
			if len(in.history(subj)) == 0 {
				return fmt.Sprintf("no endpoint of %s ever had the tuple %s: want addresses of this run's connections (see states)", subj.host.Name(), strings.TrimPrefix(subj.desc(), subj.host.Name()+" "))
			}
			return ""
		}
	}
	now := in.w.Now()
	if len(rest) == 0 {
		return nil, in.errEnd(st, "expect %s what? want a state, error ERRNO or received \"...\"", subj.desc())
	}
	if subj.host != nil && strings.HasPrefix(rest[0].text, "Tcp") {
		return in.expectCounter(st, subj.host, rest)
	}
	if subj.host != nil && rest[0].text == "log" {
		return in.expectLog(st, subj.host, rest)
	}
	switch rest[0].text {
	case "error":
		if subj.sock == nil || len(rest) != 2 {
			return nil, in.errAt(st, rest[0], "want expect SOCK error ERRNO (or none)")
		}
		want, sk := rest[1].text, subj.sock
		return func() (bool, string) {
			got := sim.Errno(sk.s.Err())
			if got == "" {
				got = "none"
			}
			return got == want, fmt.Sprintf("%s error: %s", sk.name, errText(sk.s.Err()))
		}, nil
	case "received":
		if subj.sock != nil && len(rest) == 3 && rest[2].text == "bytes" && !rest[1].quoted {
			n, err := in.count(st, rest[1], "received")
			if err != nil {
				return nil, err
			}
			sk := subj.sock
			return func() (bool, string) {
				got := len(sk.s.Received())
				return got == n, fmt.Sprintf("%s received %d bytes", sk.name, got)
			}, nil
		}
		if subj.sock == nil || len(rest) != 2 || !rest[1].quoted {
			return nil, in.errAt(st, rest[0], `want expect SOCK received "bytes", or expect SOCK received N bytes`)
		}
		want, sk := rest[1].text, subj.sock
		return func() (bool, string) {
			got := sk.s.Received()
			return string(got) == want, fmt.Sprintf("%s received %q", sk.name, got)
		}, nil
	}
	never := rest[0].text == "never"
	if never {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, in.errEnd(st, "want a state after %s", subj.desc())
	}
	state, err := sim.ParseState(rest[0].text)
	if err != nil {
		return nil, in.errAt(st, rest[0], "%v", err)
	}
	rest = rest[1:]
	if never {
		if len(rest) != 0 {
			return nil, in.errAt(st, rest[0], "expect ... never STATE takes nothing after the state")
		}
		return func() (bool, string) {
			h := in.history(subj)
			for _, sp := range spans(h, state) {
				if sp.in <= now {
					return false, fmt.Sprintf("%s entered %v at %s", subj.desc(), state, trace.Seconds(sp.in))
				}
			}
			return true, fmt.Sprintf("%s so far: %s", subj.desc(), describe(upTo(h, now)))
		}, nil
	}
	timeArg := func(i int) (timeExpr, error) {
		if i >= len(rest) {
			return timeExpr{}, in.errEnd(st, "want a time after %q", rest[i-1].text)
		}
		return in.parseTime(st, rest[i])
	}
	resolve := func(te timeExpr) (time.Duration, string) {
		t, err := in.evalTime(te, now)
		if err != nil {
			return 0, err.Error()
		}
		return t, ""
	}
	if len(rest) == 0 {
		return func() (bool, string) {
			h := in.history(subj)
			return hasState(stateAt(h, now), state), fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(now), statesText(stateAt(h, now)))
		}, nil
	}
	switch kw := rest[0].text; kw {
	case "at", "by", "until":
		te, err := timeArg(1)
		if err != nil {
			return nil, err
		}
		if len(rest) != 2 {
			return nil, in.errAt(st, rest[2], "unexpected %q after the time", rest[2].text)
		}
		return func() (bool, string) {
			t, bad := resolve(te)
			if bad != "" {
				return false, bad
			}
			h := in.history(subj)
			if t > in.w.Now() {
				return false, fmt.Sprintf("the run ended at %s, before %s", trace.Seconds(in.w.Now()), trace.Seconds(t))
			}
			switch kw {
			case "at":
				got := stateAt(h, t)
				return hasState(got, state), fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(t), statesText(got))
			case "by":
				// Reached by T: a stay in the state began at or before T.
				for _, sp := range spans(h, state) {
					if sp.in <= t {
						return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spanText(sp))
					}
				}
				if state == sim.Closed && hasState(stateAt(h, t), state) {
					return true, fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(t), statesText(stateAt(h, t)))
				}
				return false, fmt.Sprintf("%s: %s; want %v by %s", subj.desc(), describe(h), state, trace.Seconds(t))
			default: // until
				sps := spans(h, state)
				for _, sp := range sps {
					if sp.out == t {
						return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spanText(sp))
					}
				}
				return false, fmt.Sprintf("%s %v: %s; want it to end at %s", subj.desc(), state, spansText(sps), trace.Seconds(t))
			}
		}, nil
	case "from":
		te1, err := timeArg(1)
		if err != nil {
			return nil, err
		}
		if len(rest) < 3 || rest[2].text != "to" {
			return nil, in.errEnd(st, "want from T to T")
		}
		te2, err := timeArg(3)
		if err != nil {
			return nil, err
		}
		return func() (bool, string) {
			t1, bad := resolve(te1)
			t2, bad2 := resolve(te2)
			if bad+bad2 != "" {
				return false, bad + bad2
			}
			sps := spans(in.history(subj), state)
			for _, sp := range sps {
				if sp.in == t1 && sp.out == t2 {
					return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spanText(sp))
				}
			}
			return false, fmt.Sprintf("%s %v: %s; want from %s to %s", subj.desc(), state, spansText(sps), trace.Seconds(t1), trace.Seconds(t2))
		}, nil
	case "for":
		if len(rest) != 2 {
			return nil, in.errEnd(st, "want for D, e.g. for 60s")
		}
		d, err := in.duration(st, rest[1], "for")
		if err != nil {
			return nil, err
		}
		return func() (bool, string) {
			sps := spans(in.history(subj), state)
			done := 0
			for _, sp := range sps {
				if sp.out < 0 {
					continue
				}
				done++
				if sp.out-sp.in != d {
					return false, fmt.Sprintf("%s %v %s; want every stay to last %v", subj.desc(), state, spanText(sp), d)
				}
			}
			if done == 0 {
				return false, fmt.Sprintf("%s %v: %s; want a finished stay of %v", subj.desc(), state, spansText(sps), d)
			}
			return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spansText(sps))
		}, nil
	case "count":
		if len(rest) != 2 && (len(rest) != 4 || rest[2].text != "at") {
			return nil, in.errEnd(st, "want count N [at T]")
		}
		n, err := in.count(st, rest[1], "count")
		if err != nil {
			return nil, err
		}
		te := timeExpr{rel: true}
		if len(rest) == 4 {
			if te, err = in.parseTime(st, rest[3]); err != nil {
				return nil, err
			}
		}
		return func() (bool, string) {
			t, bad := resolve(te)
			if bad != "" {
				return false, bad
			}
			got := 0
			for _, s := range stateAt(in.history(subj), t) {
				if s == state {
					got++
				}
			}
			return got == n, fmt.Sprintf("%d endpoints of %s in %v at %s", got, subj.desc(), state, trace.Seconds(t))
		}, nil
	}
	return nil, in.errAt(st, rest[0], "unexpected %q: want at T, by T, from T to T, until T, for D or count N", rest[0].text)
}

func statesText(s []sim.State) string {
	if len(s) == 0 {
		return "CLOSED (no endpoint yet)"
	}
	var parts []string
	for _, x := range s {
		parts = append(parts, x.String())
	}
	return strings.Join(parts, ", ")
}

func spansText(sps []span) string {
	if len(sps) == 0 {
		return "never entered"
	}
	var parts []string
	for _, sp := range sps {
		parts = append(parts, spanText(sp))
	}
	return strings.Join(parts, "; ")
}

func errText(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// expectCallError: connect|listen error ERRNO, or connect|listen ok.
func (in *interp) expectCallError(st stmt, args []token) (func() (bool, string), error) {
	op := args[0].text
	if len(args) == 2 && args[1].text == "ok" {
		args = append(args[:1], token{text: "error"}, token{text: "none"})
	}
	if len(args) != 3 || args[1].text != "error" {
		return nil, in.errEnd(st, "want expect %s error ERRNO, or expect %s ok", op, op)
	}
	if in.last.op != op {
		return nil, in.errAt(st, args[0], "no %s before this expectation", op)
	}
	got, want := in.last.err, args[2].text
	return func() (bool, string) {
		name := sim.Errno(got)
		if name == "" {
			name = "none"
		}
		return name == want, fmt.Sprintf("last %s: %s", op, errText(got))
	}, nil
}

// expectBytesIn: bytes "..." in HOST stream.
func (in *interp) expectBytesIn(st stmt, args []token) (func() (bool, string), error) {
	if len(args) != 5 || !args[1].quoted || args[2].text != "in" || args[4].text != "stream" {
		return nil, in.errEnd(st, `want expect bytes "..." in HOST stream`)
	}
	h, err := in.host(st, args[3])
	if err != nil {
		return nil, err
	}
	want := []byte(args[1].text)
	return func() (bool, string) {
		var where []string
		for _, name := range in.sockOrder() {
			sk := in.socks[name]
			if sk.host == h && bytes.Contains(sk.s.Received(), want) {
				where = append(where, sk.name)
			}
		}
		if len(where) == 0 {
			return false, fmt.Sprintf("no socket of %s received %q", h.Name(), want)
		}
		return true, fmt.Sprintf("received by %s", strings.Join(where, ", "))
	}, nil
}

// expectPackets: N packet(s) DIR [FLAG...] [pure-ack|data|no-data]
// [delivered|dropped|held|duplicated|injected] [retransmitted].
func (in *interp) expectPackets(st stmt, args []token) (func() (bool, string), error) {
	n, _ := strconv.Atoi(args[0].text)
	if len(args) < 3 || (args[1].text != "packet" && args[1].text != "packets") {
		return nil, in.errEnd(st, "want expect N packets FROM>TO [FLAG...] [pure-ack|data|no-data] [FATE] [retransmitted]")
	}
	from, to, ok := strings.Cut(args[2].text, ">")
	if !ok || in.hosts[from] == nil || in.hosts[to] == nil {
		return nil, in.errAt(st, args[2], "direction %q: want FROM>TO with hosts of this notebook (%s)", args[2].text, in.hostNames())
	}
	var flags netem.Flags
	exact, payload, fate, retrans, discarded := false, netem.AnyPayload, "", false, false
	since := timeExpr{}
	rest := args[3:]
	if k := len(rest); k >= 2 && rest[k-2].text == "since" {
		var err error
		if since, err = in.parseTime(st, rest[k-1]); err != nil {
			return nil, err
		}
		rest = rest[:k-2]
	}
	now := in.w.Now()
	for _, t := range rest {
		switch t.text {
		case "pure-ack":
			flags, exact, payload = netem.ACK, true, netem.NoPayload
		case "data":
			payload = netem.WithPayload
		case "no-data":
			payload = netem.NoPayload
		case "delivered", "dropped", "held", "duplicated", "injected":
			fate = t.text
		case "retransmitted":
			retrans = true
		case "discarded":
			discarded = true
		default:
			f, err := netem.ParseFlags(t.text)
			if err != nil {
				return nil, in.errAt(st, t, "%v, or pure-ack, data, no-data, a fate (delivered, dropped, held, duplicated, injected), discarded or retransmitted", err)
			}
			flags |= f
		}
	}
	return func() (bool, string) {
		from0, err := in.evalTime(since, now)
		if err != nil {
			return false, err.Error()
		}
		// A retransmission repeats a segment of the same incarnation of its
		// tuple. A new incarnation starts at a SYN that does not follow
		// another SYN on the tuple (its ISN may even equal the old one).
		type pair [2]netip.AddrPort
		type key struct {
			src, dst netip.AddrPort
			inc      int
			seq      uint32
			f        netem.Flags
			n        int
		}
		seen := map[key]bool{}     // membership only
		inc := map[pair]int{}      // lookups only
		lastSYN := map[pair]bool{} // lookups only
		var ids []string
		for _, r := range trace.Rows(in.w.Packets()) {
			if !r.TCP || r.Fate == netem.Duplicated {
				continue
			}
			t := pair{r.H.Src, r.H.Dst}
			if t[1].Compare(t[0]) < 0 {
				t[0], t[1] = t[1], t[0]
			}
			syn := r.H.Flags&netem.SYN != 0 && r.H.Flags&netem.ACK == 0
			if syn && !lastSYN[t] {
				inc[t]++
			}
			lastSYN[t] = syn
			k := key{r.H.Src, r.H.Dst, inc[t], r.H.Seq, r.H.Flags & (netem.SYN | netem.FIN | netem.RST), r.H.PayloadLen}
			again := seen[k] && (k.f != 0 || k.n > 0)
			seen[k] = true
			if r.From != from || r.To != to || r.H.Flags&flags != flags || (exact && r.H.Flags != flags) {
				continue
			}
			if (payload == netem.NoPayload && r.H.PayloadLen > 0) || (payload == netem.WithPayload && r.H.PayloadLen == 0) {
				continue
			}
			if (fate != "" && r.Fate.String() != fate) || (retrans && !again) || r.Sent < from0 || r.Sent > now || (discarded && r.Discarded == "") {
				continue
			}
			ids = append(ids, fmt.Sprintf("#%d", r.ID))
		}
		if len(ids) == 0 {
			return len(ids) == n, "none"
		}
		return len(ids) == n, fmt.Sprintf("%d: %s", len(ids), strings.Join(ids, " "))
	}, nil
}

// packetField reads #N.FIELD.
func (in *interp) packetField(st stmt, t token) (func() (uint64, error), error) {
	id, field, ok := strings.Cut(strings.TrimPrefix(t.text, "#"), ".")
	n, err := strconv.Atoi(id)
	fields := "seq, ack, len, win, tsval or tsecr"
	if !ok || err != nil || n < 1 || !strings.Contains(fields, field) || field == "" || strings.ContainsAny(field, ", ") {
		return nil, in.errAt(st, t, "packet field %q: want #N.FIELD with FIELD one of %s", t.text, fields)
	}
	return func() (uint64, error) {
		rows := trace.Rows(in.w.Packets())
		if n > len(rows) || !rows[n-1].TCP {
			return 0, fmt.Errorf("no TCP packet #%d (the run sent %d)", n, len(rows))
		}
		h := rows[n-1].H
		switch field {
		case "seq":
			return uint64(h.Seq), nil
		case "ack":
			return uint64(h.Ack), nil
		case "len":
			return uint64(h.PayloadLen), nil
		case "win":
			return uint64(h.Window), nil
		}
		if !h.HasTS {
			return 0, fmt.Errorf("packet #%d has no timestamp option", n)
		}
		if field == "tsval" {
			return uint64(h.TS.Val), nil
		}
		return uint64(h.TS.Ecr), nil
	}, nil
}

// expectField: #N.FIELD = #M.FIELD|NUMBER, or != in place of =.
func (in *interp) expectField(st stmt, args []token) (func() (bool, string), error) {
	if len(args) != 3 || (args[1].text != "=" && args[1].text != "!=") {
		return nil, in.errEnd(st, "want expect #N.FIELD = #M.FIELD (or = NUMBER, or !=)")
	}
	a, err := in.packetField(st, args[0])
	if err != nil {
		return nil, err
	}
	var b func() (uint64, error)
	if v, perr := strconv.ParseUint(args[2].text, 10, 64); perr == nil {
		b = func() (uint64, error) { return v, nil }
	} else if b, err = in.packetField(st, args[2]); err != nil {
		return nil, err
	}
	neq := args[1].text == "!="
	return func() (bool, string) {
		x, err1 := a()
		y, err2 := b()
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(errors.Join(err1, err2))
		}
		return (x == y) != neq, fmt.Sprintf("%s is %d, %s is %d", args[0].text, x, args[2].text, y)
	}, nil
}

// compare reads OP N (=, !=, <, <=, >, >=) and returns the test.
func (in *interp) compare(st stmt, toks []token) (func(uint64) bool, string, error) {
	if len(toks) != 2 {
		return nil, "", in.errEnd(st, "want an operator and a number, e.g. = 3 or >= 1")
	}
	n, err := strconv.ParseUint(toks[1].text, 10, 64)
	if err != nil {
		return nil, "", in.errAt(st, toks[1], "%q: want a whole number >= 0", toks[1].text)
	}
	ops := map[string]func(uint64) bool{ // lookups only
		"=": func(v uint64) bool { return v == n }, "==": func(v uint64) bool { return v == n },
		"!=": func(v uint64) bool { return v != n }, "<": func(v uint64) bool { return v < n },
		"<=": func(v uint64) bool { return v <= n }, ">": func(v uint64) bool { return v > n },
		">=": func(v uint64) bool { return v >= n },
	}
	f, ok := ops[toks[0].text]
	if !ok {
		return nil, "", in.errAt(st, toks[0], "operator %q: want =, !=, <, <=, > or >=", toks[0].text)
	}
	return f, toks[0].text + " " + toks[1].text, nil
}

// expectCounter: HOST COUNTER OP N, judged on the counter's value now.
func (in *interp) expectCounter(st stmt, h *sim.Host, rest []token) (func() (bool, string), error) {
	v, ok := h.CounterValue(rest[0].text)
	if !ok {
		var names []string
		for _, c := range h.Counters() {
			names = append(names, c.Name)
		}
		return nil, in.errAt(st, rest[0], "unknown counter %q: want one of %s", rest[0].text, strings.Join(names, ", "))
	}
	test, _, err := in.compare(st, rest[1:])
	if err != nil {
		return nil, err
	}
	name, now := rest[0].text, in.w.Now()
	return func() (bool, string) {
		return test(v), fmt.Sprintf("%s %s = %d at %s", h.Name(), name, v, trace.Seconds(now))
	}, nil
}

// expectLog: HOST log "text" OP N counts kernel log lines with the text so
// far.
func (in *interp) expectLog(st stmt, h *sim.Host, rest []token) (func() (bool, string), error) {
	if len(rest) != 4 || !rest[1].quoted {
		return nil, in.errEnd(st, `want expect HOST log "text" OP N`)
	}
	test, _, err := in.compare(st, rest[2:])
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, l := range h.Log() {
		if strings.Contains(l.Text, rest[1].text) {
			n++
		}
	}
	text := rest[1].text
	return func() (bool, string) {
		return test(n), fmt.Sprintf("%d lines of %s's log contain %q", n, h.Name(), text)
	}, nil
}

// expectWorkload: workload done OP N, or workload ERRNO OP N, about the
// last workload, as it stands now.
func (in *interp) expectWorkload(st stmt, args []token) (func() (bool, string), error) {
	if len(in.workloads) == 0 {
		return nil, in.errAt(st, args[0], "no workload before this expectation")
	}
	if len(args) != 4 {
		return nil, in.errEnd(st, "want expect workload done OP N, or expect workload ERRNO OP N")
	}
	test, _, err := in.compare(st, args[2:])
	if err != nil {
		return nil, err
	}
	wl, idx := in.workloads[len(in.workloads)-1], len(in.workloads)
	what := args[1].text
	var got uint64
	if what == "done" {
		got = uint64(wl.done)
	} else {
		got = uint64(wl.errs[what])
	}
	return func() (bool, string) {
		if what == "done" {
			return test(got), fmt.Sprintf("workload %d: %d answered", idx, got)
		}
		return test(got), fmt.Sprintf("workload %d: %d %s", idx, got, what)
	}, nil
}
