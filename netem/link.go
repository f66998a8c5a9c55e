package netem

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Dir is the direction a packet crosses a link in. A link joins side A and
// side B; a Match may also say AnyDir.
type Dir uint8

// Directions.
const (
	AnyDir Dir = iota
	AtoB
	BtoA
)

func (d Dir) String() string {
	switch d {
	case AtoB:
		return "A>B"
	case BtoA:
		return "B>A"
	default:
		return "any"
	}
}

// Fate is what the link did with one copy of a packet.
type Fate uint8

// Fates.
const (
	// Delivered: the copy arrives at At.
	Delivered Fate = iota
	// Dropped: the copy never arrives.
	Dropped
	// Held: the copy is kept by the link; it arrives at At if At >= 0,
	// otherwise when the simulation releases it.
	Held
	// Duplicated: an extra copy made by the link, arriving at At.
	Duplicated
	// Injected: a crafted segment that never crossed a link (set by the
	// simulator, never by a Link).
	Injected
)

func (f Fate) String() string {
	switch f {
	case Delivered:
		return "delivered"
	case Dropped:
		return "dropped"
	case Held:
		return "held"
	case Duplicated:
		return "duplicated"
	case Injected:
		return "injected"
	}
	return fmt.Sprintf("fate(%d)", uint8(f))
}

// Payload says what a Match requires of a segment's payload length.
type Payload uint8

// Payload requirements.
const (
	AnyPayload Payload = iota
	NoPayload
	WithPayload
)

// Match selects packets by direction, TCP flags and payload.
type Match struct {
	Dir Dir
	// Flags must all be set. With Exact, no other flag may be set.
	Flags Flags
	Exact bool
	// Payload constrains the payload length.
	Payload Payload
	// Contains, when not empty, must occur in the payload.
	Contains []byte
}

// PureACK matches a segment whose only flag is ACK and that carries no data:
// the final ACK of a close, or a bare acknowledgement.
func PureACK(d Dir) Match { return Match{Dir: d, Flags: ACK, Exact: true, Payload: NoPayload} }

func (m Match) matches(dir Dir, h *Header, pkt []byte) bool {
	if m.Dir != AnyDir && m.Dir != dir {
		return false
	}
	if h.Flags&m.Flags != m.Flags || (m.Exact && h.Flags != m.Flags) {
		return false
	}
	switch m.Payload {
	case NoPayload:
		if h.PayloadLen != 0 {
			return false
		}
	case WithPayload:
		if h.PayloadLen == 0 {
			return false
		}
	}
	if len(m.Contains) > 0 && !bytes.Contains(pkt[h.PayloadOff:h.PayloadOff+h.PayloadLen], m.Contains) {
		return false
	}
	return true
}

// ActionKind is what a rule does to the packets it selects.
type ActionKind uint8

// Actions.
const (
	// Drop loses the packet.
	Drop ActionKind = iota + 1
	// Delay adds Action.Delay to the packet's one-way delay.
	Delay
	// Duplicate delivers the packet and a second copy Action.Delay later.
	Duplicate
	// Hold keeps the packet until Action.Until (virtual time since the
	// start of the run), or until the simulation releases it when Until is
	// zero.
	Hold
)

func (a ActionKind) String() string {
	switch a {
	case Drop:
		return "drop"
	case Delay:
		return "delay"
	case Duplicate:
		return "duplicate"
	case Hold:
		return "hold"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Action is a rule's verb and its argument.
type Action struct {
	Kind  ActionKind
	Delay time.Duration // Delay, Duplicate
	Until time.Duration // Hold; zero holds until released
}

// Rule applies an action to chosen occurrences of a matching packet, e.g.
// "drop the client's first pure ACK after the server's FIN".
type Rule struct {
	// Name labels the rule in traces; empty means "rule N".
	Name  string
	Match Match
	// After, when set, makes the rule ignore packets until one matching
	// After has crossed the link (in its direction, or any).
	After *Match
	// Nth is the first matching packet (1-based) the action applies to;
	// zero means the first.
	Nth int
	// Count is how many matching packets, from the Nth on, the action
	// applies to; zero means one, a negative number means all.
	Count  int
	Action Action
}

// Path is one direction of a link.
type Path struct {
	// Delay is the one-way propagation delay.
	Delay time.Duration
	// Loss is the probability, in [0, 1], that a packet is lost at random.
	Loss float64
}

// Options configures a Link. The zero value is a lossless link with no delay.
type Options struct {
	AtoB, BtoA Path
	Rules      []Rule
	// Seed seeds the link's random streams (one per direction).
	Seed uint64
}

// Out is where one copy of a packet goes.
type Out struct {
	Fate Fate
	// At is the virtual arrival time; for a Held copy, -1 means "until
	// released".
	At time.Duration
	// Rule names the rule that decided the fate, or "loss" for random
	// loss; empty when the copy simply crossed the link.
	Rule string
}

// Link is a point-to-point link between side A and side B. It works on
// packet bytes only and never touches a stack. A Link is not safe for
// concurrent use; the simulator serialises calls.
type Link struct {
	paths [2]Path
	rngs  [2]*rand.Rand
	rules []ruleState
	out   []Out
}

type ruleState struct {
	Rule
	name  string
	armed bool
	seen  int
}

// New checks opts and returns a Link.
func New(opts Options) (*Link, error) {
	var errs []error
	for i, p := range []Path{opts.AtoB, opts.BtoA} {
		d := []string{"A>B", "B>A"}[i]
		if p.Delay < 0 {
			errs = append(errs, fmt.Errorf("netem: %s delay %v is negative: want a duration >= 0", d, p.Delay))
		}
		if !(p.Loss >= 0 && p.Loss <= 1) {
			errs = append(errs, fmt.Errorf("netem: %s loss %v is out of range: want a probability in [0, 1]", d, p.Loss))
		}
	}
	l := &Link{paths: [2]Path{opts.AtoB, opts.BtoA}, out: make([]Out, 0, 2)}
	for i, r := range opts.Rules {
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule %d", i+1)
		}
		if err := l.AddRule(r); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i := range l.rngs {
		l.rngs[i] = rand.New(rand.NewPCG(opts.Seed, uint64(i)+0x9e3779b97f4a7c15))
	}
	return l, nil
}

// AddRule appends a rule, checked as New checks Options.Rules. It applies
// to packets sent from then on.
func (l *Link) AddRule(r Rule) error {
	name := r.Name
	if name == "" {
		name = fmt.Sprintf("rule %d", len(l.rules)+1)
	}
	if err := checkRule(name, r); err != nil {
		return err
	}
	l.rules = append(l.rules, ruleState{Rule: r, name: name, armed: r.After == nil})
	return nil
}

func checkRule(name string, r Rule) error {
	if r.Nth < 0 {
		return fmt.Errorf("netem: %s: nth %d: want >= 1 (0 means the first)", name, r.Nth)
	}
	switch r.Action.Kind {
	case Drop:
	case Delay, Duplicate:
		if r.Action.Delay < 0 {
			return fmt.Errorf("netem: %s: %s by %v: want a duration >= 0", name, r.Action.Kind, r.Action.Delay)
		}
	case Hold:
		if r.Action.Until < 0 {
			return fmt.Errorf("netem: %s: hold until %v: want a time >= 0", name, r.Action.Until)
		}
	default:
		return fmt.Errorf("netem: %s: no action: want drop, delay, duplicate or hold", name)
	}
	return nil
}

// Send puts pkt on the link in direction dir (AtoB or BtoA) at virtual time
// now and returns the copies that come out. The returned slice is reused by
// the next call. A packet that is not TCP/IPv4 is matched by no rule.
func (l *Link) Send(now time.Duration, dir Dir, pkt []byte) []Out {
	idx := 0
	if dir == BtoA {
		idx = 1
	}
	path := l.paths[idx]
	// Draw the random loss first, for every packet, so that adding a rule
	// never shifts the random fate of other packets.
	lost := path.Loss > 0 && l.rngs[idx].Float64() < path.Loss

	h, isTCP := Decode(pkt)
	var act *ruleState
	if isTCP {
		for i := range l.rules {
			r := &l.rules[i]
			if r.armed && r.Match.matches(dir, &h, pkt) {
				r.seen++
				first := max(r.Nth, 1)
				if act == nil && r.seen >= first && (r.Count < 0 || r.seen < first+max(r.Count, 1)) {
					act = r
				}
			}
			if !r.armed && r.After.matches(dir, &h, pkt) {
				r.armed = true
			}
		}
	}
	out := l.out[:0]
	at := now + path.Delay
	switch {
	case act != nil && act.Action.Kind == Drop:
		out = append(out, Out{Fate: Dropped, At: -1, Rule: act.name})
	case act != nil && act.Action.Kind == Hold:
		until := time.Duration(-1)
		if act.Action.Until > 0 {
			until = max(act.Action.Until, now)
		}
		out = append(out, Out{Fate: Held, At: until, Rule: act.name})
	case lost:
		out = append(out, Out{Fate: Dropped, At: -1, Rule: "loss"})
	case act != nil && act.Action.Kind == Delay:
		out = append(out, Out{Fate: Delivered, At: at + act.Action.Delay, Rule: act.name})
	case act != nil && act.Action.Kind == Duplicate:
		out = append(out, Out{Fate: Delivered, At: at},
			Out{Fate: Duplicated, At: at + act.Action.Delay, Rule: act.name})
	default:
		out = append(out, Out{Fate: Delivered, At: at})
	}
	l.out = out
	return out
}

// Path returns the configuration of direction dir (AtoB or BtoA).
func (l *Link) Path(dir Dir) Path {
	if dir == BtoA {
		return l.paths[1]
	}
	return l.paths[0]
}
