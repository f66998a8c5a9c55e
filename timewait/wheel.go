package timewait

import "time"

// This file is the kernel's timer wheel (kernel/time/timer.c, since 4.8),
// as far as it decides when a timewait socket's timer fires. tw_timer is
// an ordinary timer_list: __inet_twsk_schedule arms it with mod_timer at
// jiffies + timeo, and inet_twsk_reschedule moves it the same way, so it
// fires when the wheel reaches the bucket calc_wheel_index put it in, not
// at jiffies + timeo. A bucket of level n holds 8^n jiffies, and the
// expiry is rounded up to the end of its bucket so that no timer fires
// early: a 60 s TIME-WAIT at HZ=250 (15,000 jiffies, level 3) ends up to
// 512 jiffies (2.048 s) late, and every TIME-WAIT due in one bucket ends in
// the same tick.

const (
	wheelLevels   = 9  // LVL_DEPTH for HZ > 100
	wheelClkShift = 3  // LVL_CLK_SHIFT
	wheelLevelMax = 63 // LVL_SIZE - 1
)

// WheelLevel is the level calc_wheel_index files a timer in when it is
// due delta jiffies from the wheel's clock: level n holds deltas from
// LVL_START(n) = 63×8^(n-1) jiffies up to LVL_START(n+1).
func WheelLevel(delta uint64) int {
	lvl := 0
	for lvl < wheelLevels-1 && delta >= wheelLevelMax<<(wheelClkShift*lvl) {
		lvl++
	}
	return lvl
}

// WheelGranularity is how many jiffies a bucket of the level a timer of
// delta jiffies lands in spans: LVL_GRAN, 8^level. It is how late such a
// timer may fire.
func WheelGranularity(delta uint64) uint64 {
	return 1 << (wheelClkShift * WheelLevel(delta))
}

// WheelFire is the jiffy at which a timer armed at jiffy now to expire
// delta jiffies later fires: calc_index rounds the expiry up past the end
// of its level's bucket ((expires >> LVL_SHIFT) + 1) << LVL_SHIFT, even
// when it falls on a bucket's edge. Past the wheel's capacity
// (WHEEL_TIMEOUT_CUTOFF) the kernel files the timer at WHEEL_TIMEOUT_MAX.
func WheelFire(now, delta uint64) uint64 {
	cutoff := uint64(wheelLevelMax) << (wheelClkShift * (wheelLevels - 1))
	if delta >= cutoff {
		delta = cutoff - 1<<(wheelClkShift*(wheelLevels-1))
	}
	shift := wheelClkShift * WheelLevel(delta)
	return ((now+delta)>>shift + 1) << shift
}

// Jiffy is one tick at HZ.
const Jiffy = time.Second / HZ

// TimerExpires is the expiry a kernel timer armed at monotonic time mono to
// run d later holds (timer_list.expires = jiffies + timeout, d in jiffies
// rounded up: the timeouts the model arms are whole jiffies already). It is
// what ss shows a timer's remaining time from (get_timewait4_sock), not
// when the timer fires: see TimerDue.
func TimerExpires(mono, d time.Duration) time.Duration {
	return time.Duration(uint64(mono/Jiffy)+ticks(d)) * Jiffy
}

// TimerDue is when that timer fires: at the start of the tick WheelFire
// gives, as monotonic time.
func TimerDue(mono, d time.Duration) time.Duration {
	return time.Duration(WheelFire(uint64(mono/Jiffy), ticks(d))) * Jiffy
}

// ticks is d in jiffies, rounded up.
func ticks(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + Jiffy - 1) / Jiffy)
}
