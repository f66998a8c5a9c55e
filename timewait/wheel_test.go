package timewait_test

import (
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/timewait"
)

// The levels are LVL_START(n) = 63×8^(n-1) jiffies (kernel/time/timer.c):
// level 0 below 63, level 1 from 63, 2 from 504, 3 from 4,032, 4 from
// 32,256.
func TestWheelLevel(t *testing.T) {
	for _, c := range []struct {
		delta uint64
		level int
	}{{0, 0}, {62, 0}, {63, 1}, {503, 1}, {504, 2}, {1000, 2}, {4031, 2}, {4032, 3}, {15000, 3}, {32255, 3}, {32256, 4}, {1 << 40, 8}} {
		if got := timewait.WheelLevel(c.delta); got != c.level {
			t.Errorf("WheelLevel(%d) = %d, want %d", c.delta, got, c.level)
		}
	}
}

func TestWheelFire(t *testing.T) {
	for _, c := range []struct {
		name       string
		now, delta uint64
		want       uint64
	}{
		// Level 0 rounds up by one jiffy (calc_index's +1, which the
		// delayed ACK's timer gets too).
		{"level 0", 1000, 10, 1011},
		// A 60 s TIME-WAIT at HZ=250 from jiffy 900,000: due 915,000,
		// level 3, buckets of 512: 915,000 >> 9 = 1,787, so the bucket
		// ending at 1,788 × 512 = 915,456, 456 jiffies (1.824 s) late.
		{"60 s at HZ=250", 900000, 15000, 915456},
		// Due exactly on a bucket's edge still goes to the next bucket:
		// no timer may fire early, and the wheel cannot tell an edge.
		{"on an edge", 0, 4096, 4608},
		// 4 s (1,000 jiffies, level 2, buckets of 64): 1,000 >> 6 = 15,
		// so 16 × 64 = 1,024.
		{"4 s", 0, 1000, 1024},
		// Past WHEEL_TIMEOUT_CUTOFF (LVL_START(9) = 63 << 24 jiffies,
		// 48.7 days at HZ=250) the kernel files the timer at
		// WHEEL_TIMEOUT_MAX = cutoff − LVL_GRAN(8): 1,056,964,608 −
		// 16,777,216 = 1,040,187,392 jiffies, level 8, so the bucket
		// ending at (1,040,187,392 >> 24) + 1 = 63 buckets of 2^24.
		{"past the cutoff", 0, 2_000_000_000, 63 << 24},
	} {
		if got := timewait.WheelFire(c.now, c.delta); got != c.want {
			t.Errorf("%s: WheelFire(%d, %d) = %d, want %d", c.name, c.now, c.delta, got, c.want)
		}
	}
}

// Every timer fires after its due time and at most a granularity later.
func TestWheelFireBounds(t *testing.T) {
	for now := uint64(0); now < 3000; now += 7 {
		for _, delta := range []uint64{1, 50, 63, 400, 504, 3000, 4032, 15000, 40000} {
			due, fire := now+delta, timewait.WheelFire(now, delta)
			if fire <= due || fire > due+timewait.WheelGranularity(delta) {
				t.Fatalf("WheelFire(%d, %d) = %d: want in (%d, %d]", now, delta, fire, due, due+timewait.WheelGranularity(delta))
			}
		}
	}
}

func TestTimerDue(t *testing.T) {
	// 1 h of uptime is jiffy 900,000 at HZ=250 in the model, whose
	// jiffies count from boot (the kernel's start at INITIAL_JIFFIES and
	// a boot offset no run can know); 60 s later plus the bucket's 456
	// jiffies.
	got := timewait.TimerDue(time.Hour, 60*time.Second)
	want := time.Hour + 60*time.Second + 456*timewait.Jiffy
	if got != want {
		t.Errorf("TimerDue(1h, 60s) = %v, want %v", got, want)
	}
	// Two TIME-WAITs begun 1 ms apart in one bucket end in the same tick.
	a := timewait.TimerDue(time.Hour+10*time.Millisecond, 60*time.Second)
	b := timewait.TimerDue(time.Hour+11*time.Millisecond, 60*time.Second)
	if a != b {
		t.Errorf("TIME-WAITs 1 ms apart end at %v and %v, want one tick", a, b)
	}
}
