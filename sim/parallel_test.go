package sim_test

import (
	"crypto/sha256"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// parallelOpts is a World that may be made parallel: it keeps no trace.
var parallelOpts = sim.Options{Seed: 7, DiscardTrace: true}

// lanedRun runs a linux-profile server in lane 1 and four clients, two in
// lane 2 and two in lane 0, over lossy links that duplicate and corrupt
// too, each client opening 40 connections in two chains (events of its
// own lane) that send a request and close on the answer. It returns what
// the run counted, host by host, and the World's event count.
func lanedRun(tb testing.TB, procs int) string {
	tb.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	w := sim.New(parallelOpts)
	defer w.Close()
	require.NoError(tb, w.Parallel([][]string{{"server"}, {"c0", "c1"}}))
	srv, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP, Profile: sim.Linux})
	require.NoError(tb, err)
	l, err := srv.Listen(80, sim.SocketOptions{})
	require.NoError(tb, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnData = func(a *sim.Socket, b []byte) { _, _ = a.Send(b); _ = a.Close() }
	}
	var clients []*sim.Host
	for i := range 4 {
		c, err := w.AddHost(sim.HostOptions{Name: fmt.Sprintf("c%d", i), Addr: netip.AddrFrom4([4]byte{10, 0, 1, byte(i + 1)}), Profile: sim.Linux})
		require.NoError(tb, err)
		clients = append(clients, c)
		_, err = w.AddLink(c, srv, netem.Options{
			AtoB: netem.Path{Delay: time.Duration(i+1) * time.Millisecond, Loss: 0.03, Duplicate: 0.02, Corrupt: 0.01},
			BtoA: netem.Path{Delay: 2 * time.Millisecond, Loss: 0.03},
		})
		require.NoError(tb, err)
		for chain := range 2 {
			left := 20
			var next func()
			next = func() {
				if left == 0 {
					return
				}
				left--
				cs, err := c.Connect(server80, sim.SocketOptions{})
				if err != nil {
					return
				}
				cs.OnConnect = func(cs *sim.Socket) { _, _ = cs.Send([]byte("ping")) }
				cs.OnData = func(cs *sim.Socket, _ []byte) {}
				cs.OnEOF = func(cs *sim.Socket) { _ = cs.Close(); c.At(c.Now()+time.Millisecond, next) }
				cs.OnError = func(*sim.Socket, error) { c.At(c.Now()+time.Millisecond, next) }
			}
			c.At(time.Duration(chain)*time.Millisecond, next)
		}
	}
	require.Equal(tb, 3, w.Lanes())
	require.NoError(tb, w.RunFor(200*time.Second))
	var b strings.Builder
	for _, h := range append([]*sim.Host{srv}, clients...) {
		fmt.Fprintf(&b, "%s lane %d: %v %v tw=%d\n", h.Name(), w.LaneOf(h), h.Counters(), h.Connects(), h.StateCount(sim.TimeWait))
	}
	fmt.Fprintf(&b, "events %d packets %d transitions %d now %v\n", w.Events(), w.PacketCount(), w.TransitionsSeen(), w.Now())
	return b.String()
}

// TestParallelIsDeterministic runs one parallel World on one, two and four
// Ps, twice each: the lanes run at once (or one after the other), and what
// the run did is the same every time.
func TestParallelIsDeterministic(t *testing.T) {
	want := lanedRun(t, 1)
	for _, procs := range []int{2, 4, 2, 1} {
		got := lanedRun(t, procs)
		require.Equal(t, want, got, "GOMAXPROCS=%d", procs)
	}
	// Every client made its 40 connections, and every answer came: a
	// lane's events ran, and the packets between lanes arrived.
	for i, lane := range []int{2, 2, 0, 0} {
		assert.Regexp(t, fmt.Sprintf(`(?m)^c%d lane %d: .*\{TcpActiveOpens 40\}.* \[\{ok 40\}\]`, i, lane), want)
	}
	assert.Regexp(t, `(?m)^server lane 1: .*\{TcpExtTW 160\}.*\{TcpPassiveOpens 160\}`, want, "the server accepted all 160 connections and closed each first")
	t.Logf("%x", sha256.Sum256([]byte(want)))
}

// TestParallelRefuses checks what Parallel and a link between lanes
// refuse, and that the refusal says why.
func TestParallelRefuses(t *testing.T) {
	cases := []struct {
		name   string
		opts   sim.Options
		before bool // add a host first
		groups [][]string
		want   string
	}{
		{"trace kept", sim.Options{}, false, [][]string{{"a"}}, "keeps its packets"},
		{"after a host", parallelOpts, true, [][]string{{"a"}}, "before the first host"},
		{"no group", parallelOpts, false, nil, "at least one group"},
		{"empty group", parallelOpts, false, [][]string{{"a"}, {}}, "group 2 is empty"},
		{"twice", parallelOpts, false, [][]string{{"a"}, {"b", "a"}}, "a is in group 1 and group 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := sim.New(tc.opts)
			defer w.Close()
			if tc.before {
				_, err := w.AddHost(sim.HostOptions{Name: "x", Addr: clientIP})
				require.NoError(t, err)
			}
			err := w.Parallel(tc.groups)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, 1, w.Lanes())
		})
	}
}

// TestParallelLinkBetweenLanes checks that a link between two lanes needs
// a delay, no jitter or reordering and no rules, also when changed later;
// within a lane anything goes.
func TestParallelLinkBetweenLanes(t *testing.T) {
	w := sim.New(parallelOpts)
	defer w.Close()
	require.NoError(t, w.Parallel([][]string{{"b"}}))
	a, err := w.AddHost(sim.HostOptions{Name: "a", Addr: clientIP})
	require.NoError(t, err)
	b, err := w.AddHost(sim.HostOptions{Name: "b", Addr: serverIP})
	require.NoError(t, err)
	c, err := w.AddHost(sim.HostOptions{Name: "c", Addr: netip.MustParseAddr("10.0.0.3")})
	require.NoError(t, err)
	for _, tc := range []struct {
		o    netem.Options
		want string
	}{
		{netem.Options{}, "packets from a need a delay"},
		{netem.Options{AtoB: netem.Path{Delay: time.Millisecond}}, "packets from b need a delay"},
		{netem.Options{AtoB: netem.Path{Delay: time.Millisecond, Jitter: time.Microsecond}, BtoA: netem.Path{Delay: time.Millisecond}}, "jitter or reordering"},
		{netem.Options{AtoB: netem.Path{Delay: time.Millisecond, Reorder: 0.1}, BtoA: netem.Path{Delay: time.Millisecond}}, "jitter or reordering"},
		{netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}, Rules: []netem.Rule{{Action: netem.Action{Kind: netem.Drop}}}}, "takes no rules"},
	} {
		_, err := w.AddLink(a, b, tc.o)
		require.Error(t, err, "%+v", tc.o)
		assert.Contains(t, err.Error(), tc.want)
	}
	// Within lane 0 a link may jitter.
	_, err = w.AddLink(a, c, netem.Options{AtoB: netem.Path{Jitter: time.Millisecond, Delay: time.Millisecond}})
	require.NoError(t, err)
	l, err := w.AddLink(a, b, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: 2 * time.Millisecond}})
	require.NoError(t, err)
	err = l.SetPath(b, netem.Path{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "need a delay")
	assert.Equal(t, 2*time.Millisecond, l.Path(b).Delay, "a refused change changes nothing")
	err = l.AddRule(netem.Rule{Action: netem.Action{Kind: netem.Drop}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "joins two lanes")
	require.NoError(t, l.SetPath(b, netem.Path{Delay: 5 * time.Millisecond}))
}

// TestParallelEventBudget checks that a parallel run stops on its event
// budget, at the same place on every run.
func TestParallelEventBudget(t *testing.T) {
	run := func(procs int) string {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		o := parallelOpts
		o.MaxEvents = 500
		w, c, s := lanedPair(t, o)
		l, err := s.Listen(80, sim.SocketOptions{})
		require.NoError(t, err)
		l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
		var next func()
		next = func() {
			cs, err := c.Connect(server80, sim.SocketOptions{})
			if err == nil {
				cs.OnConnect = func(cs *sim.Socket) { _ = cs.Close() }
			}
			c.At(c.Now()+time.Millisecond, next)
		}
		c.At(0, next)
		err = w.RunFor(time.Hour)
		var be *sim.BudgetError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, "event", be.Budget)
		return fmt.Sprintf("%v %d %d", be, w.Events(), w.PacketCount())
	}
	want := run(1)
	assert.Equal(t, want, run(2))
}

// TestParallelCallBetweenRuns: a connect made between runs (a notebook's
// statement) sends its SYN to another lane; the next run delivers it.
// (The SYN waited, unseen, for a window's end that never came.)
func TestParallelCallBetweenRuns(t *testing.T) {
	w, c, s := lanedPair(t, parallelOpts)
	_, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	_, err = c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, 1, c.StateCount(sim.Established), "client ESTABLISHED")
	assert.Equal(t, 1, s.StateCount(sim.Established), "server ESTABLISHED")
}

// lanedPair builds a parallel World of o with a client in lane 0 and a
// server in lane 1, 1 ms apart each way; it closes when the test ends.
func lanedPair(tb testing.TB, o sim.Options) (*sim.World, *sim.Host, *sim.Host) {
	tb.Helper()
	w := sim.New(o)
	tb.Cleanup(w.Close)
	require.NoError(tb, w.Parallel([][]string{{"server"}}))
	c, err := w.AddHost(sim.HostOptions{Name: "client", Addr: clientIP})
	require.NoError(tb, err)
	s, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP})
	require.NoError(tb, err)
	_, err = w.AddLink(c, s, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}})
	require.NoError(tb, err)
	return w, c, s
}

// TestParallelStepIsOneInstant: a parallel Step runs one instant and
// leaves every lane at it, so that what follows (run until's RunFor(0))
// never takes a lane back in time. (A Step ran a whole window, each lane
// stopping at its own last event, and the next RunFor set the server's
// lane back: its events ran at 500 µs, then 200 µs.)
func TestParallelStepIsOneInstant(t *testing.T) {
	w, c, s := lanedPair(t, parallelOpts)
	var at []time.Duration
	c.At(100*time.Microsecond, func() {})
	s.At(500*time.Microsecond, func() { at = append(at, s.Now()) })
	_, err := w.Step()
	require.NoError(t, err)
	assert.Equal(t, 100*time.Microsecond, w.Now())
	assert.Empty(t, at, "the step ran the server's event at 500µs")
	require.NoError(t, w.RunFor(0))
	s.At(s.Now()+100*time.Microsecond, func() { at = append(at, s.Now()) })
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, []time.Duration{200 * time.Microsecond, 500 * time.Microsecond}, at)
}

// TestParallelRunStopsAtMaxTime: Run in lanes that no link joins stops on
// the time budget, as a World of one lane does. (It ran on to the event
// budget, at 33 minutes of virtual time.)
func TestParallelRunStopsAtMaxTime(t *testing.T) {
	o := parallelOpts
	o.MaxTime, o.MaxEvents = time.Second, 20000
	w := sim.New(o)
	defer w.Close()
	require.NoError(t, w.Parallel([][]string{{"server"}}))
	_, err := w.AddHost(sim.HostOptions{Name: "client", Addr: clientIP})
	require.NoError(t, err)
	s, err := w.AddHost(sim.HostOptions{Name: "server", Addr: serverIP})
	require.NoError(t, err)
	var tick func()
	tick = func() { s.At(s.Now()+100*time.Millisecond, tick) }
	s.At(0, tick)
	var be *sim.BudgetError
	require.ErrorAs(t, w.Run(), &be)
	assert.Equal(t, "virtual-time", be.Budget)
	assert.Equal(t, 1100*time.Millisecond, be.At)
	assert.LessOrEqual(t, w.Now(), time.Second)
}

// TestParallelPendingSeesWhatWaits: a packet a call between runs sent to
// another lane is an event to come. (NextEventAt said none was left, and
// run until went idle.)
func TestParallelPendingSeesWhatWaits(t *testing.T) {
	w, c, s := lanedPair(t, parallelOpts)
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	var acc *sim.Socket
	l.OnAccept = func(a *sim.Socket) { acc = a }
	cs, err := c.Connect(server80, sim.SocketOptions{Linger: true})
	require.NoError(t, err)
	require.NoError(t, w.Run())
	require.Equal(t, sim.Established, acc.State())
	require.NoError(t, cs.Close()) // linger 0: an RST to the other lane
	at, ok := w.NextEventAt()
	assert.True(t, ok, "NextEventAt: no event")
	assert.Equal(t, w.Now()+time.Millisecond, at)
	assert.Equal(t, 1, w.Pending())
}

// TestParallelPanicOnAWorker: an event that panics on a worker's
// goroutine panics the caller, after the window, with where it came from.
// (It ended the process, past any recover.)
func TestParallelPanicOnAWorker(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	w, c, s := lanedPair(t, parallelOpts)
	c.At(0, func() { time.Sleep(50 * time.Millisecond) }) // the caller takes lane 0 and is busy
	s.At(0, func() { panic("boom in lane 1") })
	defer func() {
		r := recover()
		require.NotNil(t, r, "no panic")
		assert.Contains(t, fmt.Sprint(r), "boom in lane 1")
		assert.Contains(t, fmt.Sprint(r), "in an event of lane 1")
	}()
	_ = w.RunFor(time.Millisecond)
}

// TestParallelEventBudgetShared: four busy lanes stay within the event
// budget together, and the error counts them all. (Each lane could run
// the budget: 4,000 events for a budget of 1,000.)
func TestParallelEventBudgetShared(t *testing.T) {
	o := parallelOpts
	o.MaxEvents = 1000
	w := tickingLanes(t, o, time.Microsecond)
	err := w.RunFor(time.Hour)
	var be *sim.BudgetError
	require.ErrorAs(t, err, &be)
	assert.LessOrEqual(t, w.Events(), o.MaxEvents)
	assert.Equal(t, w.Events(), be.Events)
}

// TestParallelWindowsChangeNothing: where windows end (a sampler, a run
// cut in two) does not change which of two events at one instant runs
// first. (A packet from another lane took its place among its lane's
// events of an instant when its window ended: with a sampler, the
// server's own event at 1 ms saw the SYN that arrived then; without, not.)
func TestParallelWindowsChangeNothing(t *testing.T) {
	run := func(cut string) int {
		w, c, s := lanedPair(t, parallelOpts)
		_, err := s.Listen(80, sim.SocketOptions{})
		require.NoError(t, err)
		seen := -1
		s.At(500*time.Microsecond, func() {
			s.At(time.Millisecond, func() { seen = s.StateCount(sim.SynReceived) })
		})
		c.At(0, func() { _, _ = c.Connect(server80, sim.SocketOptions{}) })
		switch cut {
		case "sampler":
			require.NoError(t, w.Every(250*time.Microsecond, func(time.Duration) bool { return true }))
		case "split":
			require.NoError(t, w.RunFor(250*time.Microsecond))
		}
		require.NoError(t, w.RunFor(5*time.Millisecond-w.Now()))
		return seen
	}
	want := run("")
	assert.Equal(t, 0, want, "the server's own event runs before the packet of its instant")
	assert.Equal(t, want, run("sampler"), "a sampler changed what an event saw")
	assert.Equal(t, want, run("split"), "cutting the run changed what an event saw")
}

// busyWorld runs n events, one a microsecond, on host b (lane 1 when
// parallel), within a budget of maxEvents.
func busyWorld(t *testing.T, parallel bool, maxEvents int64, n int) (*sim.World, error) {
	t.Helper()
	o := parallelOpts
	o.MaxEvents = maxEvents
	w := sim.New(o)
	t.Cleanup(w.Close)
	if parallel {
		require.NoError(t, w.Parallel([][]string{{"b"}}))
	}
	_, err := w.AddHost(sim.HostOptions{Name: "a", Addr: clientIP})
	require.NoError(t, err)
	b, err := w.AddHost(sim.HostOptions{Name: "b", Addr: serverIP})
	require.NoError(t, err)
	left := n
	var tick func()
	tick = func() {
		if left--; left > 0 {
			b.At(b.Now()+time.Microsecond, tick)
		}
	}
	b.At(0, tick)
	return w, w.RunFor(time.Second)
}

// TestParallelBudgetFitsWhatFits: a run within the event budget runs in
// lanes as in one (a lane stopped at its share of the budget, half of it,
// though the other lane had nothing to do), and one past it stops after
// exactly the budget, whatever the lanes.
func TestParallelBudgetFitsWhatFits(t *testing.T) {
	w1, err := busyWorld(t, false, 1000, 600)
	require.NoError(t, err)
	require.Equal(t, int64(600), w1.Events())
	w2, err := busyWorld(t, true, 1000, 600)
	require.NoError(t, err, "parallel: %d events of a budget of 1000", w2.Events())
	assert.Equal(t, int64(600), w2.Events())

	o := parallelOpts
	o.MaxEvents = 1002
	w := tickingLanes(t, o, 10*time.Millisecond)
	var be *sim.BudgetError
	require.ErrorAs(t, w.RunFor(time.Hour), &be)
	assert.Equal(t, o.MaxEvents, w.Events(), "%v", be)
}

// TestParallelGlobalEventsBudget: events of no node that keep making
// more at their instant stop on the event budget, as in one lane. (They
// ran without end.)
func TestParallelGlobalEventsBudget(t *testing.T) {
	o := parallelOpts
	o.MaxEvents = 1000
	w, _, _ := lanedPair(t, o)
	k := 0
	var again func()
	again = func() {
		if k++; k > 100_000 {
			panic("events of no node ran past the budget")
		}
		w.At(w.Now(), again)
	}
	w.At(time.Millisecond, again)
	var be *sim.BudgetError
	require.ErrorAs(t, w.RunFor(time.Second), &be)
	assert.Equal(t, "event", be.Budget)
	assert.Equal(t, o.MaxEvents, w.Events())
}

// tickingLanes builds a parallel World of o with four hosts in four lanes,
// each running an event every d for ever; it closes when the test ends.
func tickingLanes(tb testing.TB, o sim.Options, d time.Duration) *sim.World {
	tb.Helper()
	w := sim.New(o)
	tb.Cleanup(w.Close)
	require.NoError(tb, w.Parallel([][]string{{"b"}, {"c"}, {"d"}}))
	for i, n := range []string{"a", "b", "c", "d"} {
		h, err := w.AddHost(sim.HostOptions{Name: n, Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
		require.NoError(tb, err)
		var tick func()
		tick = func() { h.At(h.Now()+d, tick) }
		h.At(0, tick)
	}
	return w
}
