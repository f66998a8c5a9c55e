package netem

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// This file is tc-netem (Linux net/sched/sch_netem.c, iproute2 tc-netem(8))
// on packet bytes: the same parameters, the same order of decisions per
// packet, the same correlation and loss-model arithmetic, on a seeded
// stream. Probabilities are fractions in [0, 1] (tc writes percents).

// Dist is the distribution of delay jitter.
type Dist uint8

// Distributions (tc-netem's "distribution" argument).
const (
	// Uniform jitter in [-jitter, +jitter): tc-netem's default.
	Uniform Dist = iota
	Normal
	Pareto
	ParetoNormal
	// UserTable uses Path.Table.
	UserTable
)

func (d Dist) String() string {
	return [...]string{"uniform", "normal", "pareto", "paretonormal", "table"}[d]
}

// DistScale is tc-netem's NETEM_DIST_SCALE: table entries are multiples of
// jitter/DistScale.
const DistScale = 8192

// GilbertElliott is tc-netem's "loss gemodel p r 1-h 1-k": a good and a bad
// state; P is good->bad, R bad->good, LossBad (1-h) the loss probability in
// the bad state and LossGood (1-k) in the good state.
type GilbertElliott struct {
	P, R, LossBad, LossGood float64
}

// FourState is tc-netem's "loss state p13 p31 p32 p23 p14": the 4-state
// Markov model of Salvo et al. State 1 is "receiving in a gap", 2 "receiving
// in a burst", 3 "lost in a burst", 4 "isolated loss".
type FourState struct {
	P13, P31, P32, P23, P14 float64
}

// Slot is tc-netem's "slot MIN MAX [packets N] [bytes M]": packets leave
// only in slots that open every MIN..MAX, each taking at most N packets and
// M bytes (0: no limit).
type Slot struct {
	Min, Max       time.Duration
	Packets, Bytes int
}

// DefaultLimit is tc-netem's default queue limit, in packets.
const DefaultLimit = 1000

// crnd is sch_netem's correlated random state (struct crndstate).
type crnd struct {
	rho  uint32
	last uint32
}

// next is get_crandom: a uniform u32 correlated with the previous one.
func (c *crnd) next(r *rand.Rand) uint32 {
	v := r.Uint32()
	if c.rho == 0 {
		return v
	}
	rho := uint64(c.rho) + 1
	a := uint32((uint64(v)*((1<<32)-rho) + uint64(c.last)*rho) >> 32)
	c.last = a
	return a
}

// u32 maps a probability to tc-netem's fixed point (get_percent: p*UINT32_MAX).
func u32(p float64) uint32 {
	if p >= 1 {
		return math.MaxUint32
	}
	return uint32(math.Round(p * math.MaxUint32))
}

// impair is one direction's tc-netem state.
type impair struct {
	p   Path
	rng *rand.Rand

	delayCor, lossCor, dupCor, corruptCor, reorderCor crnd
	loss, dup, corrupt, reorder                       uint32
	table                                             []int16

	ge    [4]uint32 // a1..a4 of clgstate for Gilbert-Elliott
	fs    [5]uint32 // a1..a5 for the 4-state model
	state int       // clgstate.state

	counter int // reorder gap counter

	// queue: the send times of packets still in the qdisc (a min-heap),
	// and the time the last enqueued one leaves (the rate reference).
	queue   []time.Duration
	lastTTS time.Duration
	haveTTS bool

	slotNext            time.Duration
	slotPkts, slotBytes int
}

// loss-model states (sch_netem.c).
const (
	txInGap = iota + 1
	txInBurst
	lostInBurst
	lostInGap
)

const (
	geGood = iota + 1
	geBad
)

func newImpair(p Path, seed uint64, stream uint64) *impair {
	im := &impair{p: p, rng: rand.New(rand.NewPCG(seed, stream))}
	im.delayCor.rho = u32(p.DelayCorr)
	im.lossCor.rho = u32(p.LossCorr)
	im.dupCor.rho = u32(p.DuplicateCorr)
	im.corruptCor.rho = u32(p.CorruptCorr)
	im.reorderCor.rho = u32(p.ReorderCorr)
	im.loss, im.dup, im.corrupt, im.reorder = u32(p.Loss), u32(p.Duplicate), u32(p.Corrupt), u32(p.Reorder)
	switch p.Dist {
	case Normal:
		im.table = normalTable
	case Pareto:
		im.table = paretoTable
	case ParetoNormal:
		im.table = paretoNormalTable
	case UserTable:
		im.table = p.Table
	}
	if g := p.GE; g != nil {
		// clgstate for NETEM_LOSS_GE: a1=p, a2=r, a3=h, a4=1-k.
		im.ge = [4]uint32{u32(g.P), u32(g.R), u32(1 - g.LossBad), u32(g.LossGood)}
		im.state = geGood
	}
	if f := p.FourState; f != nil {
		im.fs = [5]uint32{u32(f.P13), u32(f.P31), u32(f.P32), u32(f.P14), u32(f.P23)}
		im.state = txInGap
	}
	return im
}

// lossEvent is sch_netem's loss_event.
func (im *impair) lossEvent() bool {
	switch {
	case im.p.GE != nil:
		return im.lossGE()
	case im.p.FourState != nil:
		return im.loss4()
	}
	return im.loss != 0 && im.loss >= im.lossCor.next(im.rng)
}

// lossGE is loss_gilb_ell.
func (im *impair) lossGE() bool {
	a1, a2, a3, a4 := im.ge[0], im.ge[1], im.ge[2], im.ge[3]
	switch im.state {
	case geGood:
		if im.rng.Uint32() < a1 {
			im.state = geBad
		}
		if im.rng.Uint32() < a4 {
			return true
		}
	case geBad:
		if im.rng.Uint32() < a2 {
			im.state = geGood
		}
		if im.rng.Uint32() > a3 {
			return true
		}
	}
	return false
}

// loss4 is loss_4state (a1=p13, a2=p31, a3=p32, a4=p14, a5=p23).
func (im *impair) loss4() bool {
	a1, a2, a3, a4, a5 := im.fs[0], im.fs[1], im.fs[2], im.fs[3], im.fs[4]
	rnd := im.rng.Uint32()
	switch im.state {
	case txInGap:
		switch {
		case rnd < a4:
			im.state = lostInGap
			return true
		case a4 < rnd && rnd < a1+a4:
			im.state = lostInBurst
			return true
		}
	case txInBurst:
		if rnd < a5 {
			im.state = lostInBurst
			return true
		}
	case lostInBurst:
		switch {
		case rnd < a3:
			im.state = txInBurst
		case a3 < rnd && rnd < a2+a3:
			im.state = txInGap
		case a2+a3 < rnd:
			return true
		}
	case lostInGap:
		im.state = txInGap
	}
	return false
}

// tabledist is sch_netem's tabledist: mu plus jitter drawn from the
// distribution.
func (im *impair) tabledist() time.Duration {
	mu, sigma := int64(im.p.Delay), int64(im.p.Jitter)
	if sigma == 0 {
		return time.Duration(mu)
	}
	rnd := im.delayCor.next(im.rng)
	if im.table == nil {
		return time.Duration(int64(uint64(rnd)%uint64(2*sigma)) + mu - sigma)
	}
	t := int64(im.table[int(rnd)%len(im.table)])
	x := (sigma % DistScale) * t
	if x >= 0 {
		x += DistScale / 2
	} else {
		x -= DistScale / 2
	}
	return time.Duration(x/DistScale + (sigma/DistScale)*t + mu)
}

// packetTime is packet_time_ns: how long len bytes take at the rate.
func (im *impair) packetTime(n int) time.Duration {
	n += im.p.Overhead
	if c := im.p.CellSize; c > 0 {
		cells := n / c
		if n > cells*c {
			cells++
		}
		n = cells * (c + im.p.CellOverhead)
	}
	return time.Duration(float64(n) * float64(time.Second) / im.p.Rate)
}

// qlen drops the packets that have left by now and returns how many remain.
func (im *impair) qlen(now time.Duration) int {
	for len(im.queue) > 0 && im.queue[0] <= now {
		n := len(im.queue) - 1
		im.queue[0] = im.queue[n]
		im.queue = im.queue[:n]
		im.siftDown()
	}
	return len(im.queue)
}

func (im *impair) push(t time.Duration) {
	im.queue = append(im.queue, t)
	for j := len(im.queue) - 1; j > 0; {
		i := (j - 1) / 2
		if im.queue[i] <= im.queue[j] {
			break
		}
		im.queue[i], im.queue[j] = im.queue[j], im.queue[i]
		j = i
	}
}

func (im *impair) siftDown() {
	q, i := im.queue, 0
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		j := l
		if l+1 < len(q) && q[l+1] < q[l] {
			j = l + 1
		}
		if q[i] <= q[j] {
			return
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
}

// netemOut is what the qdisc does with one packet: drop, or send at a time,
// possibly corrupted, possibly with a duplicate.
type netemOut struct {
	drop string // "loss" or "limit"
	at   time.Duration
	// flip, when >= 0, is the byte to corrupt (bit flipBit).
	flip    int
	flipBit uint8
}

// enqueue is netem_enqueue for one packet entering at now; dup says
// whether duplication may apply (a duplicate is enqueued with it off). It
// appends the copies that leave to outs.
func (im *impair) enqueue(now time.Duration, pkt []byte, dup bool, outs []netemOut) []netemOut {
	count := 1
	if dup && im.dup != 0 && im.dup >= im.dupCor.next(im.rng) {
		count++
	}
	if im.lossEvent() {
		count--
	}
	if count == 0 {
		return append(outs, netemOut{drop: "loss", flip: -1})
	}
	if count > 1 {
		// The copy goes through the qdisc first, without duplication.
		outs = im.enqueue(now, pkt, false, outs)
	}
	flip, bit := -1, uint8(0)
	if im.corrupt != 0 && im.corrupt >= im.corruptCor.next(im.rng) && len(pkt) > 0 {
		flip, bit = im.rng.IntN(len(pkt)), uint8(im.rng.IntN(8))
	}
	limit := im.p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	if im.qlen(now) >= limit {
		return append(outs, netemOut{drop: "limit", flip: -1})
	}
	var at time.Duration
	if im.p.Gap == 0 || im.counter < im.p.Gap-1 || im.reorder < im.reorderCor.next(im.rng) {
		delay := im.tabledist()
		ref := now
		if im.p.Rate > 0 {
			if im.haveTTS && im.lastTTS > now {
				delay = max(delay-(im.lastTTS-now), 0)
				ref = im.lastTTS
			}
			delay += im.packetTime(len(pkt))
		}
		at = ref + delay
		im.counter++
	} else {
		at = now // reordered: to the head of the queue
		im.counter = 0
	}
	at = im.slotted(at, len(pkt))
	if im.p.Rate > 0 {
		im.lastTTS, im.haveTTS = at, true
	}
	im.push(at)
	return append(outs, netemOut{at: at, flip: flip, flipBit: bit})
}

// slotted delays a departure to the next slot with room (get_slot_next and
// the slot accounting of netem_dequeue), taking packets in the order they
// are sent.
func (im *impair) slotted(at time.Duration, n int) time.Duration {
	s := im.p.Slot
	if s == nil {
		return at
	}
	open := func(from time.Duration) {
		d := s.Min
		if s.Max > s.Min {
			d += time.Duration(im.rng.Int64N(int64(s.Max - s.Min)))
		}
		im.slotNext = from + d
		im.slotPkts, im.slotBytes = s.Packets, s.Bytes
	}
	if im.slotNext == 0 && im.slotPkts == 0 && im.slotBytes == 0 {
		open(at)
		im.slotNext = at
	}
	for at < im.slotNext || (s.Packets > 0 && im.slotPkts <= 0) || (s.Bytes > 0 && im.slotBytes <= 0) {
		if at < im.slotNext {
			at = im.slotNext
			continue
		}
		open(im.slotNext)
	}
	im.slotPkts--
	im.slotBytes -= n
	return at
}

// check validates a direction's parameters; what names the direction.
func (p Path) check(what string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("netem: %s: "+format, append([]any{what}, args...)...))
	}
	prob := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad("%s %v is out of range: want a probability in [0, 1] (0%% to 100%%)", name, v)
		}
	}
	if p.Delay < 0 {
		bad("delay %v is negative: want a duration >= 0", p.Delay)
	}
	if p.Jitter < 0 {
		bad("jitter %v is negative: want a duration >= 0", p.Jitter)
	}
	prob("loss", p.Loss)
	prob("loss correlation", p.LossCorr)
	prob("delay correlation", p.DelayCorr)
	prob("duplicate", p.Duplicate)
	prob("duplicate correlation", p.DuplicateCorr)
	prob("corrupt", p.Corrupt)
	prob("corrupt correlation", p.CorruptCorr)
	prob("reorder", p.Reorder)
	prob("reorder correlation", p.ReorderCorr)
	if p.Reorder > 0 && p.Delay == 0 {
		bad("reorder needs a delay (tc-netem: reordering not possible without specifying some delay)")
	}
	if p.Gap < 0 {
		bad("gap %d: want a number of packets >= 0", p.Gap)
	}
	if p.Rate < 0 || math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) {
		bad("rate %v: want bytes per second >= 0", p.Rate)
	}
	if p.CellSize < 0 || p.Limit < 0 {
		bad("cell size and limit must be >= 0")
	}
	if p.Dist == UserTable && len(p.Table) == 0 {
		bad("distribution table is empty")
	}
	if g := p.GE; g != nil {
		prob("gemodel p", g.P)
		prob("gemodel r", g.R)
		prob("gemodel 1-h", g.LossBad)
		prob("gemodel 1-k", g.LossGood)
		if p.FourState != nil || p.Loss > 0 {
			bad("gemodel cannot be combined with another loss model")
		}
	}
	if f := p.FourState; f != nil {
		for _, x := range []struct {
			n string
			v float64
		}{{"p13", f.P13}, {"p31", f.P31}, {"p32", f.P32}, {"p23", f.P23}, {"p14", f.P14}} {
			prob("state "+x.n, x.v)
		}
		if f.P13+f.P14 > 1 || f.P31+f.P32 > 1 {
			bad("state: p13+p14 and p31+p32 must each be at most 100%%")
		}
		if p.Loss > 0 {
			bad("the 4-state model cannot be combined with random loss")
		}
	}
	if s := p.Slot; s != nil && (s.Min < 0 || s.Max < s.Min || s.Packets < 0 || s.Bytes < 0) {
		bad("slot %v %v: want 0 <= MIN <= MAX, and packets and bytes >= 0", s.Min, s.Max)
	}
	return errs
}

// active reports whether the path needs the tc-netem engine at all.
func (p Path) active() bool {
	return p.Jitter > 0 || p.Loss > 0 || p.GE != nil || p.FourState != nil || p.Duplicate > 0 ||
		p.Corrupt > 0 || p.Reorder > 0 || p.Rate > 0 || p.Slot != nil || p.Limit > 0
}
