package sim_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

// The tests in this file check that the end of a gVisor TIME-WAIT is
// recorded when gVisor's endpoint really leaves TIME-WAIT, whatever
// segments reached it: the observer learns it from the stack, it does not
// guess gVisor's timer rules.

// twSegment is one segment the server sends into the client's TIME-WAIT.
type twSegment struct {
	at   time.Duration // after TIME-WAIT began
	kind string
}

var twKinds = []string{"fin", "ack", "data", "oow", "rst", "syn-low", "syn-high"}

// twExchange builds a client in TIME-WAIT (TIME-WAIT lasts 5 s), injects
// segs, and, if probe >= 0, an out-of-window ACK at probe after TIME-WAIT
// began. It runs until nothing is left and returns the World, the instant
// TIME-WAIT began, and the flags of the client's answer to the probe ("" if
// none).
func twExchange(tb testing.TB, segs []twSegment, probe time.Duration) (*sim.World, time.Duration, string) {
	tb.Helper()
	w, c, cs, _ := inTimeWait(tb, sim.HostOptions{MSL: 2500 * time.Millisecond})
	var began time.Duration
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.To == sim.TimeWait {
			began = tr.At
		}
	}
	var fin netem.Header
	for _, p := range w.Packets() {
		if h, _ := netem.Decode(p.Data); p.From == "server" && h.Flags&netem.FIN != 0 {
			fin = h
		}
	}
	seg := func(kind string) netem.Segment {
		s := netem.Segment{Src: server80, Dst: cs.Local(), Seq: fin.Seq + 1, Ack: fin.Ack, Flags: netem.ACK, Window: 1000}
		switch kind {
		case "fin":
			s.Seq, s.Flags = fin.Seq, netem.FIN|netem.ACK
		case "data":
			s.Payload = []byte("late")
		case "oow":
			s.Seq += 50000
		case "rst":
			s.Flags = netem.RST
		case "syn-low":
			s.Seq, s.Ack, s.Flags = fin.Seq-1000, 0, netem.SYN
		case "syn-high":
			s.Seq, s.Ack, s.Flags = fin.Seq+100000, 0, netem.SYN
		}
		return s
	}
	inject := func(at time.Duration, s netem.Segment) int {
		b, err := s.Marshal()
		require.NoError(tb, err)
		id, err := w.Inject(c, began+at, b)
		require.NoError(tb, err)
		return id
	}
	for _, s := range segs {
		inject(s.at, seg(s.kind))
	}
	probeID := -1
	if probe >= 0 {
		probeID = inject(probe, seg("oow"))
	}
	require.NoError(tb, w.Run())
	answer := ""
	if probeID > 0 {
		for _, p := range w.Packets() {
			if p.From == "client" && p.Sent == began+probe && p.ID > probeID {
				h, _ := netem.Decode(p.Data)
				answer = h.Flags.String()
				break
			}
		}
	}
	return w, began, answer
}

// recordedEnd returns when the observer recorded the client's TIME-WAIT
// ending, after began.
func recordedEnd(tb testing.TB, w *sim.World, began time.Duration) time.Duration {
	tb.Helper()
	for _, tr := range w.Transitions() {
		if tr.Host == "client" && tr.From == sim.TimeWait && tr.At >= began {
			return tr.At - began
		}
	}
	tb.Fatalf("the client's TIME-WAIT (began %v) never ended in the record", began)
	return 0
}

// TestTimeWaitEndAfterFINThenACK is the case found by a user: a
// retransmitted FIN restarts gVisor's timer (2 s in, so TIME-WAIT ends at
// 7 s), and a bare ACK at 6 s does not; gVisor leaves TIME-WAIT at 7 s.
func TestTimeWaitEndAfterFINThenACK(t *testing.T) {
	segs := []twSegment{{2 * time.Second, "fin"}, {6 * time.Second, "ack"}}
	w, began, _ := twExchange(t, segs, -1)
	assert.Equal(t, 7*time.Second, recordedEnd(t, w, began), "TIME-WAIT end, relative to its start")
	assert.Equal(t, 0, w.Host("client").StateCount(sim.TimeWait), "TIME-WAIT endpoints left")
}

// TestTimeWaitEndProperty: for random segments sent into a gVisor
// TIME-WAIT, the recorded end is the instant gVisor stops answering as
// TIME-WAIT. Ground truth comes from the stack itself, replaying the same
// run with a probe (an out-of-window ACK): TIME-WAIT answers it with an ACK,
// a closed tuple with an RST. The probe one nanosecond before the recorded
// end must get an ACK, the probe one nanosecond after it an RST.
func TestTimeWaitEndProperty(t *testing.T) {
	cases := 60
	if testing.Short() {
		cases = 15
	}
	r := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < cases; i++ {
		var segs []twSegment
		for n := r.IntN(6); n > 0; n-- {
			segs = append(segs, twSegment{
				at:   time.Duration(r.Int64N(int64(12 * time.Second))).Truncate(time.Millisecond),
				kind: twKinds[r.IntN(len(twKinds))],
			})
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			w, began, _ := twExchange(t, segs, -1)
			end := recordedEnd(t, w, began)
			_, _, before := twExchange(t, segs, end-1)
			_, _, after := twExchange(t, segs, end+1)
			assert.Equal(t, ".", before, "answer to a probe 1ns before the recorded end %v (segments %v)", end, segs)
			assert.Contains(t, []string{"R", "R."}, after, "answer to a probe 1ns after the recorded end %v (segments %v)", end, segs)
		})
	}
}

// TestTimeWaitRestartRecorded: a FIN retransmitted into TIME-WAIT is
// re-ACKed and restarts the 2MSL timer, on both profiles (gVisor's own
// timer, reset by handleTimeWait; the linux profile's timewait socket).
// The World records the restart with its new expiry, which is when
// TIME-WAIT really ends, and records nothing for an RST gVisor ignores
// (the linux profile's default, tcp_rfc1337=0, would end TIME-WAIT: there
// the client keeps it with tcp_rfc1337=1, as the server's RST to the
// client's ACK would end it too).
func TestTimeWaitRestartRecorded(t *testing.T) {
	for _, p := range []sim.Profile{sim.GVisor, sim.Linux} {
		t.Run(p.String(), func(t *testing.T) {
			w, c, cs, rst := inTimeWait(t, sim.HostOptions{MSL: 10 * time.Second, Profile: p})
			var fin netem.Header
			for _, pk := range w.Packets() {
				if h, _ := netem.Decode(pk.Data); pk.From == "server" && h.Flags&netem.FIN != 0 {
					fin = h
				}
			}
			again, err := netem.Segment{Src: server80, Dst: cs.Local(), Seq: fin.Seq, Ack: fin.Ack, Flags: netem.FIN | netem.ACK, Window: fin.Window}.Marshal()
			require.NoError(t, err)
			at := w.Now() + time.Second
			if p == sim.Linux {
				require.NoError(t, c.SetSysctl("tcp_rfc1337", "1"))
			} else {
				_, err = w.Inject(c, at, rst)
				require.NoError(t, err)
			}
			_, err = w.Inject(c, at+time.Second, again)
			require.NoError(t, err)
			require.NoError(t, w.Run())

			var ends []time.Duration
			ep := 0
			for _, tr := range w.Transitions() {
				if tr.Host == "client" && tr.From == sim.TimeWait {
					ends, ep = append(ends, tr.At), tr.Endpoint
				}
			}
			require.Len(t, ends, 1, "client's TIME-WAIT ends")
			got := w.TimeWaitRestarts()
			require.Len(t, got, 1, "restarts: got %+v, want one, at the FIN (none at the RST)", got)
			r := got[0]
			assert.Equal(t, "client", r.Host)
			assert.Equal(t, ep, r.Endpoint, "restart's endpoint")
			assert.Equal(t, cs.Local(), r.Local)
			assert.Equal(t, server80, r.Remote)
			assert.Equal(t, at+time.Second, r.At, "restart's time: the FIN's arrival")
			if p == sim.Linux {
				onTheWheel(t, r.At, 20*time.Second, r.Until, "restart's new expiry: 2×MSL after it, on the timer wheel's tick")
			} else {
				assert.Equal(t, r.At+20*time.Second, r.Until, "restart's new expiry: 2×MSL after it (gVisor's timer is exact)")
			}
			assert.Equal(t, r.Until, ends[0], "TIME-WAIT ends at the restarted timer's expiry")
			assert.Equal(t, "retransmitted FIN: ACK, timer restarted", r.Cause)
			var ack *sim.Packet
			for _, pk := range w.Packets() {
				if pk.From == "client" && pk.Sent == r.At {
					ack = &pk
				}
			}
			require.NotNil(t, ack, "the client answers the FIN")
			h, _ := netem.Decode(ack.Data)
			assert.Equal(t, ".", h.Flags.String(), "the answer's flags")
			assert.Less(t, ack.Order, r.Order, "the restart is recorded after the ACK of its event")
		})
	}
}
