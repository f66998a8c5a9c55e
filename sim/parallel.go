package sim

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

// A parallel World runs its nodes in lanes (lane.go), at once, in windows
// of virtual time: one runner per P (the caller and GOMAXPROCS-1 workers)
// takes lanes until each has run its events up to the window's end. A
// window starts at the earliest event of any lane and ends before the
// shortest delay of a link between two lanes has passed (the lookahead),
// and within 10 ms: a packet one lane sends within a window cannot arrive
// at another lane's node before the window ends. Such
// packets wait in the sender's lane until then and are queued at their
// lane, where they take a place among its events that depends on neither
// the windows nor which lane finished first (eventHeap.less). Events of no
// node (At) run between windows, every lane stopped at their time; so do
// the samplers.
//
// What this changes against one lane is the order of events at one
// instant on two lanes: one lane runs them in the order they were made;
// in lanes, a lane runs its own events of an instant first, then the
// packets from other lanes arriving then, by the time they were sent and
// then by lane. Outputs are the same for every run and every GOMAXPROCS,
// but may differ from the one-lane run's at such instants; that is why a
// World is parallel only when asked.

// parallel runs a World's lanes.
type parallel struct {
	w *World
	// claim is the running window's number (its epoch) and the next lane
	// a runner takes in it: epoch<<laneBits | lane. Raising the epoch starts
	// a window (or, with the crew's quit, stops the workers); a runner
	// claims a lane only in the epoch it saw, so one that comes late to a
	// window takes nothing from the next. done counts the lanes finished.
	claim atomic.Uint64
	done  atomic.Int64
	// limit is the running window's last instant; errs the error each
	// lane stopped on in it.
	limit time.Duration
	max   []int64
	errs  []error
	// order is the order runners take the lanes in, all the lanes in
	// theirs; before is each lane's event count when the window started.
	order  []int
	all    []int
	before []int64
	// crew are the workers (nil before the first window).
	crew *crew
	// panics are what lanes' events panicked with in the window; procs
	// is GOMAXPROCS when the run started.
	panics []*lanePanic
	procs  int
}

// Parallel splits the World's nodes into lanes that run at once: lane 0
// holds every node not named, and each group of names is a lane of its
// own, in order. It must be called before the first host or hop, on a
// World that keeps no trace (Options.DiscardTrace: which of two lanes'
// packets comes first at one instant would depend on the machine) and
// runs on virtual time. Links between two lanes must have a delay, no
// jitter, no reordering and no rules (see AddLink); the shortest such
// delay is how far the lanes may run apart.
func (w *World) Parallel(groups [][]string) error {
	switch {
	case w.opts.Clock != nil:
		return fmt.Errorf("sim: parallel: a World on a real clock runs in one lane")
	case !w.opts.DiscardTrace:
		return fmt.Errorf("sim: parallel: a World that keeps its packets runs in one lane (the order of two lanes' packets at one instant would depend on the machine): discard the trace (records none)")
	case w.par != nil:
		return fmt.Errorf("sim: parallel: the World is parallel already")
	case len(w.hosts)+len(w.hops) > 0:
		return fmt.Errorf("sim: parallel: it must come before the first host or hop")
	case len(groups) == 0:
		return fmt.Errorf("sim: parallel: name at least one group of nodes")
	}
	laneOf := map[string]int{}
	for i, g := range groups {
		if len(g) == 0 {
			return fmt.Errorf("sim: parallel: group %d is empty", i+1)
		}
		for _, name := range g {
			if name == "" {
				return fmt.Errorf("sim: parallel: group %d has an empty name", i+1)
			}
			if j, ok := laneOf[name]; ok {
				return fmt.Errorf("sim: parallel: %s is in group %d and group %d", name, j, i+1)
			}
			laneOf[name] = i + 1
		}
	}
	if len(groups) >= laneMask {
		return fmt.Errorf("sim: parallel: %d groups: want fewer than %d", len(groups), laneMask)
	}
	w.laneOf = laneOf
	for i := range groups {
		ln := newLane(w, i+1)
		ln.now.Store(int64(w.Now()))
		w.lanes = append(w.lanes, ln)
	}
	n := len(w.lanes)
	w.par = &parallel{w: w, max: make([]int64, n), errs: make([]error, n), order: make([]int, n), before: make([]int64, n), panics: make([]*lanePanic, n)}
	w.par.all = make([]int, n)
	for i := range w.par.order {
		w.par.order[i], w.par.all[i] = i, i
	}
	return nil
}

// OnWindow sets fn to run after each window of a parallel World, and after
// each event of no node, every lane stopped: for what lanes' events leave
// to be gathered in a fixed order. A World of one lane never calls it.
func (w *World) OnWindow(fn func()) { w.onWindow = fn }

// Lanes returns how many lanes the World runs: 1 unless it is Parallel.
func (w *World) Lanes() int { return len(w.lanes) }

// LaneOf returns the lane the node runs on.
func (w *World) LaneOf(n Node) int { return laneOf(n).idx }

// laneFor returns the lane of the node named name.
func (w *World) laneFor(name string) *lane {
	if i, ok := w.laneOf[name]; ok {
		return w.lanes[i]
	}
	return w.lanes[0]
}

// laneOf returns the lane a node runs on.
func laneOf(n Node) *lane {
	switch n := n.(type) {
	case *Host:
		return n.ln
	case *Hop:
		return n.ln
	}
	return nil
}

// joinsLanes reports whether the link's ends run on two lanes.
func (l *Link) joinsLanes() bool { return laneOf(l.a) != laneOf(l.b) }

// checkLink says why l, about to be added with opts, cannot join its ends'
// lanes, or nil.
func (w *World) checkLink(l *Link, opts netem.Options) error {
	if !l.joinsLanes() {
		return nil
	}
	if len(opts.Rules) > 0 {
		return fmt.Errorf("sim: link %s-%s joins two lanes: it takes no rules (a rule would see both directions at once)", l.a.Name(), l.b.Name())
	}
	if err := crossingPath(l, l.a, opts.AtoB); err != nil {
		return err
	}
	return crossingPath(l, l.b, opts.BtoA)
}

// checkCrossing says why the path p from node from cannot replace the
// current one on l, or nil.
func (w *World) checkCrossing(l *Link, from Node, p netem.Path) error {
	if !l.joinsLanes() {
		return nil
	}
	return crossingPath(l, from, p)
}

// crossingPath says why packets from node from cannot take path p across
// two lanes, or nil: each must arrive at least p.Delay after it left.
func crossingPath(l *Link, from Node, p netem.Path) error {
	switch {
	case p.Delay <= 0:
		return fmt.Errorf("sim: link %s-%s joins two lanes: packets from %s need a delay (it is how far the lanes may run apart)", l.a.Name(), l.b.Name(), from.Name())
	case p.Jitter != 0 || p.Reorder != 0 || p.Gap != 0:
		return fmt.Errorf("sim: link %s-%s joins two lanes: packets from %s may not have jitter or reordering (they could arrive before the delay)", l.a.Name(), l.b.Name(), from.Name())
	}
	return nil
}

// lookahead is the shortest delay of a link between two lanes; 0 when no
// link joins two lanes (the lanes never meet).
func (p *parallel) lookahead() time.Duration {
	var d time.Duration
	for _, l := range p.w.links {
		if !l.joinsLanes() {
			continue
		}
		for _, from := range []Node{l.a, l.b} {
			if x := l.Path(from).Delay; d == 0 || x < d {
				d = x
			}
		}
	}
	return d
}

// at queues fn, an event of no node, for virtual time t.
func (p *parallel) at(t time.Duration, fn func()) {
	w := p.w
	w.gseq++
	ev := &event{kind: evApp, fn: fn, index: -1, at: max(t, w.Now()), seq: w.gseq}
	w.global.push(ev)
}

// runFor runs every event due by end, window after window.
func (p *parallel) runFor(end time.Duration) error {
	if err := p.runTo(end); err != nil {
		return err
	}
	p.w.sampleBefore(end, true)
	p.w.setNow(end)
	return nil
}

// runTo runs window after window until nothing is left due by end.
func (p *parallel) runTo(end time.Duration) error {
	p.procs = runtime.GOMAXPROCS(0)
	for {
		ran, err := p.advance(end, false)
		if err != nil || !ran {
			return err
		}
	}
}

// step runs the next instant: the events of every lane (or of no node)
// due at the earliest time any is, leaving every lane at that time; false
// when no event is left.
func (p *parallel) step() (bool, error) {
	p.procs = runtime.GOMAXPROCS(0)
	return p.advance(maxDuration, true)
}

// run runs window after window until no event is left, and fails, as
// Step does, on an event past the World's time budget.
func (p *parallel) run() error {
	w := p.w
	if err := p.runTo(w.opts.MaxTime); err != nil {
		return err
	}
	if at, ok := w.NextEventAt(); ok {
		return w.budgetError("virtual-time", at, w.Events())
	}
	return nil
}

// maxDuration is the latest virtual time.
const maxDuration = time.Duration(1<<63 - 1)

// maxWindow bounds a window where no link between lanes does (there is
// none, or its delay is long): the event budget is shared out, and
// progress reported, window by window.
const maxWindow = 10 * time.Millisecond

// advance runs, if anything is due by end, the events of no node at the
// earliest instant or the lanes' next window, and reports whether it ran
// anything.
func (p *parallel) advance(end time.Duration, instant bool) (bool, error) {
	w := p.w
	// What the notebook's own calls sent between runs waits to be queued.
	if err := p.merge(w.Now() - 1); err != nil {
		return true, err
	}
	start, ok := time.Duration(0), false
	for _, ln := range w.lanes {
		if at, has := ln.nextAt(); has && (!ok || at < start) {
			start, ok = at, true
		}
	}
	global := len(w.global) > 0 && (!ok || w.global[0].at <= start)
	if global {
		start, ok = w.global[0].at, true
	}
	if !ok || start > end {
		return false, nil
	}
	if start > w.opts.MaxTime {
		return true, w.budgetError("virtual-time", start, w.Events())
	}
	w.sampleBefore(start, false)
	w.setNow(start)
	before := w.Events()
	if before >= w.opts.MaxEvents {
		return true, w.budgetError("event", start, before)
	}
	var err error
	reached := start
	if global {
		err = p.runGlobal(start)
	} else {
		reached, err = p.window(start, end, instant)
	}
	w.setNow(reached)
	if w.onWindow != nil {
		w.onWindow()
	}
	if err != nil {
		return true, err
	}
	if after := w.Events(); w.opts.Progress != nil && after/ProgressEvents != before/ProgressEvents {
		w.opts.Progress(reached, w.until, after)
	}
	return true, nil
}

// runGlobal runs the events of no node due at t, each as one event of
// every lane.
func (p *parallel) runGlobal(t time.Duration) error {
	w := p.w
	for len(w.global) > 0 && w.global[0].at == t {
		if n := w.Events(); n >= w.opts.MaxEvents {
			if err := p.merge(t); err != nil {
				return err
			}
			return w.budgetError("event", t, n)
		}
		ev := w.global.pop()
		w.lanes[0].events++
		for _, ln := range w.lanes {
			ln.inEvent.Store(true)
		}
		ev.fn()
		for _, ln := range w.lanes {
			ln.settle()
		}
		for _, ln := range w.lanes {
			ln.inEvent.Store(false)
		}
		w.setNow(t)
	}
	return p.merge(t)
}

// window runs every lane's events from start to the window's end, at
// once, and returns the end: start itself when instant.
func (p *parallel) window(start, end time.Duration, instant bool) (time.Duration, error) {
	w := p.w
	limit := min(end, start+maxWindow-1)
	if d := p.lookahead(); d > 0 {
		limit = min(limit, start+d-1)
	}
	if len(w.global) > 0 {
		limit = min(limit, w.global[0].at-1)
	}
	for _, s := range w.samplers {
		if s.next >= start {
			limit = min(limit, s.next)
		}
	}
	if instant {
		limit = start
	}
	p.limit = limit
	for i, ln := range w.lanes {
		p.before[i] = ln.events
		p.errs[i] = nil
		p.panics[i] = nil
	}
	p.shareBudget(p.all)
	p.start()
	p.done.Store(0)
	e := p.newEpoch()
	p.wakeCrew()
	p.runLanes(e)
	n := int64(len(w.lanes))
	for !spin(p.procs > 1, func() bool { return p.done.Load() == n }) {
	}
	p.rePanic()
	// A lane that ran out of its share of the budget goes on, here, with a
	// share of what the others left, until it is done or nothing is left.
	// (No packet arrives within a window: a lane going on later changes
	// nothing.)
	for {
		var short []int
		for i, err := range p.errs {
			if be, ok := err.(*BudgetError); ok && be.Budget == "event" {
				short = append(short, i)
			}
		}
		if len(short) == 0 || w.Events() >= w.opts.MaxEvents {
			break
		}
		p.shareBudget(short)
		for _, i := range short {
			p.runLane(i)
		}
		p.rePanic()
	}
	p.reorder()
	if err := p.merge(limit); err != nil {
		return limit, err
	}
	for _, err := range p.errs {
		if be, ok := err.(*BudgetError); ok {
			be.Events = w.Events()
		}
		if err != nil {
			return limit, err
		}
	}
	return limit, nil
}

// shareBudget shares what is left of the event budget among the lanes
// given, in lane order, the first ones taking the remainder, so that the
// lanes together stay within it.
func (p *parallel) shareBudget(lanes []int) {
	w := p.w
	left := max(w.opts.MaxEvents-w.Events(), 0)
	n := int64(len(lanes))
	for k, i := range lanes {
		share := left / n
		if int64(k) < left%n {
			share++
		}
		p.max[i] = w.lanes[i].events + share
		p.errs[i] = nil
	}
}

// rePanic panics, on the caller, with what a lane's event panicked with
// on a runner, the first lane's first.
func (p *parallel) rePanic() {
	for i, v := range p.panics {
		if v != nil {
			panic(fmt.Sprintf("%v\n\n(in an event of lane %d, on a runner's goroutine:)\n%s", v.value, i, v.stack))
		}
	}
}

// lanePanic is what a lane's event panicked with on a runner, kept for the
// caller to panic with after the window.
type lanePanic struct {
	value any
	stack []byte
}

// merge queues the packets the lanes sent each other up to limit at their
// lanes (their place there is their own: eventHeap.less).
func (p *parallel) merge(limit time.Duration) error {
	var bad error
	for _, ln := range p.w.lanes {
		for i, ev := range ln.out {
			to := ev.pkt.dest()
			if ev.at <= limit && bad == nil {
				bad = fmt.Errorf("sim: parallel: a packet from lane %d arrives at lane %d at %v, within the window it was sent in (ending %v)", ln.idx, to.idx, ev.at, limit)
			}
			to.mu.Lock()
			to.heap.push(ev) // in its place among the lane's own (eventHeap)
			to.mu.Unlock()
			ln.out[i] = nil
		}
		ln.out = ln.out[:0]
	}
	return bad
}

// runWindow runs the lane's events up to limit, no further than its event
// count max.
func (ln *lane) runWindow(limit time.Duration, max int64) error {
	for {
		ln.mu.Lock()
		if len(ln.heap) == 0 || ln.heap[0].at > limit {
			ln.mu.Unlock()
			return nil
		}
		ev := ln.heap[0]
		if ln.events >= max {
			ln.mu.Unlock()
			return ln.w.budgetError("event", ev.at, 0) // the window counts them all
		}
		if ln.events%memoryCheckEvents == 0 && overMemory(ln.heapSample, ln.w.opts.MaxMemory) {
			ln.mu.Unlock()
			return ln.w.budgetError("memory", ev.at, 0) // the window counts them all
		}
		ln.heap.pop()
		ln.now.Store(int64(ev.at))
		ln.mu.Unlock()
		ln.run(ev)
	}
}

// runLanes runs the window of each lane no runner has taken yet.
// Runners take the lanes busiest first (by their events in the last
// window), so that the longest is started first and the others fill in
// around it. Which runner runs a lane changes nothing but the time.
func (p *parallel) runLanes(epoch uint64) {
	lanes := p.w.lanes
	for {
		v := p.claim.Load()
		k := int(v & laneMask)
		if v>>laneBits != epoch || k >= len(lanes) {
			return
		}
		if !p.claim.CompareAndSwap(v, v+1) {
			continue
		}
		p.runLane(p.order[k])
	}
}

// runLane runs lane i's window, keeping a panic for the caller (a panic on
// a worker's goroutine would end the process before anyone could report
// it).
func (p *parallel) runLane(i int) {
	defer func() {
		if r := recover(); r != nil {
			p.panics[i] = &lanePanic{value: r, stack: debug.Stack()}
		}
		p.done.Add(1)
	}()
	p.errs[i] = p.w.lanes[i].runWindow(p.limit, p.max[i])
}

// laneBits is how many low bits of claim number the lane: more than a
// World's hosts (Options.MaxHosts bounds them; Parallel checks).
const (
	laneBits = 20
	laneMask = 1<<laneBits - 1
)

// newEpoch starts the next window (every lane unclaimed) and returns its
// number.
func (p *parallel) newEpoch() uint64 {
	e := p.claim.Load()>>laneBits + 1
	p.claim.Store(e << laneBits)
	return e
}

// reorder sorts the lanes busiest first by the events each ran in the
// window that just ended (from before, each lane's count at its start).
func (p *parallel) reorder() {
	lanes, before := p.w.lanes, p.before
	slices.SortStableFunc(p.order, func(a, b int) int {
		return cmp.Compare(lanes[b].events-before[b], lanes[a].events-before[a])
	})
}

// start starts the workers: with the caller, one runner per P (and no more
// than there are lanes), so that no runner waits for a P while another
// spins. With one P the caller runs every lane itself.
func (p *parallel) start() {
	n := min(p.procs, len(p.w.lanes)) - 1
	if p.crew != nil && len(p.crew.wake) == n {
		return
	}
	p.stop()
	c := &crew{wake: make([]chan struct{}, n)}
	for i := range c.wake {
		c.wake[i] = make(chan struct{}, 1)
		go p.worker(c, c.wake[i], p.claim.Load()>>laneBits)
	}
	p.crew = c
}

// crew is the workers started together; quit ends them.
type crew struct {
	quit atomic.Bool
	wake []chan struct{} // parks each worker between runs
}

// worker runs lanes' windows: it waits for the epoch to move past seen,
// spinning a while (windows follow each other closely) before it parks.
func (p *parallel) worker(c *crew, wake chan struct{}, seen uint64) {
	epoch := func() uint64 { return p.claim.Load() >> laneBits }
	for {
		for epoch() == seen {
			if spin(true, func() bool { return epoch() != seen }) {
				break
			}
			<-wake
		}
		seen = epoch()
		if c.quit.Load() {
			return
		}
		p.runLanes(seen)
	}
}

// wakeCrew wakes the parked workers: the epoch moved.
func (p *parallel) wakeCrew() {
	if p.crew == nil {
		return
	}
	for _, c := range p.crew.wake {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// spinLimit bounds how long spin waits in a busy loop: windows follow
// each other within microseconds, and a goroutine that parks and is woken
// costs tens of them; past it, a lane's wait is long (the notebook runs
// statements) and it yields or parks.
const spinLimit = 1 << 24

// spin waits for cond, and reports whether it came. When busy (there is
// more than one P: a worker always, the caller then) it loops on cond
// without yielding, up to spinLimit tries: a yield goes through the
// scheduler's global lock, and another P would be woken to run what it
// yielded to. Then, or with one P (nothing else could make cond true), it
// yields a few times. A worker then parks (false); the caller, which waits
// only for lanes that are running, spins again.
func spin(busy bool, cond func() bool) bool {
	if busy {
		for range spinLimit {
			if cond() {
				return true
			}
		}
	}
	for range 64 {
		if cond() {
			return true
		}
		runtime.Gosched()
	}
	return cond()
}

// stop ends the workers.
func (p *parallel) stop() {
	if p.crew == nil {
		return
	}
	p.crew.quit.Store(true)
	p.newEpoch()
	p.wakeCrew()
	p.crew = nil
}
