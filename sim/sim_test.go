package sim_test

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

func TestEventsRunInTimeThenInsertionOrder(t *testing.T) {
	w := sim.New(sim.Options{})
	var got []string
	w.At(2*time.Second, func() { got = append(got, "b@2") })
	w.At(time.Second, func() { got = append(got, "a@1") })
	w.At(2*time.Second, func() { got = append(got, "c@2") })
	w.At(time.Second, func() {
		got = append(got, "d@1")
		w.After(0, func() { got = append(got, "e@1 (queued during d)") })
	})
	require.NoError(t, w.Run())
	assert.Equal(t, []string{"a@1", "d@1", "e@1 (queued during d)", "b@2", "c@2"}, got)
	assert.Equal(t, 2*time.Second, w.Now())
}

func TestBudgets(t *testing.T) {
	w := sim.New(sim.Options{MaxEvents: 100})
	var tick func()
	tick = func() { w.After(time.Millisecond, tick) }
	w.At(0, tick)
	err := w.Run()
	var be *sim.BudgetError
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "event", be.Budget)
	assert.EqualError(t, err, "sim: event budget of 100 exhausted at t=100ms after 100 events")

	w = sim.New(sim.Options{MaxTime: time.Minute})
	w.At(0, tick)
	err = w.Run()
	require.ErrorAs(t, err, &be)
	assert.Equal(t, "virtual-time", be.Budget)
	assert.Contains(t, err.Error(), "virtual-time budget of 1m0s exhausted")
	assert.ErrorAs(t, w.RunFor(2*time.Minute), &be, "RunFor past the budget")

	w = sim.New(sim.Options{})
	assert.ErrorIs(t, w.RunUntil(func() bool { return false }), sim.ErrIdle)
}

func TestBadHostOptions(t *testing.T) {
	w := sim.New(sim.Options{})
	_, err := w.AddHost(sim.HostOptions{Name: "a", Addr: clientIP})
	require.NoError(t, err)
	defer w.Close()
	for _, c := range []struct {
		o    sim.HostOptions
		want string
	}{
		{sim.HostOptions{Addr: serverIP}, "a name is required"},
		{sim.HostOptions{Name: "b"}, "want an IPv4 address"},
		{sim.HostOptions{Name: "a", Addr: serverIP}, "the name is taken"},
		{sim.HostOptions{Name: "b", Addr: clientIP}, "is already a's"},
		{sim.HostOptions{Name: "b", Addr: serverIP, MSL: -time.Second}, "MSL -1s: want a positive duration"},
		{sim.HostOptions{Name: "b", Addr: serverIP, FirstPort: 50000, LastPort: 40000}, "port range 50000-40000: want 1 <= first <= last <= 65535"},
		{sim.HostOptions{Name: "b", Addr: netip.MustParseAddr("0.0.0.0")}, "address 0.0.0.0: want a unicast address outside 0.0.0.0/8"},
		{sim.HostOptions{Name: "b", Addr: netip.MustParseAddr("0.0.0.1")}, "address 0.0.0.1: want a unicast"},
		{sim.HostOptions{Name: "b", Addr: netip.MustParseAddr("127.0.0.2")}, "address 127.0.0.2: want a unicast"},
		{sim.HostOptions{Name: "b", Addr: netip.MustParseAddr("224.0.0.1")}, "address 224.0.0.1: want a unicast"},
		{sim.HostOptions{Name: "b", Addr: netip.MustParseAddr("255.255.255.255")}, "address 255.255.255.255: want a unicast"},
	} {
		_, err := w.AddHost(c.o)
		assert.ErrorContains(t, err, c.want)
	}
}

// TestPortExhaustion: with a two-port ephemeral range and both ports in
// TIME-WAIT, connect fails with EADDRNOTAVAIL (S4); once TIME-WAIT ends
// the ports are free again.
func TestPortExhaustion(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{FirstPort: 40000, LastPort: 40001, MSL: time.Second}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	for i := 0; i < 2; i++ {
		cs, err := c.Connect(server80, sim.SocketOptions{})
		require.NoError(t, err, "connect %d", i+1)
		require.NoError(t, w.RunFor(10*time.Millisecond))
		require.NoError(t, cs.Close())
		require.NoError(t, w.RunFor(10*time.Millisecond))
		require.Equal(t, sim.TimeWait, cs.State(), "connection %d", i+1)
	}
	assert.Equal(t, 2, c.StateCount(sim.TimeWait))
	_, err = c.Connect(server80, sim.SocketOptions{})
	assert.Equal(t, "EADDRNOTAVAIL", sim.Errno(err), "third connect: %v", err)

	require.NoError(t, w.RunFor(2*time.Second)) // TIME-WAIT is 2 s
	assert.Equal(t, 0, c.StateCount(sim.TimeWait))
	_, err = c.Connect(server80, sim.SocketOptions{})
	assert.NoError(t, err, "connect after TIME-WAIT ended")
}

// TestReuseAddr: a restarted server cannot bind its port while a
// connection of the old one is in TIME-WAIT, unless both set SO_REUSEADDR
// (S11).
func TestReuseAddr(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		t.Run(map[bool]string{false: "without", true: "with"}[reuse], func(t *testing.T) {
			w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
			opts := sim.SocketOptions{ReuseAddr: reuse}
			l, err := s.Listen(80, opts)
			require.NoError(t, err)
			cs, err := c.Connect(server80, sim.SocketOptions{})
			require.NoError(t, err)
			cs.OnEOF = func(cs *sim.Socket) { _ = cs.Close() }
			require.NoError(t, w.RunFor(10*time.Millisecond))
			require.Len(t, l.Accepted(), 1)
			require.NoError(t, l.Accepted()[0].Close()) // the server closes first
			require.NoError(t, l.Close())
			require.NoError(t, w.RunFor(10*time.Millisecond))
			require.Equal(t, 1, s.StateCount(sim.TimeWait), "the server holds TIME-WAIT")

			_, err = s.Listen(80, opts)
			if reuse {
				assert.NoError(t, err)
			} else {
				assert.Equal(t, "EADDRINUSE", sim.Errno(err), "listen: %v", err)
			}
		})
	}
}

// TestLingerZero: SO_LINGER {on, 0} makes close send RST instead of FIN;
// nobody enters TIME-WAIT and the peer reads ECONNRESET (S10).
func TestLingerZero(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	cs, err := c.Connect(server80, sim.SocketOptions{Linger: true})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.NoError(t, cs.Close())
	require.NoError(t, w.Run())

	assert.Equal(t, []string{"S", ".", "R."}, flagsFrom(w, "client"))
	assert.Equal(t, []sim.State{sim.SynSent, sim.Established, sim.Closed}, states(w, "client"))
	assert.Zero(t, c.Entered(sim.TimeWait)+s.Entered(sim.TimeWait), "no side may enter TIME-WAIT")
	require.Len(t, l.Accepted(), 1)
	assert.Equal(t, "ECONNRESET", sim.Errno(l.Accepted()[0].Err()), "server socket error: %v", l.Accepted()[0].Err())
}

// TestFinWait2Timeout: when the peer never closes, FIN-WAIT-2 ends after
// tcp_fin_timeout, silently (S12).
func TestFinWait2Timeout(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{FinTimeout: 5 * time.Second}, sim.HostOptions{}, netem.Options{})
	_, err := s.Listen(80, sim.SocketOptions{}) // accepts, never closes
	require.NoError(t, err)
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.NoError(t, cs.Close())
	require.NoError(t, w.Run())

	var fw2 []sim.Transition
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && (tr.To == sim.FinWait2 || tr.From == sim.FinWait2) {
			fw2 = append(fw2, tr)
		}
	}
	require.Len(t, fw2, 2, "transitions: %v", fw2)
	assert.Equal(t, sim.Closed, fw2[1].To)
	assert.Equal(t, 5*time.Second, fw2[1].At-fw2[0].At, "FIN-WAIT-2 lasted %v, want tcp_fin_timeout", fw2[1].At-fw2[0].At)
	last := w.Packets()[len(w.Packets())-1]
	assert.Less(t, last.Sent, fw2[1].At, "a packet was sent when FIN-WAIT-2 expired")
	assert.Zero(t, c.Entered(sim.TimeWait))
}

func TestConnectRefused(t *testing.T) {
	w, c, _ := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	var cbErr error
	cs.OnError = func(_ *sim.Socket, err error) { cbErr = err }
	require.NoError(t, w.Run())
	assert.Equal(t, "ECONNREFUSED", sim.Errno(cs.Err()), "Err() = %v", cs.Err())
	assert.Equal(t, cs.Err(), cbErr, "OnError got %v", cbErr)
	assert.Equal(t, []string{"S"}, flagsFrom(w, "client"))
	assert.Equal(t, []string{"R."}, flagsFrom(w, "server"))
}

// TestInjectedRSTIntoTimeWait: gVisor ignores an in-window RST in TIME-WAIT
// (RFC 1337), so TIME-WAIT ends on time.
func TestInjectedRSTIntoTimeWait(t *testing.T) {
	w, c, _, rst := inTimeWait(t, sim.HostOptions{MSL: 10 * time.Second})
	twAt := w.Now()
	_, err := w.Inject(c, w.Now()+time.Second, rst)
	require.NoError(t, err)
	require.NoError(t, w.Run())

	inj := w.Packets()[len(w.Packets())-1]
	assert.Equal(t, netem.Injected, inj.Fate)
	var end time.Duration
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.From == sim.TimeWait {
			end = tr.At
		}
	}
	assert.InDelta(t, float64(twAt+20*time.Second), float64(end), float64(10*time.Millisecond),
		"TIME-WAIT ended at %v, want about %v (2×MSL after it began)", end, twAt+20*time.Second)
}

func TestInjectRejectsGarbage(t *testing.T) {
	w, c, _ := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	_, err := w.Inject(c, 0, []byte{1, 2, 3})
	assert.ErrorContains(t, err, "shorter than an IPv4 header")
}

// TestHoldAndRelease: a packet held with no time is delivered when
// released, and the trace records when.
func TestHoldAndRelease(t *testing.T) {
	hold := netem.Rule{Match: netem.Match{Dir: netem.AtoB, Flags: netem.SYN}, Action: netem.Action{Kind: netem.Hold}}
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{Rules: []netem.Rule{hold}})
	_, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(500*time.Millisecond))
	held := w.Held()
	require.Equal(t, []int{1}, held)
	require.NoError(t, w.Release(1, 600*time.Millisecond))
	assert.Error(t, w.Release(1, 0), "releasing twice")
	require.NoError(t, w.RunUntil(cs.Connected))
	assert.Equal(t, 600*time.Millisecond, w.Packets()[0].Delivered)
	assert.Equal(t, netem.Held, w.Packets()[0].Fate)
}

// TestManyTimeWaits: the observer follows every endpoint into and out of
// TIME-WAIT after the application let go of it.
func TestManyTimeWaits(t *testing.T) {
	const n = 300
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{MSL: 5 * time.Second}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { a.OnEOF = func(a *sim.Socket) { _ = a.Close() } }
	for i := 0; i < n; i++ {
		w.At(time.Duration(i)*10*time.Millisecond, func() {
			cs, err := c.Connect(server80, sim.SocketOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			cs.OnConnect = func(cs *sim.Socket) { _ = cs.Close() }
		})
	}
	require.NoError(t, w.RunFor(4*time.Second))
	assert.Equal(t, n, c.StateCount(sim.TimeWait), "TIME-WAIT endpoints before expiry")
	require.NoError(t, w.Run())
	assert.Equal(t, n, c.Entered(sim.TimeWait))
	assert.Equal(t, 0, c.StateCount(sim.TimeWait), "TIME-WAIT endpoints after expiry")
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.From == sim.TimeWait {
			assert.Equal(t, sim.Closed, tr.To)
		}
	}
}

func TestOpErrorFormat(t *testing.T) {
	_, c, _ := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	_, err := c.Connect(netip.AddrPortFrom(serverIP, 0), sim.SocketOptions{})
	var oe *sim.OpError
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, "EINVAL", oe.Errno)
	assert.Contains(t, err.Error(), "client: connect 10.0.0.2:0: EINVAL")
}

// TestHalfClose: shutdown(SHUT_WR) sends FIN; the peer reads EOF but can
// still send, and the half-closed side still receives. Sending after the
// shutdown fails with EPIPE.
func TestHalfClose(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) {
		a.OnEOF = func(a *sim.Socket) {
			_, _ = a.Send([]byte("after your FIN"))
			_ = a.Close()
		}
	}
	cs, err := c.Connect(server80, sim.SocketOptions{})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.NoError(t, cs.Shutdown(false, true))
	assert.Equal(t, sim.FinWait1, cs.State())
	_, err = cs.Send([]byte("too late"))
	assert.Equal(t, "EPIPE", sim.Errno(err), "send after shutdown: %v", err)
	require.NoError(t, w.RunFor(100*time.Millisecond))

	assert.Equal(t, "after your FIN", string(cs.Received()))
	assert.True(t, cs.EOF())
	assert.Equal(t, sim.TimeWait, cs.State())
	assert.Equal(t, []sim.State{sim.SynSent, sim.Established, sim.FinWait1, sim.FinWait2, sim.TimeWait}, states(w, "client"))
}

// TestCloseWithUnreadData: closing a socket whose received bytes were never
// read sends RST instead of FIN and counts TcpExtTCPAbortOnClose; SO_LINGER
// {1, 0} counts TcpExtTCPAbortOnData.
func TestCloseWithUnreadData(t *testing.T) {
	w, c, s := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	l, err := s.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	l.OnAccept = func(a *sim.Socket) { _, _ = a.Send([]byte("unread")) }
	cs, err := c.Connect(server80, sim.SocketOptions{NoAutoRead: true})
	require.NoError(t, err)
	require.NoError(t, w.RunFor(10*time.Millisecond))
	require.NoError(t, cs.Close())
	require.NoError(t, w.RunFor(10*time.Millisecond))
	assert.Equal(t, []string{"S", ".", ".", "R."}, flagsFrom(w, "client"), "SYN, ACK, ACK of the data, then RST")
	v, _ := c.CounterValue("TcpExtTCPAbortOnClose")
	assert.Equal(t, uint64(1), v)
	var cause string
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.To == sim.Closed {
			cause = tr.Cause
		}
	}
	assert.Contains(t, cause, "6 unread bytes")

	_, c2, s2 := pair(t, sim.Options{}, sim.HostOptions{}, sim.HostOptions{}, netem.Options{})
	_, err = s2.Listen(80, sim.SocketOptions{})
	require.NoError(t, err)
	cs, err = c2.Connect(server80, sim.SocketOptions{Linger: true})
	require.NoError(t, err)
	require.NoError(t, cs.Close())
	v, _ = c2.CounterValue("TcpExtTCPAbortOnData")
	assert.Equal(t, uint64(1), v, "SO_LINGER {1, 0}")
}

// TestEveryStops: a sampler that returns false is called no more; the
// calls are outside the event budget, so one at every millisecond of a
// long run would cost without bound after its series is full.
func TestEveryStops(t *testing.T) {
	w := sim.New(sim.Options{})
	defer w.Close()
	var at []time.Duration
	require.NoError(t, w.Every(time.Millisecond, func(t time.Duration) bool {
		at = append(at, t)
		return len(at) < 3
	}))
	w.After(time.Second, func() {})
	require.NoError(t, w.Run())
	assert.Equal(t, []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}, at)
}

// TestMaxHosts: a World takes Options.MaxHosts hosts, and refuses the next.
func TestMaxHosts(t *testing.T) {
	w := sim.New(sim.Options{MaxHosts: 2})
	defer w.Close()
	assert.Equal(t, 2, w.MaxHosts())
	for i := range 2 {
		_, err := w.AddHost(sim.HostOptions{Name: fmt.Sprint("h", i), Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
		require.NoError(t, err)
	}
	_, err := w.AddHost(sim.HostOptions{Name: "h2", Addr: netip.MustParseAddr("10.0.0.3")})
	assert.EqualError(t, err, "sim: host h2: the World has 2 hosts, its limit (Options.MaxHosts)")
	assert.Equal(t, sim.DefaultMaxHosts, sim.New(sim.Options{}).MaxHosts())
}
