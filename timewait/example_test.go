package timewait_test

import (
	"fmt"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/timewait"
)

// A bare ACK at RCV.NXT is silent but restarts TIME-WAIT; an out-of-window
// one is answered, and a second within 500 ms is not.
func ExampleSock_Process() {
	now := time.Hour
	s := &timewait.Sock{Substate: timewait.TimeWait, RcvNxt: 1000, SndNxt: 5000, RcvWnd: 65535}
	r := timewait.Rules{TimeWaitLen: 60 * time.Second, InvalidRateLimit: 500 * time.Millisecond}
	for _, g := range []timewait.Segment{
		{Seq: 1000, Ack: 5000, Flags: netem.ACK},
		{Seq: 9000, Ack: 5000, Flags: netem.ACK},
		{Seq: 9000, Ack: 5000, Flags: netem.ACK},
	} {
		v := s.Process(g, now, r)
		fmt.Println(v.Why)
		now += 100 * time.Millisecond
	}
	a := s.ACK(now)
	fmt.Printf("ACK seq %d ack %d\n", a.Seq, a.Ack)
	// Output:
	// bare ACK at RCV.NXT: timer restarted
	// out of window: ACK, timer restarted
	// out of window: ACK withheld (tcp_invalid_ratelimit), timer restarted
	// ACK seq 5000 ack 1000
}

// A 60 s TIME-WAIT begun 10 ms into a host's second hour ends when the
// timer wheel reaches the end of its 512-jiffy bucket, not at 60 s; two
// begun a millisecond apart end in the same tick.
func ExampleTimerDue() {
	began := time.Hour + 10*time.Millisecond
	for _, b := range []time.Duration{began, began + time.Millisecond} {
		fmt.Println(timewait.TimerDue(b, 60*time.Second) - b)
	}
	fmt.Println(timewait.TimerExpires(began, 60*time.Second) - began)
	// Output:
	// 1m1.814s
	// 1m1.813s
	// 59.998s
}
