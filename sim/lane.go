package sim

import (
	"net/netip"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// lane is one thread of a World's run: an event heap, a clock, and the
// hosts and middle hops whose events it runs. A World has one lane unless
// World.Parallel splits its nodes (parallel.go); its lanes then run at once,
// in windows no longer than the shortest delay of a link between two
// lanes, so that nothing one lane does within a window can reach another
// before the window ends.
//
// Everything a node's event touches is its lane's: the heap, the free
// lists, the packets it holds, the routes it has looked up. With one lane
// this is the whole World's, as it always was.
type lane struct {
	w   *World
	idx int

	// mu guards the heap, seq, the free lists, held and out; gVisor's
	// processor goroutines reach them through timers and packet writes.
	mu   sync.Mutex
	heap eventHeap
	seq  uint64
	now  atomic.Int64

	events  int64
	inEvent atomic.Bool
	touched []*Host

	held []*event
	free []*event
	bufs [][]byte
	// out holds the events this lane made for another lane's nodes in the
	// running window, in the order it made them (parallel.go); nout
	// counts every such event it made.
	out  []*event
	nout uint64

	// npackets counts the packets recorded (sent or injected) on this
	// lane; ntransitions the transitions observed, kept or not.
	npackets     int
	ntransitions int

	// heapSample reads the heap for the lane's memory checks (memory.go).
	heapSample []metrics.Sample

	// routes caches, per destination, the next link from each node (see
	// route.go); each lane keeps its own, so lanes never share a map.
	routes map[netip.Addr]map[Node]*Link
}

func newLane(w *World, idx int) *lane {
	return &lane{w: w, idx: idx, heapSample: []metrics.Sample{{Name: heapMetric}}}
}

// Now returns the lane's clock: the time of the event it runs; between
// windows, the time the World has reached (every lane's the same).
func (ln *lane) Now() time.Duration { return time.Duration(ln.now.Load()) }

// noteAsync counts an operation made while no event is running on the lane.
func (ln *lane) noteAsync() {
	if !ln.inEvent.Load() {
		ln.w.async.Add(1)
	}
}

// scheduleLocked (re)queues ev to run d from now. Requires ln.mu.
func (ln *lane) scheduleLocked(ev *event, d time.Duration) {
	ev.at = ln.Now() + max(d, 0)
	ln.seq++
	ev.seq, ev.from = ln.seq, 0
	if ev.index >= 0 {
		ln.heap.fix(ev)
	} else {
		ln.heap.push(ev)
	}
}

// at queues fn to run on the lane at virtual time t (or now, if t has
// passed).
func (ln *lane) at(t time.Duration, fn func()) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	ev := &event{kind: evApp, fn: fn, index: -1}
	ln.scheduleLocked(ev, t-ln.Now())
}

// nextAt returns the time of the lane's next event.
// What the lane sent another lane and has not handed over yet (a
// notebook's statement between runs) counts: it is an event to come.
func (ln *lane) nextAt() (time.Duration, bool) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	var next time.Duration
	ok := len(ln.heap) > 0
	if ok {
		next = ln.heap[0].at
	}
	for _, ev := range ln.out {
		if !ok || ev.at < next {
			next, ok = ev.at, true
		}
	}
	return next, ok
}

// run runs ev, the event just taken off the heap, and settles what it
// touched.
func (ln *lane) run(ev *event) {
	ln.events++
	ln.inEvent.Store(true)
	switch ev.kind {
	case evTimer:
		ln.touch(ev.host)
		ev.fn()
	case evDeliver:
		ev.host.pending = true
		ln.deliver(ev)
	case evForward:
		ln.forward(ev)
	case evApp:
		ev.fn()
	}
	ln.settle()
	ln.w.kernelSettled()
	ln.inEvent.Store(false)
}

// touch marks h as touched by the running event: it is barriered and
// observed before the event ends.
func (ln *lane) touch(h *Host) {
	if !h.touched {
		h.touched = true
		ln.touched = append(ln.touched, h)
	}
}

// settle barriers every host a packet was delivered to, records what
// changed on every touched host, and runs the application callbacks that the
// event made ready (which may touch more hosts).
func (ln *lane) settle() {
	for i := 0; i < len(ln.touched); i++ {
		h := ln.touched[i]
		h.touched = false
		if h.pending {
			h.barrier()
			h.pending = false
		}
		h.observe()
		h.dispatch()
	}
	clear(ln.touched)
	ln.touched = ln.touched[:0]
}

// enter runs a call from outside the run loop (a scenario calling a Socket
// method between RunFor calls) as an event of its own. It returns the
// function that ends it.
func (ln *lane) enter() func() {
	if ln.inEvent.Load() {
		return func() {}
	}
	ln.inEvent.Store(true)
	return func() {
		ln.settle()
		ln.inEvent.Store(false)
	}
}
