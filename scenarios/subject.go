package scenarios

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// This file is what state expectations are about: subjects (a socket or a
// host's connections) and their state histories.

// subject is what a state expectation is about: a named socket, or a host's
// connections (optionally only those with a local and a remote address).
type subject struct {
	sock          *sock
	host          *sim.Host
	local, remote netip.AddrPort
}

// hostOf is the host the subject is on.
func (s subject) hostOf() *sim.Host {
	if s.sock != nil {
		return s.sock.host
	}
	return s.host
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
	if sk := in.named(toks[0].text); sk != nil {
		return subject{sock: sk}, toks[1:], nil
	}
	if sk := in.awaitedSock(toks[0].text); sk != nil {
		return subject{sock: sk}, toks[1:], nil
	}
	h := in.hosts[toks[0].text]
	if h == nil {
		if err := in.forgottenErr(st, toks[0]); err != nil {
			return subject{}, nil, err
		}
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

// awaitedSock returns the socket a listener's Nth accepted connection
// will be (LISTENER/N) before it is accepted: a stand-in, closed, that
// becomes the connection when the listener accepts it (see record). It
// returns nil when name is not LISTENER/N.
func (in *interp) awaitedSock(name string) *sock {
	if sk := in.awaited[name]; sk != nil {
		return sk
	}
	lk, n := in.acceptedName(name)
	if lk == nil || n <= lk.naccept {
		return nil // not LISTENER/N, or accepted already (and forgotten)
	}
	sk := &sock{name: name, host: lk.host, s: lk.host.FailedSocket(nil), awaited: true, listenerName: lk.name}
	if in.awaited == nil {
		in.awaited = map[string]*sock{}
	}
	in.awaited[name] = sk
	return sk
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
	return in.historyTo(subj, in.w.TransitionCount())
}

// historyTo returns the subject's transitions among the first n the World
// observed: those before a statement, when n is the count at the
// statement, and not those that a later statement at the same instant
// caused.
func (in *interp) historyTo(subj subject, n int) []sim.Transition {
	var out []sim.Transition
	all := in.w.Transitions()[:n]
	if sk := subj.sock; sk != nil {
		id := sk.s.Endpoint()
		for _, t := range all {
			if t.Host == sk.host.Name() && t.Endpoint == id {
				out = append(out, t)
			}
		}
		return out
	}
	for _, t := range all {
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
