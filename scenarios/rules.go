package scenarios

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// direction reads A>B and returns the link and netem direction.
func (in *interp) direction(st stmt, t token) (*sim.Link, netem.Dir, error) {
	l, from, _, err := in.linkDir(st, t)
	if err != nil {
		return nil, 0, err
	}
	return l, l.Dir(from), nil
}

// linkDir reads A>B, two nodes (hosts or middle hops) joined by a link.
func (in *interp) linkDir(st stmt, t token) (*sim.Link, sim.Node, sim.Node, error) {
	a, b, ok := strings.Cut(t.text, ">")
	if !ok {
		return nil, nil, nil, in.errAt(st, t, "direction %q: want FROM>TO, e.g. client>server", t.text)
	}
	na, nb := in.w.Node(a), in.w.Node(b)
	if na == nil || nb == nil {
		return nil, nil, nil, in.errAt(st, t, "direction %q: want two hosts or hops of this notebook (%s)", t.text, in.nodeNames())
	}
	if l := in.w.Link(na, nb); l != nil {
		return l, na, nb, nil
	}
	if p := in.w.Path(na, nb); p != nil {
		hops := sim.NodeNames(p)
		return nil, nil, nil, in.errAt(st, t, "direction %q: %s and %s are not linked; packets go %s: name one link of that path, e.g. %s>%s",
			t.text, a, b, strings.Join(hops, ">"), hops[len(hops)-2], b)
	}
	return nil, nil, nil, in.errAt(st, t, "direction %q: %s and %s are not linked (link %s %s first)", t.text, a, b, a, b)
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
		// A name that is a word also names the first packet the rule
		// acts on: #NAME.
		if pktNameRE.MatchString(t.text) {
			if err := in.definePacket(st, t, &pktName{rule: t.text, what: fmt.Sprintf("the first packet rule %q acts on", t.text)}); err != nil {
				return err
			}
		}
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
		if !strings.HasPrefix(t.text, "#") {
			return in.errAt(st, t, "release %q: want all, #N (a held packet's number) or #NAME", t.text)
		}
		ref, err := in.parseRef(st, t, t.text)
		if err != nil {
			return err
		}
		r, err := in.resolve(ref, in.w.PacketCount())
		if err != nil {
			return in.errAt(st, t, "release %s: %v", t.text, err)
		}
		id = r.ID
	}
	if err := in.w.Release(id, at); err != nil {
		return in.errAt(st, t, "%v (held: %v)", err, in.w.Held())
	}
	return nil
}

// cmdNetem: netem FROM>TO TC-NETEM-WORDS... sets the direction's
// impairments as `tc qdisc add dev eth0 root netem ...` would (replacing
// the previous ones; rules stay).
func (in *interp) cmdNetem(st stmt, args []token) error {
	if len(args) < 1 {
		return in.errEnd(st, "netem takes a direction and tc-netem words, e.g. netem client>server delay 100ms 10ms loss 1%%")
	}
	l, _, err := in.direction(st, args[0])
	if err != nil {
		return err
	}
	words := tokTexts(args[1:])
	p, err := netem.ParseTC(words)
	if err != nil {
		var te *netem.TCError
		if errors.As(err, &te) && te.Word < len(args)-1 {
			return in.errAt(st, args[1+te.Word], "netem: %s", te.Msg)
		}
		return in.errAt(st, args[0], "netem: %v", err)
	}
	from := in.w.Node(strings.SplitN(args[0].text, ">", 2)[0])
	if err := l.SetPath(from, p); err != nil {
		return in.errAt(st, args[0], "%v", err)
	}
	return nil
}
