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

// Path is one direction of a link: tc-netem's parameters (tc-netem(8)),
// applied as sch_netem applies them. The zero value is a perfect wire.
// Probabilities are fractions in [0, 1]; correlations too.
type Path struct {
	// Delay is the one-way delay; Jitter spreads it by Dist, with
	// DelayCorr correlation between successive packets.
	Delay, Jitter time.Duration
	DelayCorr     float64
	Dist          Dist
	// Table is the user distribution for Dist == UserTable, in units of
	// Jitter/DistScale (as tc-netem's .dist files).
	Table []int16
	// Loss is random loss with correlation LossCorr. GE and FourState are
	// tc-netem's loss models; at most one loss model may be set.
	Loss, LossCorr float64
	GE             *GilbertElliott
	FourState      *FourState
	// Duplicate and Corrupt (one random bit) with their correlations.
	Duplicate, DuplicateCorr float64
	Corrupt, CorruptCorr     float64
	// Reorder sends a packet at once with this probability when the gap
	// counter allows (every Gap-th packet; Gap 0 means 1 when Reorder is
	// set); it needs a Delay.
	Reorder, ReorderCorr float64
	Gap                  int
	// Rate limits the link to Rate bytes per second, each packet counting
	// Overhead more bytes, in cells of CellSize (+CellOverhead) if set.
	Rate                             float64
	Overhead, CellSize, CellOverhead int
	// Limit is the queue length in packets (tail drop); 0 means 1000.
	Limit int
	// Slot makes packets leave in slots.
	Slot *Slot
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
	// Rule names what decided the fate: a rule, "loss" (the loss model),
	// "limit" (a full queue) or "duplicate" (netem's own copy); empty when
	// the copy simply crossed the link.
	Rule string
	// Corrupt, when >= 0, is the index of the byte of this copy in which
	// bit CorruptBit is flipped (tc-netem corrupt); the caller applies it.
	Corrupt    int
	CorruptBit uint8
}

// Link is a point-to-point link between side A and side B. It works on
// packet bytes only and never touches a stack. A Link is not safe for
// concurrent use, except that Send in one direction may run beside Send
// in the other when the link has no rules (each direction has its own
// path, random streams and scratch; rules count both).
type Link struct {
	paths [2]Path
	rngs  [2]*rand.Rand
	imps  [2]*impair // nil when a direction needs no tc-netem engine
	rules []ruleState
	// out and nout are each direction's scratch: the two directions of a
	// link with no rules may be sent on at once (a parallel World's
	// lanes), so they share nothing.
	out  [2][]Out
	nout [2][]netemOut
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
		errs = append(errs, p.check([]string{"A>B", "B>A"}[i])...)
	}
	l := &Link{paths: [2]Path{opts.AtoB, opts.BtoA}, out: [2][]Out{make([]Out, 0, 2), make([]Out, 0, 2)}}
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
		if l.paths[i].active() {
			l.imps[i] = newImpair(l.paths[i], opts.Seed, uint64(i)+0x51ed)
		}
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
// the next call in the same direction. A packet that is not TCP/IPv4 is matched by no rule.
func (l *Link) Send(now time.Duration, dir Dir, pkt []byte) []Out {
	idx := 0
	if dir == BtoA {
		idx = 1
	}
	path := l.paths[idx]

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
	out := l.out[idx][:0]
	switch {
	case act != nil && act.Action.Kind == Drop:
		out = append(out, Out{Fate: Dropped, At: -1, Rule: act.name, Corrupt: -1})
		l.out[idx] = out
		return out
	case act != nil && act.Action.Kind == Hold:
		until := time.Duration(-1)
		if act.Action.Until > 0 {
			until = max(act.Action.Until, now)
		}
		out = append(out, Out{Fate: Held, At: until, Rule: act.name, Corrupt: -1})
		l.out[idx] = out
		return out
	}
	// The qdisc: tc-netem's engine, or a plain delay on a perfect path.
	var extra time.Duration
	if act != nil && act.Action.Kind == Delay {
		extra = act.Action.Delay
	}
	rule := ""
	if act != nil && act.Action.Kind == Delay {
		rule = act.name
	}
	if im := l.imps[idx]; im != nil {
		l.nout[idx] = im.enqueue(now, pkt, true, l.nout[idx][:0])
		n := len(l.nout[idx])
		for i, o := range l.nout[idx] {
			c := Out{Fate: Delivered, At: o.at + extra, Rule: rule, Corrupt: o.flip, CorruptBit: o.flipBit}
			switch {
			case o.drop != "":
				c = Out{Fate: Dropped, At: -1, Rule: o.drop, Corrupt: -1}
			case i < n-1:
				// netem's own duplicate (enqueued before the original).
				c.Fate, c.Rule = Duplicated, "duplicate"
			}
			out = append(out, c)
		}
		// The original comes first in what the caller records.
		if len(out) > 1 {
			out[0], out[len(out)-1] = out[len(out)-1], out[0]
		}
	} else {
		out = append(out, Out{Fate: Delivered, At: now + path.Delay + extra, Rule: rule, Corrupt: -1})
	}
	if act != nil && act.Action.Kind == Duplicate && out[0].Fate == Delivered {
		out = append(out, Out{Fate: Duplicated, At: out[0].At + act.Action.Delay, Rule: act.name, Corrupt: -1})
	}
	l.out[idx] = out
	return out
}

// SetPath replaces the configuration of direction dir from now on (a fresh
// tc-netem state, as tc qdisc change would give); rules stay.
func (l *Link) SetPath(dir Dir, p Path) error {
	idx := 0
	if dir == BtoA {
		idx = 1
	}
	if errs := p.check(dir.String()); len(errs) > 0 {
		return errors.Join(errs...)
	}
	l.paths[idx] = p
	l.imps[idx] = nil
	if p.active() {
		l.imps[idx] = newImpair(p, l.rngs[idx].Uint64(), uint64(idx)+0x51ed)
	}
	return nil
}

// Path returns the configuration of direction dir (AtoB or BtoA).
func (l *Link) Path(dir Dir) Path {
	if dir == BtoA {
		return l.paths[1]
	}
	return l.paths[0]
}
