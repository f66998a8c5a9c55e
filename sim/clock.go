package sim

import (
	"reflect"
	"runtime"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// epoch is the wall-clock instant virtual time zero maps to. It is a fixed
// constant so that nothing a stack derives from Now() depends on the machine.
var epoch = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// uptime is the stacks' monotonic clock at virtual time zero: the hosts
// have been up for an hour. gVisor treats a zero monotonic time as "long
// ago" (a TIME-WAIT endpoint that never saw a timestamp has recentTSTime
// zero, and tw_reuse compares against it); on a real machine the monotonic
// clock is far from zero, and so it is here. It is a multiple of 64 ns, the
// ISN clock's tick.
const uptime = time.Hour

// eventKind says what an event does when the run loop reaches it.
type eventKind uint8

const (
	evTimer   eventKind = iota // a gVisor timer callback on one host
	evDeliver                  // a packet arriving at one host
	evForward                  // a packet arriving at a middle hop
	evApp                      // a scenario action (may touch any host)
)

// event is one entry of the World's heap. Events are ordered by virtual time,
// then by the sequence number they were (re)scheduled with, so two events at
// the same instant run in the order they were created.
type event struct {
	at    time.Duration
	seq   uint64
	index int // position in the heap; -1 when not queued
	kind  eventKind
	host  *Host
	fn    func()
	pkt   *flight // evDeliver and evForward only
	// from is 0 for an event its lane made, and 1 + the sending lane for
	// a packet from another lane of a parallel World, which sent it at
	// sent (seq is then the sender's count of such packets).
	from int32
	sent time.Duration
}

// eventHeap is a binary min-heap of events keyed by (at, seq). It is written
// out rather than built on container/heap to avoid an interface conversion
// per operation on the hot path.
//
// In a parallel World a lane also holds packets from other lanes. At one
// instant the lane's own events come first, then those packets by (the
// time they were sent, the sending lane, its count): an order that does
// not depend on where the windows ended, so that a sampler, or a run cut
// in two, changes nothing (parallel.go).
type eventHeap []*event

func (h eventHeap) less(i, j int) bool {
	a, b := h[i], h[j]
	if a.at != b.at {
		return a.at < b.at
	}
	if a.from != b.from {
		if a.from == 0 || b.from == 0 {
			return a.from == 0
		}
		if a.sent != b.sent {
			return a.sent < b.sent
		}
		return a.from < b.from
	}
	if a.from != 0 && a.sent != b.sent {
		return a.sent < b.sent
	}
	return a.seq < b.seq
}

func (h eventHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *eventHeap) push(e *event) {
	e.index = len(*h)
	*h = append(*h, e)
	h.up(e.index)
}

func (h *eventHeap) pop() *event {
	old := *h
	n := len(old) - 1
	old.swap(0, n)
	e := old[n]
	old[n] = nil
	*h = old[:n]
	if n > 0 {
		h.down(0)
	}
	e.index = -1
	return e
}

func (h *eventHeap) remove(e *event) {
	i := e.index
	old := *h
	n := len(old) - 1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
	e.index = -1
}

func (h *eventHeap) fix(e *event) {
	if !h.down(e.index) {
		h.up(e.index)
	}
}

func (h eventHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h eventHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

// hostClock is the tcpip.Clock one host's stack sees: its lane's virtual
// time. The clock remembers which host a timer belongs to, so that firing
// it barriers that host alone.
type hostClock struct {
	h *Host
}

var _ tcpip.Clock = hostClock{}

// Now implements tcpip.Clock.
func (c hostClock) Now() time.Time { return epoch.Add(c.h.ln.Now()) }

// NowMonotonic implements tcpip.Clock.
func (c hostClock) NowMonotonic() tcpip.MonotonicTime {
	return tcpip.MonotonicTime{}.Add(uptime + c.h.ln.Now())
}

// AfterFunc implements tcpip.Clock. The callback runs on the simulation
// goroutine when the run loop reaches it, never on a goroutine of its own; a
// zero or negative duration queues it at the current instant.
func (c hostClock) AfterFunc(d time.Duration, f func()) tcpip.Timer {
	ln := c.h.ln
	t := &timer{ln: ln, ev: event{kind: evTimer, host: c.h, fn: f, index: -1}, timeWait: isTimeWaitExpiry(f)}
	ln.mu.Lock()
	ln.noteAsync()
	ln.scheduleLocked(&t.ev, d)
	ln.mu.Unlock()
	return t
}

// timer implements tcpip.Timer on its host's lane's heap.
type timer struct {
	ln *lane
	ev event
	// timeWait marks gVisor's TIME-WAIT timer: its Reset is a restart of
	// TIME-WAIT, which the observer records (observe.go).
	timeWait bool
}

// timeWaitExpiry is the name of gVisor's TIME-WAIT timer callback, the
// method value ep.timeWaitTimerExpired that startTimeWait
// (transport/tcp/dispatcher.go) passes to AfterFunc; handleTimeWait resets
// that timer when a retransmitted FIN arrives (rcv.go,
// handleTimeWaitSegment).
const timeWaitExpiry = "gvisor.dev/gvisor/pkg/tcpip/transport/tcp.(*Endpoint).timeWaitTimerExpired-fm"

// expiryFuncs caches isTimeWaitExpiry by code pointer.
var expiryFuncs sync.Map // uintptr -> bool

// isTimeWaitExpiry reports whether f is gVisor's TIME-WAIT timer callback,
// by the name of its code. (TestTimeWaitRestartRecorded fails if gVisor
// renames it.)
func isTimeWaitExpiry(f func()) bool {
	pc := reflect.ValueOf(f).Pointer()
	if v, ok := expiryFuncs.Load(pc); ok {
		return v.(bool)
	}
	fn := runtime.FuncForPC(pc)
	is := fn != nil && fn.Name() == timeWaitExpiry
	expiryFuncs.Store(pc, is)
	return is
}

var _ tcpip.Timer = (*timer)(nil)

// Stop implements tcpip.Timer.
func (t *timer) Stop() bool {
	t.ln.mu.Lock()
	defer t.ln.mu.Unlock()
	t.ln.noteAsync()
	if t.ev.index < 0 {
		return false
	}
	t.ln.heap.remove(&t.ev)
	return true
}

// Reset implements tcpip.Timer.
func (t *timer) Reset(d time.Duration) {
	t.ln.mu.Lock()
	defer t.ln.mu.Unlock()
	t.ln.noteAsync()
	t.ln.scheduleLocked(&t.ev, d)
	if t.timeWait {
		h := t.ev.host
		h.twRestarts = append(h.twRestarts, t.ev.at)
	}
}
