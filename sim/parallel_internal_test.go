package sim

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
)

// TestLateRunnerTakesNothing: a runner that saw one window's start but
// comes to take a lane only after the next window started (its goroutine
// was descheduled) must take nothing from the next window. It did: lanes
// were taken from a counter the caller reset before it reset the count of
// finished lanes, so a late runner could take a lane of the new window,
// finish it, and have its finish wiped; the caller then waited for ever
// (CI hung in TestParallelIsDeterministic with GOMAXPROCS 4 on two cores).
func TestLateRunnerTakesNothing(t *testing.T) {
	w := New(Options{DiscardTrace: true})
	defer w.Close()
	require.NoError(t, w.Parallel([][]string{{"b"}}))
	a, err := w.AddHost(HostOptions{Name: "a", Addr: netip.MustParseAddr("10.0.0.1")})
	require.NoError(t, err)
	b, err := w.AddHost(HostOptions{Name: "b", Addr: netip.MustParseAddr("10.0.0.2")})
	require.NoError(t, err)
	_, err = w.AddLink(a, b, netem.Options{AtoB: netem.Path{Delay: time.Millisecond}, BtoA: netem.Path{Delay: time.Millisecond}})
	require.NoError(t, err)
	p := w.par
	p.procs = 1
	late := p.claim.Load() >> laneBits // the window the late runner saw
	p.done.Store(0)
	now := p.newEpoch() // the caller starts the next window
	require.Equal(t, late+1, now)
	p.runLanes(late)
	assert.Equal(t, now<<laneBits, p.claim.Load(), "the late runner claimed a lane of the next window")
	assert.Zero(t, p.done.Load(), "the late runner finished a lane of the next window")
	p.runLanes(now)
	assert.Equal(t, int64(len(w.lanes)), p.done.Load(), "a runner of the window takes every lane")
}
