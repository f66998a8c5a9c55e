package scenarios_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
)

// TestLinuxTimesWithinTheWheel: a linux-profile host's timewait timers
// fire on the timer wheel's tick, so a time at which a stay in TIME-WAIT
// or FIN-WAIT-2 ends is met within the wheel's granularity for the timer
// the time names: 2.048 s for 60 s, also for a bare time past 131 s (whose
// own size would put it in a level of 16 s buckets), and twice the slack of
// tcp_fin_timeout − 60 s for an orphan that waits on two timers in turn.
// Times no wheel timer decides stay exact.
func TestLinuxTimesWithinTheWheel(t *testing.T) {
	text := "# t\n\n```tcpsim\n" +
		"host client 10.0.0.1 profile=linux tcp_fin_timeout=90\nhost server 10.0.0.2 profile=linux\nlink client server delay=10ms\n" +
		"host keeper 10.0.0.3 profile=linux\nlink client keeper delay=10ms\n" +
		"listen server 80\nlisten keeper 80 keep-open\nconnect client server:80 as c\nconnect client keeper:80 as d\nrun 1s\n" +
		// c: the client closes first, the server closes on the FIN:
		// TIME-WAIT from 1.02 s for 60 s and the wheel's rounding.
		"close c\n" +
		// d: an orphan whose peer keeps its side open: FIN-WAIT-2 on the
		// keepalive timer for 30 s, then on a timewait socket for 30 s.
		"close d\n" +
		"run 130s\n" +
		"expect c TIME-WAIT for 60s\n" +
		"expect c TIME-WAIT until 64.2s\n" +
		"expect d FIN-WAIT-2 until 61.1s\n" +
		"expect c ESTABLISHED by 0.02s\n" +
		"```\n"
	res, err := scenarios.RunText("x.md", text, scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	for _, c := range []struct {
		expect string
		ok     bool
		detail string
	}{
		{"expect c TIME-WAIT for 60s", true, ""},
		// 3 s past: beyond 2.048 s, though 64.2 s alone is a level of
		// 16.384 s buckets.
		{"expect c TIME-WAIT until 64.2s", false, "64.200000 ±2.048000s"},
		{"expect d FIN-WAIT-2 until 61.1s", true, "tolerance ±4.096000s"},
		// The handshake is no timer: exact (it ends at 0.02 s).
		{"expect c ESTABLISHED by 0.02s", true, ""},
	} {
		got := check(t, res, c.expect)
		assert.Equal(t, c.ok, got.OK, "%s: %s", c.expect, got.Detail)
		assert.Contains(t, got.Detail, c.detail, c.expect)
	}
}
