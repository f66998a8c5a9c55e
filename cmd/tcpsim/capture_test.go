package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/simtest"
)

// TestCaptureFlag: old-duplicate holds a segment for minutes; in the pcap
// of run --capture arrival it is at its arrival, with --capture send and by
// default at its send time; another value is bad usage.
func TestCaptureFlag(t *testing.T) {
	res, err := scenarios.Run("old-duplicate", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	var held sim.Packet
	for _, p := range res.World.Packets() {
		if p.Fate == netem.Held && p.Delivered >= 0 {
			held = p
		}
	}
	require.NotZero(t, held.ID, "old-duplicate holds no packet")

	path := filepath.Join(t.TempDir(), "x.pcap")
	heldAt := func(args ...string) time.Time {
		code, _, errOut := tcpsim(append([]string{"run", "old-duplicate", "--pcap", path}, args...)...)
		require.Equal(t, 0, code, "stderr: %s", errOut)
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		data, at := simtest.ReadPcap(t, raw)
		for i := range data {
			if bytes.Equal(data[i], held.Data) {
				return at[i]
			}
		}
		t.Fatalf("held #%d not in the pcap of %q", held.ID, args)
		return time.Time{}
	}
	assert.Equal(t, sim.Epoch().Add(held.Sent), heldAt(), "held #%d by default", held.ID)
	assert.Equal(t, sim.Epoch().Add(held.Sent), heldAt("--capture", "send"), "held #%d with --capture send", held.ID)
	assert.Equal(t, sim.Epoch().Add(held.Delivered), heldAt("--capture", "arrival"), "held #%d with --capture arrival", held.ID)

	code, _, errOut := tcpsim("run", "old-duplicate", "--capture", "later")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `--capture "later": want send or arrival`)
}
