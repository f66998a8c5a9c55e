package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// interp runs a notebook's statements, top to bottom, on one World.
type interp struct {
	file  string
	cfg   Config
	w     *sim.World
	seed  uint64
	hosts map[string]*sim.Host // lookups only
	socks map[string]*sock     // lookups only
	links []*sim.Link
	nconn int

	last      lastCall
	expects   []*expectation
	marks     map[string]int // per view: records already shown
	workloads []*workload
	order     []string // socket names in creation order

	// parts of the current cell's output: text, or an expectation whose
	// verdict is written once the whole notebook has run.
	parts []part
}

type part struct {
	text string
	note bool
	exp  *expectation
}

// lastCall remembers the last connect or listen and its error.
type lastCall struct {
	op  string
	err error
}

// sock is a named socket of the notebook.
type sock struct {
	name     string
	host     *sim.Host
	s        *sim.Socket
	created  time.Duration
	listener *listenSpec
	naccept  int
}

func (in *interp) printf(format string, args ...any) {
	in.parts = append(in.parts, part{text: fmt.Sprintf(format, args...)})
}

func (in *interp) hostNames() string {
	var n []string
	for _, h := range in.w.Hosts() {
		n = append(n, h.Name())
	}
	if len(n) == 0 {
		return "none defined yet"
	}
	return strings.Join(n, ", ")
}

func (in *interp) sockNames() string {
	n := slices.Clone(in.order)
	slices.Sort(n)
	if len(n) == 0 {
		return "none opened yet"
	}
	return strings.Join(n, ", ")
}

// commands maps each statement verb to its handler.
var commands map[string]func(*interp, stmt, []token) error

func init() {
	commands = map[string]func(*interp, stmt, []token) error{
		"seed": (*interp).cmdSeed, "host": (*interp).cmdHost, "link": (*interp).cmdLink,
		"drop": (*interp).cmdRule, "delay": (*interp).cmdRule, "duplicate": (*interp).cmdRule, "hold": (*interp).cmdRule,
		"release": (*interp).cmdRelease, "inject": (*interp).cmdInject,
		"listen": (*interp).cmdListen, "connect": (*interp).cmdConnect, "send": (*interp).cmdSend,
		"close": (*interp).cmdClose, "shutdown": (*interp).cmdShutdown, "workload": (*interp).cmdWorkload,
		"run": (*interp).cmdRun, "expect": (*interp).cmdExpect,
		"ss": (*interp).cmdSS, "trace": (*interp).cmdTrace, "ladder": (*interp).cmdLadder,
		"states": (*interp).cmdStates, "counters": (*interp).cmdCounters, "note": (*interp).cmdNote,
	}
}

func verbs() string {
	var v []string
	for k := range commands {
		v = append(v, k)
	}
	slices.Sort(v)
	return strings.Join(v, ", ")
}

// exec runs one statement.
func (in *interp) exec(st stmt) error {
	toks := st.toks
	if len(toks) == 0 {
		return nil
	}
	// A time prefix: +D after the current time, @T at an absolute time.
	if p := toks[0].text; strings.HasPrefix(p, "+") || strings.HasPrefix(p, "@") {
		d, ok := parseDuration(p[1:])
		if !ok || d < 0 {
			return in.errAt(st, toks[0], "time prefix %q: want +D (after now) or @T (at T), e.g. +0.1 or @2s", p)
		}
		at := d
		if p[0] == '+' {
			at = in.w.Now() + d
		}
		if at < in.w.Now() {
			return in.errAt(st, toks[0], "time prefix %q: %s s is in the past (now %s s)", p, trace.Seconds(at), trace.Seconds(in.w.Now()))
		}
		if err := in.w.RunFor(at - in.w.Now()); err != nil {
			return in.errAt(st, toks[0], "%v", err)
		}
		toks = toks[1:]
		if len(toks) == 0 {
			return in.errEnd(st, "a time prefix needs a command after it")
		}
	}
	fn, ok := commands[toks[0].text]
	if !ok {
		return in.errAt(st, toks[0], "unknown command %q: want one of %s", toks[0].text, verbs())
	}
	needsHosts := toks[0].text != "seed" && toks[0].text != "host" && toks[0].text != "note"
	if needsHosts && len(in.w.Hosts()) == 0 {
		return in.errAt(st, toks[0], "%s before any host: declare hosts first (host NAME IP)", toks[0].text)
	}
	return fn(in, st, toks[1:])
}

func (in *interp) cmdSeed(st stmt, args []token) error {
	if len(args) != 1 {
		return in.errEnd(st, "seed takes one number")
	}
	if len(in.w.Hosts()) > 0 {
		return in.errAt(st, args[0], "seed must come before the first host")
	}
	n, err := strconv.ParseUint(args[0].text, 10, 64)
	if err != nil {
		return in.errAt(st, args[0], "seed %q: want a whole number from 0 to 18446744073709551615", args[0].text)
	}
	if in.cfg.Seed == nil {
		in.seed = n
		in.w = newWorld(in.cfg, n)
	}
	return nil
}

func (in *interp) cmdHost(st stmt, args []token) error {
	o, err := in.options(st, args, "msl", "ports", "tw_reuse", "fin_timeout")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "host takes a name and an IPv4 address: host NAME IP [msl=D] [ports=A-B] [tw_reuse=off|global|loopback] [fin_timeout=D]")
	}
	name, ipTok := o.words[0], o.words[1]
	if _, ok := commands[name.text]; ok || strings.ContainsAny(name.text, ":>/#.") {
		return in.errAt(st, name, "host name %q: want a word that is not a command and has no : > / # .", name.text)
	}
	addr, err := netip.ParseAddr(ipTok.text)
	if err != nil || !addr.Is4() {
		return in.errAt(st, ipTok, "address %q: want an IPv4 address such as 10.0.0.1", ipTok.text)
	}
	ho := sim.HostOptions{Name: name.text, Addr: addr, MSL: in.cfg.MSL}
	if t, ok := o.kv["msl"]; ok {
		if ho.MSL, err = in.duration(st, t, "msl"); err != nil {
			return err
		}
		if ho.MSL == 0 {
			return in.errAt(st, t, "msl 0: want a positive duration")
		}
	}
	if t, ok := o.kv["fin_timeout"]; ok {
		if ho.FinTimeout, err = in.duration(st, t, "fin_timeout"); err != nil {
			return err
		}
	}
	if t, ok := o.kv["ports"]; ok {
		a, b, ok2 := strings.Cut(t.text, "-")
		first, e1 := strconv.Atoi(a)
		last, e2 := strconv.Atoi(b)
		if !ok2 || e1 != nil || e2 != nil || first < 1 || last > 65535 || first > last {
			return in.errAt(st, t, "ports %q: want FIRST-LAST with 1 <= FIRST <= LAST <= 65535", t.text)
		}
		ho.FirstPort, ho.LastPort = uint16(first), uint16(last)
	}
	if t, ok := o.kv["tw_reuse"]; ok {
		switch t.text {
		case "off":
			ho.TWReuse = sim.TWReuseOff
		case "global":
			ho.TWReuse = sim.TWReuseGlobal
		case "loopback":
			ho.TWReuse = sim.TWReuseLoopback
		default:
			return in.errAt(st, t, "tw_reuse %q: want off, global or loopback", t.text)
		}
	}
	h, err := in.w.AddHost(ho)
	if err != nil {
		return in.errAt(st, name, "%v", err)
	}
	in.hosts[name.text] = h
	return nil
}

func (in *interp) host(st stmt, t token) (*sim.Host, error) {
	if h := in.hosts[t.text]; h != nil {
		return h, nil
	}
	return nil, in.errAt(st, t, "unknown host %q: want one of %s", t.text, in.hostNames())
}

func (in *interp) cmdLink(st stmt, args []token) error {
	o, err := in.options(st, args, "delay", "back", "loss", "loss_back")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "link takes two hosts: link A B [delay=D] [back=D] [loss=P%%] [loss_back=P%%]")
	}
	a, err := in.host(st, o.words[0])
	if err != nil {
		return err
	}
	b, err := in.host(st, o.words[1])
	if err != nil {
		return err
	}
	var opts netem.Options
	if t, ok := o.kv["delay"]; ok {
		if opts.AtoB.Delay, err = in.duration(st, t, "delay"); err != nil {
			return err
		}
	}
	opts.BtoA.Delay = opts.AtoB.Delay
	if t, ok := o.kv["back"]; ok {
		if opts.BtoA.Delay, err = in.duration(st, t, "back"); err != nil {
			return err
		}
	}
	if t, ok := o.kv["loss"]; ok {
		if opts.AtoB.Loss, err = in.probability(st, t); err != nil {
			return err
		}
	}
	opts.BtoA.Loss = opts.AtoB.Loss
	if t, ok := o.kv["loss_back"]; ok {
		if opts.BtoA.Loss, err = in.probability(st, t); err != nil {
			return err
		}
	}
	l, err := in.w.AddLink(a, b, opts)
	if err != nil {
		return in.errAt(st, o.words[0], "%v", err)
	}
	in.links = append(in.links, l)
	return nil
}

// direction reads A>B and returns the link and netem direction.
func (in *interp) direction(st stmt, t token) (*sim.Link, netem.Dir, error) {
	a, b, ok := strings.Cut(t.text, ">")
	if !ok {
		return nil, 0, in.errAt(st, t, "direction %q: want FROM>TO, e.g. client>server", t.text)
	}
	ha, hb := in.hosts[a], in.hosts[b]
	if ha == nil || hb == nil {
		return nil, 0, in.errAt(st, t, "direction %q: want two hosts of this notebook (%s)", t.text, in.hostNames())
	}
	for _, l := range in.links {
		if (l.A() == ha && l.B() == hb) || (l.A() == hb && l.B() == ha) {
			return l, l.Dir(ha), nil
		}
	}
	return nil, 0, in.errAt(st, t, "direction %q: %s and %s are not linked (link %s %s first)", t.text, a, b, a, b)
}

// match reads DIR [FLAG...] [pure-ack] [data|no-data] [exact] [contains="..."].
func (in *interp) match(st stmt, toks []token, kv map[string]token) (*sim.Link, netem.Match, error) {
	var m netem.Match
	if len(toks) == 0 {
		return nil, m, in.errEnd(st, "a packet match needs a direction, e.g. client>server FIN")
	}
	l, dir, err := in.direction(st, toks[0])
	if err != nil {
		return nil, m, err
	}
	m.Dir = dir
	for _, t := range toks[1:] {
		switch strings.ToLower(t.text) {
		case "pure-ack":
			m.Flags, m.Exact, m.Payload = netem.ACK, true, netem.NoPayload
		case "data":
			m.Payload = netem.WithPayload
		case "no-data":
			m.Payload = netem.NoPayload
		case "exact":
			m.Exact = true
		default:
			f, ferr := netem.ParseFlags(t.text)
			if ferr != nil {
				return nil, m, in.errAt(st, t, "%v, or pure-ack, data, no-data, exact", ferr)
			}
			m.Flags |= f
		}
	}
	if t, ok := kv["contains"]; ok {
		m.Contains = []byte(t.text)
		m.Payload = netem.WithPayload
	}
	return l, m, nil
}

func (in *interp) cmdRule(st stmt, args []token) error {
	verb := st.toks[0].text
	if strings.HasPrefix(verb, "+") || strings.HasPrefix(verb, "@") {
		verb = st.toks[1].text
	}
	o, err := in.options(st, args, "nth", "count", "name", "by", "gap", "until", "contains")
	if err != nil {
		return err
	}
	words := o.words
	var afterToks []token
	for i, t := range words {
		if t.text == "after" {
			words, afterToks = o.words[:i], o.words[i+1:]
			break
		}
	}
	l, m, err := in.match(st, words, o.kv)
	if err != nil {
		return err
	}
	r := netem.Rule{Match: m, Name: verb + " " + strings.Join(tokTexts(o.words), " ")}
	if afterToks != nil {
		al, am, err := in.match(st, afterToks, nil)
		if err != nil {
			return err
		}
		if al != l {
			return in.errAt(st, afterToks[0], "after %s: must be on the same link as the rule", afterToks[0].text)
		}
		r.After = &am
	}
	if t, ok := o.kv["name"]; ok {
		r.Name = t.text
	}
	if t, ok := o.kv["nth"]; ok {
		n, err := in.count(st, t, "nth")
		if err != nil || n == 0 {
			return in.errAt(st, t, "nth %q: want 1 or more", t.text)
		}
		r.Nth = n
	}
	if t, ok := o.kv["count"]; ok {
		if t.text == "all" {
			r.Count = -1
		} else if r.Count, err = in.count(st, t, "count"); err != nil || r.Count == 0 {
			return in.errAt(st, t, "count %q: want 1 or more, or all", t.text)
		}
	}
	switch verb {
	case "drop":
		r.Action.Kind = netem.Drop
	case "delay":
		r.Action.Kind = netem.Delay
		t, ok := o.kv["by"]
		if !ok {
			return in.errEnd(st, "delay needs by=D, e.g. by=100ms")
		}
		if r.Action.Delay, err = in.duration(st, t, "by"); err != nil {
			return err
		}
	case "duplicate":
		r.Action.Kind = netem.Duplicate
		if t, ok := o.kv["gap"]; ok {
			if r.Action.Delay, err = in.duration(st, t, "gap"); err != nil {
				return err
			}
		}
	case "hold":
		r.Action.Kind = netem.Hold
		if t, ok := o.kv["until"]; ok {
			te, err := in.parseTime(st, t)
			if err != nil {
				return err
			}
			at, err := in.evalTime(te, in.w.Now())
			if err != nil {
				return in.errAt(st, t, "%v", err)
			}
			if at <= 0 {
				return in.errAt(st, t, "until %q: want a time after 0", t.text)
			}
			r.Action.Until = at
		}
	}
	if err := l.AddRule(r); err != nil {
		return in.errAt(st, st.toks[0], "%v", err)
	}
	return nil
}

func tokTexts(ts []token) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.text)
	}
	return out
}

func (in *interp) cmdRelease(st stmt, args []token) error {
	o, err := in.options(st, args, "at")
	if err != nil {
		return err
	}
	at := in.w.Now()
	if t, ok := o.kv["at"]; ok {
		te, err := in.parseTime(st, t)
		if err != nil {
			return err
		}
		if at, err = in.evalTime(te, in.w.Now()); err != nil {
			return in.errAt(st, t, "%v", err)
		}
	}
	if len(o.words) != 1 {
		return in.errEnd(st, "release takes all or #N")
	}
	t := o.words[0]
	id := 0
	if t.text != "all" {
		n, err := strconv.Atoi(strings.TrimPrefix(t.text, "#"))
		if err != nil || !strings.HasPrefix(t.text, "#") || n < 1 {
			return in.errAt(st, t, "release %q: want all or #N (a held packet's number)", t.text)
		}
		id = n
	}
	if err := in.w.Release(id, at); err != nil {
		return in.errAt(st, t, "%v (held: %v)", err, in.w.Held())
	}
	return nil
}

// cmdRun advances the clock: run D, run until SUBJECT STATE [within D], or
// run (until no event is left).
func (in *interp) cmdRun(st stmt, args []token) error {
	if len(args) == 0 {
		if err := in.w.Run(); err != nil {
			return in.errAt(st, st.toks[0], "%v", err)
		}
		return nil
	}
	if args[0].text != "until" {
		if len(args) != 1 {
			return in.errEnd(st, "run takes a duration, or until SUBJECT STATE [within D]")
		}
		d, err := in.duration(st, args[0], "run")
		if err != nil {
			return err
		}
		if err := in.w.RunFor(d); err != nil {
			return in.errAt(st, args[0], "%v", err)
		}
		return nil
	}
	o, err := in.options(st, args[1:], "within")
	if err != nil {
		return err
	}
	limit := time.Hour
	if t, ok := o.kv["within"]; ok {
		if limit, err = in.duration(st, t, "within"); err != nil {
			return err
		}
	}
	subj, rest, err := in.subject(st, o.words)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return in.errEnd(st, "run until takes a subject and a state, e.g. run until c1 TIME-WAIT")
	}
	state, err := sim.ParseState(rest[0].text)
	if err != nil {
		return in.errAt(st, rest[0], "%v", err)
	}
	deadline := in.w.Now() + limit
	err = in.w.RunUntil(func() bool { return in.inStateNow(subj, state) || in.w.Now() > deadline })
	if err == nil && !in.inStateNow(subj, state) {
		err = fmt.Errorf("%s did not reach %v within %v", subj.desc(), state, limit)
	}
	if errors.Is(err, sim.ErrIdle) {
		err = fmt.Errorf("%s never reached %v: the run went idle at %s s", subj.desc(), state, trace.Seconds(in.w.Now()))
	}
	if err != nil {
		return in.errAt(st, rest[0], "%v", err)
	}
	return nil
}

func (in *interp) cmdInject(st stmt, args []token) error {
	o, err := in.options(st, args, "seq", "ack", "win", "ts", "payload")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "inject takes a socket and flags: inject SOCK RST [seq=next|+N] [ack=next|+N] [win=N] [ts=VAL/ECR] [payload=\"...\"]")
	}
	sk, err := in.sock(st, o.words[0])
	if err != nil {
		return err
	}
	flags, err := netem.ParseFlags(o.words[1].text)
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	local, remote := sk.s.Local(), sk.s.Remote()
	if !remote.IsValid() {
		return in.errAt(st, o.words[0], "%s has no peer yet: inject needs a connection's tuple", sk.name)
	}
	// What the socket's host expects next from its peer, and what it sent.
	var rcvNxt, sndNxt, peerISN, isn uint32
	for _, r := range trace.Rows(in.w.Packets()) {
		if !r.TCP {
			continue
		}
		if r.H.Src == local && r.H.Dst == remote && r.From != "" {
			if r.H.Flags&netem.SYN != 0 {
				isn = r.H.Seq
			}
			if r.H.Flags&netem.ACK != 0 {
				rcvNxt = r.H.Ack
			}
			end := r.H.Seq + uint32(r.H.PayloadLen)
			if r.H.Flags&(netem.SYN|netem.FIN) != 0 {
				end++
			}
			if end-sndNxt < 1<<31 || sndNxt == 0 {
				sndNxt = end
			}
		}
		if r.H.Src == remote && r.H.Dst == local && r.H.Flags&netem.SYN != 0 {
			peerISN = r.H.Seq
		}
	}
	seg := netem.Segment{Src: remote, Dst: local, Flags: flags, Seq: rcvNxt, Ack: sndNxt, Window: 65535}
	rel := func(key string, next, base uint32, dst *uint32) error {
		t, ok := o.kv[key]
		if !ok || t.text == "next" {
			*dst = next
			return nil
		}
		s := t.text
		var off int64
		var err error
		switch {
		case strings.HasPrefix(s, "next+") || strings.HasPrefix(s, "next-"):
			off, err = strconv.ParseInt(s[4:], 10, 64)
			*dst = next + uint32(off)
		case strings.HasPrefix(s, "+"):
			off, err = strconv.ParseInt(s[1:], 10, 64)
			*dst = base + uint32(off)
		default:
			var v uint64
			v, err = strconv.ParseUint(s, 10, 32)
			*dst = uint32(v)
		}
		if err != nil {
			return in.errAt(st, t, "%s %q: want next, next+N, next-N, +N (from the ISN) or an absolute number", key, s)
		}
		return nil
	}
	if err := rel("seq", rcvNxt, peerISN, &seg.Seq); err != nil {
		return err
	}
	if err := rel("ack", sndNxt, isn, &seg.Ack); err != nil {
		return err
	}
	if t, ok := o.kv["win"]; ok {
		n, err := strconv.ParseUint(t.text, 10, 16)
		if err != nil {
			return in.errAt(st, t, "win %q: want 0 to 65535", t.text)
		}
		seg.Window = uint16(n)
	}
	if t, ok := o.kv["ts"]; ok {
		v, e, ok2 := strings.Cut(t.text, "/")
		val, e1 := strconv.ParseUint(v, 10, 32)
		ecr, e2 := strconv.ParseUint(e, 10, 32)
		if !ok2 || e1 != nil || e2 != nil {
			return in.errAt(st, t, "ts %q: want VAL/ECR, e.g. ts=1000/2000", t.text)
		}
		seg.TS = &netem.Timestamp{Val: uint32(val), Ecr: uint32(ecr)}
	}
	if t, ok := o.kv["payload"]; ok {
		seg.Payload = []byte(t.text)
	}
	data, err := seg.Marshal()
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	id, err := in.w.Inject(sk.host, in.w.Now(), data)
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	in.printf("injected #%d %s > %s [%v] seq %d ack %d\n", id, remote, local, flags, seg.Seq, seg.Ack)
	return nil
}

func (in *interp) cmdNote(st stmt, args []token) error {
	if len(args) != 1 || !args[0].quoted {
		return in.errEnd(st, `note takes one quoted string: note "..."`)
	}
	in.parts = append(in.parts, part{text: args[0].text + "\n", note: true})
	return nil
}
