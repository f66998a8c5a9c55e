package timewait_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// boot is the monotonic time the tests start at: an hour of uptime.
const boot = time.Hour

var rules = timewait.Rules{TimeWaitLen: 60 * time.Second, InvalidRateLimit: 500 * time.Millisecond}

// newSock returns a TIME-WAIT socket whose peer's last timestamp was 1000,
// taken a second before boot.
func newSock(sub timewait.Substate) *timewait.Sock {
	return &timewait.Sock{
		Substate: sub, RcvNxt: 1000, SndNxt: 5000, RcvWnd: 64 << 7, RcvWScale: 7,
		TSRecent: 1000, TSRecentStamp: int64((boot - time.Second) / time.Second), TSOffset: 7,
		EntryStamp: uint32((boot - time.Second) / time.Millisecond),
	}
}

func ack(seq uint32, ts uint32) timewait.Segment {
	return timewait.Segment{Seq: seq, Ack: 5000, Flags: netem.ACK, HasTS: ts != 0, TSVal: ts, TSEcr: 9}
}

func TestTimeWaitBranches(t *testing.T) {
	with := func(g timewait.Segment, f func(*timewait.Segment)) timewait.Segment { f(&g); return g }
	old := timewait.Rules{Kernel: timewait.Linux49, TimeWaitLen: rules.TimeWaitLen, InvalidRateLimit: rules.InvalidRateLimit}
	rfc1337 := rules
	rfc1337.RFC1337 = true
	old1337 := old
	old1337.RFC1337 = true
	cases := []struct {
		name    string
		r       timewait.Rules
		g       timewait.Segment
		want    timewait.Action
		restart bool
		counts  timewait.Counts
		// tsRecent is the socket's ts_recent afterwards.
		tsRecent uint32
	}{
		{"bare ACK at RCV.NXT", rules, ack(1000, 2000), timewait.Drop, true, 0, 2000},
		{"bare ACK, no timestamp", rules, ack(1000, 0), timewait.Drop, true, 0, 1000},
		{"ACK with an old TSval (PAWS)", rules, ack(1000, 900), timewait.SendACK, true, timewait.PAWSTimewait, 1000},
		{"ACK with an old TSval, 4.9", old, ack(1000, 900), timewait.SendACK, true, timewait.PAWSEstab, 1000},
		{"out-of-window ACK", rules, ack(6000, 2000), timewait.SendACK, true, 0, 1000},
		{"old data below RCV.NXT", rules, with(ack(990, 2000), func(g *timewait.Segment) { g.Len = 5 }), timewait.SendACK, true, 0, 1000},
		{"retransmitted FIN", rules, with(ack(999, 2000), func(g *timewait.Segment) { g.Flags |= netem.FIN }), timewait.SendACK, true, 0, 1000},
		{"RST at RCV.NXT, rfc1337=0", rules, timewait.Segment{Seq: 1000, Flags: netem.RST}, timewait.Kill, false, 0, 1000},
		{"RST at RCV.NXT, rfc1337=1", rfc1337, timewait.Segment{Seq: 1000, Flags: netem.RST}, timewait.Drop, false, 0, 1000},
		{"RST at RCV.NXT, rfc1337=1, 4.9", old1337, timewait.Segment{Seq: 1000, Flags: netem.RST}, timewait.Drop, true, 0, 1000},
		{"RST out of window", rules, timewait.Segment{Seq: 1500, Flags: netem.RST}, timewait.Drop, false, 0, 1000},
		{"SYN above RCV.NXT", rules, timewait.Segment{Seq: 1500, Flags: netem.SYN}, timewait.AcceptSYN, false, 0, 1000},
		{"SYN below RCV.NXT, newer TSval", rules, timewait.Segment{Seq: 500, Flags: netem.SYN, HasTS: true, TSVal: 1001}, timewait.AcceptSYN, false, 0, 1000},
		{"SYN below RCV.NXT, no timestamp", rules, timewait.Segment{Seq: 500, Flags: netem.SYN}, timewait.SendACK, false, 0, 1000},
		{"SYN below RCV.NXT, older TSval", rules, timewait.Segment{Seq: 500, Flags: netem.SYN, HasTS: true, TSVal: 999}, timewait.SendACK, true, timewait.PAWSTimewait, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSock(timewait.TimeWait)
			v := s.Process(c.g, boot, c.r)
			assert.Equal(t, c.want, v.Action, "action (%s)", v.Why)
			assert.Equal(t, c.restart, v.Restart, "timer restarted (%s)", v.Why)
			assert.Equal(t, c.counts, v.Counts, "counters (%s)", v.Why)
			assert.Equal(t, c.tsRecent, s.TSRecent, "ts_recent afterwards")
			assert.NotEmpty(t, v.Why)
			if c.want == timewait.AcceptSYN {
				assert.Equal(t, uint32(5000+65537), v.ISN, "ISN: tw_snd_nxt + 65537")
			}
		})
	}
}

// TestOutOfWindowRateLimit: a second bare out-of-window ACK within
// tcp_invalid_ratelimit is not answered (TcpExtTCPACKSkippedTimeWait) but
// still restarts the timer; data is never rate limited.
func TestOutOfWindowRateLimit(t *testing.T) {
	s := newSock(timewait.TimeWait)
	v := s.Process(ack(6000, 2000), boot, rules)
	assert.Equal(t, timewait.SendACK, v.Action)
	v = s.Process(ack(6000, 2000), boot+100*time.Millisecond, rules)
	assert.Equal(t, timewait.Drop, v.Action, v.Why)
	assert.Equal(t, timewait.ACKSkippedTimeWait, v.Counts)
	assert.True(t, v.Restart)
	data := ack(6000, 2000)
	data.Len = 10
	assert.Equal(t, timewait.SendACK, s.Process(data, boot+200*time.Millisecond, rules).Action, "data is not rate limited")
	assert.Equal(t, timewait.SendACK, s.Process(ack(6000, 2000), boot+500*time.Millisecond, rules).Action, "500 ms after the last ACK")
}

// TestRateLimitRoundsUpToJiffies: tcp_invalid_ratelimit is stored in
// jiffies by msecs_to_jiffies, which rounds up: 3 ms is one jiffy (4 ms at
// HZ=250), not zero, so a second ACK in the same jiffy is withheld.
func TestRateLimitRoundsUpToJiffies(t *testing.T) {
	r := rules
	r.InvalidRateLimit = 3 * time.Millisecond
	s := newSock(timewait.TimeWait)
	assert.Equal(t, timewait.SendACK, s.Process(ack(6000, 2000), boot, r).Action)
	assert.Equal(t, timewait.Drop, s.Process(ack(6000, 2000), boot+2*time.Millisecond, r).Action, "within the jiffy")
	assert.Equal(t, timewait.SendACK, s.Process(ack(6000, 2000), boot+4*time.Millisecond, r).Action, "one jiffy later")
}

func TestFinWait2Substate(t *testing.T) {
	cases := []struct {
		name string
		g    timewait.Segment
		want timewait.Action
	}{
		{"duplicate ACK", ack(1000, 2000), timewait.Drop},
		{"new data", func() timewait.Segment { g := ack(1000, 2000); g.Len = 10; return g }(), timewait.SendRST},
		{"SYN at RCV.NXT", timewait.Segment{Seq: 1000, Flags: netem.SYN}, timewait.SendRST},
		{"out of window", ack(1000+(64<<7)+10, 2000), timewait.SendACK},
		{"PAWS reject", ack(1000, 900), timewait.SendACK},
		{"RST in window", timewait.Segment{Seq: 1000, Flags: netem.RST}, timewait.Kill},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSock(timewait.FinWait2)
			v := s.Process(c.g, boot, rules)
			assert.Equal(t, c.want, v.Action, v.Why)
			assert.Equal(t, timewait.FinWait2, s.Substate)
		})
	}

	s := newSock(timewait.FinWait2)
	fin := ack(1000, 2000)
	fin.Flags |= netem.FIN
	v := s.Process(fin, boot, rules)
	assert.Equal(t, timewait.SendACK, v.Action, v.Why)
	assert.True(t, v.Entered && v.Restart)
	assert.Equal(t, timewait.TimeWait, s.Substate)
	assert.Equal(t, uint32(1001), s.RcvNxt)
	assert.Equal(t, uint32(2000), s.TSRecent)
	assert.Equal(t, uint32(boot/time.Millisecond), s.EntryStamp, "tw_entry_stamp refreshed")

	s = newSock(timewait.FinWait2)
	s.Process(ack(1000+(64<<7)+10, 2000), boot, rules)
	v = s.Process(ack(1000+(64<<7)+10, 2000), boot+time.Millisecond, rules)
	assert.Equal(t, timewait.Drop, v.Action)
	assert.Equal(t, timewait.ACKSkippedFinWait2, v.Counts)
}

// TestNoTimestamps: without timestamps there is no PAWS, and the ACK
// carries no timestamp option.
func TestNoTimestamps(t *testing.T) {
	s := newSock(timewait.TimeWait)
	s.TSRecent, s.TSRecentStamp = 0, 0
	v := s.Process(ack(6000, 1), boot, rules)
	assert.Equal(t, timewait.SendACK, v.Action)
	assert.Zero(t, v.Counts)
	r := s.ACK(boot)
	assert.False(t, r.HasTS)
}

func TestReplies(t *testing.T) {
	s := newSock(timewait.TimeWait)
	r := s.ACK(boot + 1500*time.Microsecond)
	assert.Equal(t, timewait.Reply{Seq: 5000, Ack: 1000, Flags: netem.ACK, Window: 64, HasTS: true,
		TSVal: uint32((boot+time.Millisecond)/time.Millisecond) + 7, TSEcr: 1000}, r)
	assert.Equal(t, timewait.Reply{Seq: 77, Flags: netem.RST}, timewait.ResetFor(timewait.Segment{Seq: 5, Ack: 77, Flags: netem.ACK, Len: 3}))
	assert.Equal(t, timewait.Reply{Ack: 9, Flags: netem.RST | netem.ACK}, timewait.ResetFor(timewait.Segment{Seq: 5, Flags: netem.SYN, Len: 3}))
}

func TestReusable(t *testing.T) {
	entry := boot - time.Second // newSock's EntryStamp
	one := timewait.Reuse{Mode: 1, Delay: time.Second}
	cases := []struct {
		name string
		sub  timewait.Substate
		noTS bool
		u    timewait.Reuse
		k    timewait.Kernel
		at   time.Duration
		want bool
	}{
		{"bound, timestamps", timewait.TimeWait, false, timewait.Reuse{Bound: true}, timewait.Linux618, entry, true},
		{"bound, no timestamps", timewait.TimeWait, true, timewait.Reuse{Bound: true}, timewait.Linux618, entry, false},
		{"tw_reuse=1 at the delay", timewait.TimeWait, false, one, timewait.Linux618, entry + time.Second, false},
		{"tw_reuse=1 just past the delay", timewait.TimeWait, false, one, timewait.Linux618, entry + 1001*time.Millisecond, true},
		{"tw_reuse=0", timewait.TimeWait, false, timewait.Reuse{Delay: time.Second}, timewait.Linux618, entry + time.Hour, false},
		{"tw_reuse=2, not loopback", timewait.TimeWait, false, timewait.Reuse{Mode: 2, Delay: time.Second}, timewait.Linux618, entry + 2*time.Second, false},
		{"tw_reuse=2, loopback", timewait.TimeWait, false, timewait.Reuse{Mode: 2, Loopback: true, Delay: time.Second}, timewait.Linux618, entry + 2*time.Second, true},
		{"FIN-WAIT-2 substate", timewait.FinWait2, false, one, timewait.Linux618, entry + 2*time.Second, false},
		{"4.9, one second after ts_recent", timewait.TimeWait, false, one, timewait.Linux49, entry + time.Second, false},
		{"4.9, two seconds after ts_recent", timewait.TimeWait, false, one, timewait.Linux49, entry + 2*time.Second, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSock(c.sub)
			if c.noTS {
				s.TSRecentStamp = 0
			}
			assert.Equal(t, c.want, s.Reusable(c.at, c.u, c.k))
		})
	}
}

func TestParseKernel(t *testing.T) {
	for _, k := range []timewait.Kernel{timewait.Linux618, timewait.Linux49} {
		got, err := timewait.ParseKernel(k.String())
		assert.NoError(t, err)
		assert.Equal(t, k, got)
	}
	_, err := timewait.ParseKernel("5.4")
	assert.ErrorContains(t, err, "want 6.18 or 4.9")
}
