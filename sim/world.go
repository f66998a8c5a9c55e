package sim

import (
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync/atomic"
	"time"
)

// ProgressEvents is how often, in events, Options.Progress is called.
const ProgressEvents = 1 << 14

// Default budgets. A run that reaches one stops with a *BudgetError.
const (
	DefaultMaxTime   = 24 * time.Hour
	DefaultMaxEvents = 50_000_000
	// DefaultMaxMemory bounds the process's Go heap (see Options.MaxMemory).
	DefaultMaxMemory = 4 << 30
	// DefaultMaxHosts bounds the hosts of a World (see Options.MaxHosts).
	DefaultMaxHosts = 20_000
)

// Options configures a World. The zero value is a good default: seed 0, the
// default budgets, and a full trace kept in memory.
type Options struct {
	// Seed derives every random stream of the run: each host's ISNs,
	// timestamp offsets, ephemeral ports and IP IDs, and each link's loss.
	Seed uint64
	// MaxTime bounds virtual time; zero means DefaultMaxTime.
	MaxTime time.Duration
	// MaxEvents bounds the number of events run; zero means DefaultMaxEvents.
	MaxEvents int64
	// MaxMemory bounds the live Go heap of the process, in bytes, checked
	// every memoryCheckEvents events: a run past it stops with a budget
	// error instead of running the machine out of memory. Zero means
	// DefaultMaxMemory. Where a run stops on this budget depends on the
	// garbage collector, so it is the one budget that is not exact; a run
	// that stays within it is unaffected.
	MaxMemory int64
	// MaxHosts bounds the hosts a World holds; zero means DefaultMaxHosts.
	// Each is a whole gVisor stack, built outside any event (about 60 KB
	// and 0.7 ms on our machines), so the event budget does not bound
	// them: AddHost past it is an error.
	MaxHosts int
	// DiscardTrace keeps no packet trace and no transitions (counts only),
	// for long workloads and benchmarks. Packet buffers are then recycled.
	DiscardTrace bool
	// Progress, when set, is called every ProgressEvents events with the
	// virtual time, the end of the running RunFor (0 when the run has no
	// known end) and the events run so far: for a progress line. It must
	// not call the World.
	Progress func(now, until time.Duration, events int64)
	// Clock, when set, makes time real: events wait for the clock to reach
	// their time, and other goroutines may Post events. It is for worlds
	// whose hosts are real kernels (package kernel); nil keeps virtual
	// time, where the run loop jumps from event to event.
	Clock Clock
}

// Clock is a real time source (package kernel's wall clock). Nothing in
// sim reads wall time itself.
type Clock interface {
	// Now returns the time since the start of the run.
	Now() time.Duration
	// Sleep blocks until Now() reaches until, or wake receives.
	Sleep(until time.Duration, wake <-chan struct{})
}

// BudgetError reports that a run stopped because it reached its
// virtual-time, event or memory budget.
type BudgetError struct {
	// Budget is "virtual-time", "event" or "memory".
	Budget string
	Limit  string
	At     time.Duration
	Events int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("sim: %s budget of %s exhausted at t=%v after %d events", e.Budget, e.Limit, e.At, e.Events)
}

// ErrIdle is returned by RunUntil when no event is left and the condition
// still does not hold.
var ErrIdle = errors.New("sim: no events left and the condition does not hold")

// World owns virtual time: the hosts, the links between them, what was
// observed, and one lane (lane.go) or several (Parallel) whose heaps of
// events, ordered by (virtual time, insertion sequence), it runs. All
// methods must be called from one goroutine.
type World struct {
	opts Options

	// lanes run the events; lanes[0] also runs the World's own (At, Post)
	// when there is one lane.
	lanes []*lane
	// laneOf names the lane of each node named in Parallel.
	laneOf map[string]int
	// global holds, with several lanes, the events of no node (At): they
	// run between windows, every lane stopped at their time (parallel.go).
	global eventHeap
	gseq   uint64

	async  atomic.Int64
	order  atomic.Int64
	closed atomic.Bool

	hosts []*Host
	hops  []*Hop
	links []*Link

	packets     []Packet
	transitions []Transition
	restarts    []TimeWaitRestart

	// samplers are the Every callbacks (sample.go).
	samplers []*sampler
	// until is the end of the running RunFor, for Progress.
	until time.Duration

	// wake interrupts a real-time Sleep when an event is posted; kernel
	// holds the worlds' kernel-host bookkeeping (external.go).
	wake   chan struct{}
	kernel kernelWorld

	// par runs the lanes' windows (parallel.go); nil with one lane.
	// onWindow runs after each window (OnWindow).
	par      *parallel
	onWindow func()
}

// New returns an empty World at virtual time zero.
func New(opts Options) *World {
	if opts.MaxTime <= 0 {
		opts.MaxTime = DefaultMaxTime
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = DefaultMaxMemory
	}
	if opts.MaxHosts <= 0 {
		opts.MaxHosts = DefaultMaxHosts
	}
	w := &World{opts: opts, wake: make(chan struct{}, 1)}
	w.lanes = []*lane{newLane(w, 0)}
	return w
}

// MaxHosts returns the most hosts the World takes (Options.MaxHosts).
func (w *World) MaxHosts() int { return w.opts.MaxHosts }

// RealTime reports whether the World runs on a real clock.
func (w *World) RealTime() bool { return w.opts.Clock != nil }

// Post schedules fn to run on the simulation goroutine as soon as possible,
// at the current real time. Unlike At it may be called from any
// goroutine; it is how a real-time World learns of what happens outside
// it (a packet a kernel sent).
func (w *World) Post(fn func()) {
	ln := w.lanes[0] // a real-time World has one lane
	ln.mu.Lock()
	if w.closed.Load() {
		ln.mu.Unlock()
		return
	}
	ev := &event{kind: evApp, fn: fn, index: -1}
	d := time.Duration(0)
	if c := w.opts.Clock; c != nil {
		d = c.Now() - w.Now()
	}
	ln.scheduleLocked(ev, d)
	ln.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Seed returns the world's seed.
func (w *World) Seed() uint64 { return w.opts.Seed }

// Now returns the virtual time since the start of the run. Between runs
// every lane is at it; an event's own code reads its lane's clock.
func (w *World) Now() time.Duration { return w.lanes[0].Now() }

// setNow sets every lane's clock to t: between runs (and between a
// parallel World's windows), the World is at t.
func (w *World) setNow(t time.Duration) {
	for _, ln := range w.lanes {
		ln.now.Store(int64(t))
	}
}

// Events returns how many events have run.
func (w *World) Events() int64 {
	var n int64
	for _, ln := range w.lanes {
		n += ln.events
	}
	return n
}

// AsyncOps counts timer operations and packet writes that happened outside
// an event window. Anything but zero means a stack did work the barrier did
// not wait for, and determinism is at risk.
func (w *World) AsyncOps() int64 { return w.async.Load() }

// Hosts returns the hosts in the order they were added.
func (w *World) Hosts() []*Host { return slices.Clone(w.hosts) }

// Host returns the host with that name, or nil.
func (w *World) Host(name string) *Host {
	for _, h := range w.hosts {
		if h.name == name {
			return h
		}
	}
	return nil
}

// Links returns the links in the order they were added.
func (w *World) Links() []*Link { return slices.Clone(w.links) }

// Packets returns the packet trace so far, in sending order.
func (w *World) Packets() []Packet {
	ln := w.lanes[0] // a World that keeps its packets has one lane
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return slices.Clone(w.packets)
}

// PacketCount returns how many packets were sent or injected, also when the
// trace is discarded.
func (w *World) PacketCount() int {
	n := 0
	for _, ln := range w.lanes {
		ln.mu.Lock()
		n += ln.npackets
		ln.mu.Unlock()
	}
	return n
}

// Transitions returns every state transition observed so far, in order.
func (w *World) Transitions() []Transition { return slices.Clone(w.transitions) }

// TimeWaitRestarts returns every restart of a TIME-WAIT timer observed so
// far, in order. gVisor hosts and linux-profile hosts record them; a kernel
// host's are not seen (sock_diag shows the state, not the timer's restarts).
func (w *World) TimeWaitRestarts() []TimeWaitRestart { return slices.Clone(w.restarts) }

// Records reports whether the World keeps its packets and transitions
// (false with Options.DiscardTrace: counts only).
func (w *World) Records() bool { return !w.opts.DiscardTrace }

// TransitionsSeen returns how many transitions were observed so far,
// whether kept or not (TransitionCount counts those kept).
func (w *World) TransitionsSeen() int {
	n := 0
	for _, ln := range w.lanes {
		n += ln.ntransitions
	}
	return n
}

// TransitionCount returns how many transitions were observed so far: a
// mark that Transitions()[:n] later cuts at.
func (w *World) TransitionCount() int { return len(w.transitions) }

// subSeed derives an independent 64-bit seed for one named stream.
func (w *World) subSeed(kind, name string) uint64 {
	f := fnv.New64a()
	fmt.Fprintf(f, "%d\x00%s\x00%s", w.opts.Seed, kind, name)
	return splitmix(f.Sum64())
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// At schedules fn to run on the simulation goroutine at virtual time t (or
// now, if t has passed). fn may call any Host or Socket method. With
// several lanes it runs between windows, every lane stopped at t, before
// the lanes' own events at t (parallel.go).
func (w *World) At(t time.Duration, fn func()) {
	if w.par != nil {
		w.par.at(t, fn)
		return
	}
	w.lanes[0].at(t, fn)
}

// At schedules fn to run at virtual time t (or now, if t has passed) as an
// event of the host's lane: fn may call the methods of the host and of the
// other nodes of its lane. With one lane it is World.At.
func (h *Host) At(t time.Duration, fn func()) { h.ln.at(t, fn) }

// Now returns the host's clock: its lane's, which between runs is the
// World's.
func (h *Host) Now() time.Duration { return h.ln.Now() }

// After schedules fn to run d from now.
func (w *World) After(d time.Duration, fn func()) { w.At(w.Now()+d, fn) }

// Pending returns how many events are queued.
func (w *World) Pending() int {
	n := len(w.global)
	for _, ln := range w.lanes {
		ln.mu.Lock()
		n += len(ln.heap) + len(ln.out)
		ln.mu.Unlock()
	}
	return n
}

// NextEventAt returns the time of the next queued event.
func (w *World) NextEventAt() (time.Duration, bool) {
	var next time.Duration
	ok := false
	if len(w.global) > 0 {
		next, ok = w.global[0].at, true
	}
	for _, ln := range w.lanes {
		if at, has := ln.nextAt(); has && (!ok || at < next) {
			next, ok = at, true
		}
	}
	return next, ok
}

// Step runs the next event. It reports false when no event is left. On a
// real clock it first waits for the event's time (running an event posted
// meanwhile instead, if one is). With several lanes it runs the next
// window: every event of every lane up to the window's end.
func (w *World) Step() (bool, error) {
	if w.par != nil {
		return w.par.step()
	}
	if len(w.samplers) > 0 {
		if at, ok := w.NextEventAt(); ok {
			w.sampleBefore(at, false)
		}
	}
	ln := w.lanes[0]
	ln.mu.Lock()
	if len(ln.heap) == 0 {
		ln.mu.Unlock()
		return false, nil
	}
	ev := ln.heap[0]
	for c := w.opts.Clock; c != nil && ev.at <= w.opts.MaxTime; ev = ln.heap[0] {
		if ev.at <= c.Now() {
			break
		}
		ln.mu.Unlock()
		c.Sleep(ev.at, w.wake)
		ln.mu.Lock()
	}
	if err := w.budget(ev.at, ln.events); err != nil {
		ln.mu.Unlock()
		return true, err
	}
	ln.heap.pop()
	ln.now.Store(int64(ev.at))
	ln.mu.Unlock()

	if w.opts.Progress != nil && (ln.events+1)%ProgressEvents == 0 {
		w.opts.Progress(ev.at, w.until, ln.events+1)
	}
	ln.run(ev)
	return true, nil
}

// budget says whether an event at at, after events events, is past a
// budget.
func (w *World) budget(at time.Duration, events int64) error {
	if at > w.opts.MaxTime {
		return w.budgetError("virtual-time", at, events)
	}
	if events >= w.opts.MaxEvents {
		return w.budgetError("event", at, events)
	}
	if events%memoryCheckEvents == 0 && overMemory(w.lanes[0].heapSample, w.opts.MaxMemory) {
		return w.budgetError("memory", at, events)
	}
	return nil
}

// budgetError says that the run reached budget ("virtual-time", "event"
// or "memory") at at, after events events.
func (w *World) budgetError(budget string, at time.Duration, events int64) *BudgetError {
	var limit string
	switch budget {
	case "virtual-time":
		limit = w.opts.MaxTime.String()
	case "event":
		limit = fmt.Sprint(w.opts.MaxEvents)
	case "memory":
		limit = byteSize(w.opts.MaxMemory)
	}
	return &BudgetError{Budget: budget, Limit: limit, At: at, Events: events}
}

// RunFor runs every event due within d of now, then advances the clock to
// now+d.
func (w *World) RunFor(d time.Duration) error {
	end := w.Now() + d
	w.until = end
	defer func() { w.until = 0 }()
	if end > w.opts.MaxTime {
		return w.budgetError("virtual-time", end, w.Events())
	}
	if w.par != nil {
		return w.par.runFor(end)
	}
	for {
		at, ok := w.NextEventAt()
		if ok && at <= end {
			if _, err := w.Step(); err != nil {
				return err
			}
			continue
		}
		c := w.opts.Clock
		if c == nil || c.Now() >= end {
			break
		}
		c.Sleep(end, w.wake) // an event may be posted meanwhile
	}
	w.sampleBefore(end, true)
	w.setNow(end)
	return nil
}

// RunUntil runs events until cond holds (it is checked before the first
// event and after each one). It returns ErrIdle if the events run out first.
func (w *World) RunUntil(cond func() bool) error {
	for !cond() {
		more, err := w.Step()
		if err != nil {
			return err
		}
		if !more {
			return ErrIdle
		}
	}
	return nil
}

// Run runs until no event is left.
func (w *World) Run() error {
	if w.par != nil {
		return w.par.run()
	}
	for {
		more, err := w.Step()
		if err != nil || !more {
			return err
		}
	}
}

// Epoch is the wall-clock instant virtual time zero maps to, in the stacks'
// Now() and in pcap timestamps.
func Epoch() time.Time { return epoch }

// Close shuts every host down: sockets first in creation order, then the
// stacks. Nothing is traced after Close.
func (w *World) Close() {
	w.lockAll()
	w.closed.Store(true)
	w.unlockAll()
	if w.par != nil {
		w.par.stop()
	}
	for _, h := range w.hosts {
		h.close()
	}
}

// lockAll locks every lane, in order: for the rare change (a link's path,
// a rule, the topology) that must not meet a packet in flight.
func (w *World) lockAll() {
	for _, ln := range w.lanes {
		ln.mu.Lock()
	}
}

func (w *World) unlockAll() {
	for i := len(w.lanes) - 1; i >= 0; i-- {
		w.lanes[i].mu.Unlock()
	}
}
