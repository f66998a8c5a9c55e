package scenarios

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/tcpsim/tcpsim/sim"
)

// workload is a request/response workload (the workload statement): its
// connections go to its clients in turn, connection j to client j mod N.
type workload struct {
	clients     []*sim.Host
	target      netip.AddrPort
	n, perConn  int
	gap, ramp   time.Duration // open loop: a connection every gap, the rate ramping up over ramp
	connRate    float64       // connections a second, open loop
	concurrency int           // closed loop: connections at a time
	keepAlive   bool

	// tallies count, one per lane of clients (one unless the notebook is
	// parallel), what that lane's connections did: each lane's events
	// write only its own.
	tallies []*tally
}

// tally is what one lane's share of a workload did.
type tally struct {
	started, done int
	errs          map[string]int // by errno; printed sorted
}

// started, done and errs add up the lanes' tallies.
func (wl *workload) started() (n int) {
	for _, t := range wl.tallies {
		n += t.started
	}
	return n
}

func (wl *workload) done() (n int) {
	for _, t := range wl.tallies {
		n += t.done
	}
	return n
}

func (wl *workload) errs() map[string]int {
	out := map[string]int{}
	for _, t := range wl.tallies {
		for e, n := range t.errs { // a sum: the order does not matter
			out[e] += n
		}
	}
	return out
}

// start schedules the workload from now. Each lane of clients opens its
// own share of the connections, at the times one lane would: an open
// loop's connection j starts at j·gap (or when the ramp reaches it),
// whichever client makes it. A closed loop replaces each connection as
// it ends, from one count, so its clients share a lane.
func (wl *workload) start(w *sim.World) error {
	if wl.n == 0 {
		wl.tallies = []*tally{{errs: map[string]int{}}}
		return nil
	}
	var lanes [][]int // client indexes, by lane
	laneAt := map[int]int{}
	for i, c := range wl.clients {
		l := w.LaneOf(c)
		k, ok := laneAt[l]
		if !ok {
			k = len(lanes)
			laneAt[l] = k
			lanes = append(lanes, nil)
		}
		lanes[k] = append(lanes[k], i)
	}
	if wl.concurrency > 0 && len(lanes) > 1 {
		return fmt.Errorf("a closed-loop workload (concurrency=) opens each connection as another ends, so its clients share one lane; %s and %s are in different lanes (parallel)", wl.clients[lanes[0][0]].Name(), wl.clients[lanes[1][0]].Name())
	}
	conns := (wl.n + wl.perConn - 1) / wl.perConn
	start := wl.clients[0].Now()
	if wl.concurrency > 0 {
		t := &tally{errs: map[string]int{}}
		wl.tallies = []*tally{t}
		opened := 0
		var open func()
		open = func() {
			if opened < conns {
				opened++
				wl.connect(t, opened-1, open)
			}
		}
		// An event each, so that the event budget bounds them (100,000
		// connects in one event ran past it).
		for range wl.concurrency {
			wl.clients[0].At(start, open)
		}
		return nil
	}
	when := func(j int) time.Duration {
		if wl.ramp > 0 {
			return start + rampAt(j, wl.connRate, wl.ramp)
		}
		return start + time.Duration(j)*wl.gap
	}
	for _, idx := range lanes {
		t := &tally{errs: map[string]int{}}
		wl.tallies = append(wl.tallies, t)
		first := wl.clients[idx[0]]
		// The lane's connections are q·N + idx[r], in order; each start
		// schedules the next, so a large n costs nothing up front.
		q, r := 0, 0
		at := func() int { return q*len(wl.clients) + idx[r] }
		var next func()
		next = func() {
			j := at()
			if r++; r == len(idx) {
				q, r = q+1, 0
			}
			if k := at(); k < conns {
				first.At(when(k), next)
			}
			wl.connect(t, j, nil)
		}
		if j := at(); j < conns {
			first.At(when(j), next)
		}
	}
	return nil
}

// connect opens connection j (from 0), which makes its share of the
// requests one after the other; when it ends, ended (if set) runs.
func (wl *workload) connect(t *tally, j int, ended func()) {
	k := min(wl.perConn, wl.n-j*wl.perConn)
	h := wl.clients[j%len(wl.clients)]
	t.started += k
	over := false
	end := func() {
		if !over {
			over = true
			if ended != nil {
				ended()
			}
		}
	}
	request := func(last bool) []byte {
		req := "GET / HTTP/1.1\r\nHost: " + wl.target.String() + "\r\n"
		if last && !wl.keepAlive {
			req += "Connection: close\r\n"
		}
		return []byte(req + "\r\n")
	}
	c, err := h.Connect(wl.target, sim.SocketOptions{})
	if err != nil {
		t.errs[sim.Errno(err)]++
		end()
		return
	}
	answered := 0
	var rd httpReader
	c.OnConnect = func(c *sim.Socket) { _, _ = c.Send(request(k == 1)) }
	c.OnError = func(c *sim.Socket, err error) {
		t.errs[sim.Errno(err)]++
		_ = c.Close() // as a client closes its descriptor on an error
		end()
	}
	c.OnData = func(c *sim.Socket, p []byte) {
		rd.feed(p)
		for ; answered < rd.done && answered < k; answered++ {
			t.done++
			if answered+1 < k {
				_, _ = c.Send(request(answered+2 == k))
			}
		}
		if answered == k && wl.keepAlive {
			_ = c.Close()
			end()
		}
	}
	c.OnEOF = func(c *sim.Socket) { _ = c.Close(); end() }
}
