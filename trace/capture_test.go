package trace_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/simtest"
	"github.com/tcpsim/tcpsim/trace"
)

// heldPacket returns old-duplicate's run and its held old segment.
func heldPacket(tb testing.TB) (*scenarios.Result, sim.Packet) {
	tb.Helper()
	res, err := scenarios.Run("old-duplicate", scenarios.Config{})
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	for _, p := range res.World.Packets() {
		if p.Fate == netem.Held && p.Delivered >= 0 {
			return res, p
		}
	}
	tb.Fatal("old-duplicate holds no packet")
	return nil, sim.Packet{}
}

// TestPcapCaptureArrival: old-duplicate holds a segment sent at 0.02 s
// until it lands in a new connection 274.98 s later. Captured at send
// (the default) it sits at 0.02 s; captured at arrival it sits at its
// arrival, among the packets of the new connection, and the file is in
// arrival order.
func TestPcapCaptureArrival(t *testing.T) {
	res, held := heldPacket(t)
	require.Greater(t, held.Delivered-held.Sent, 270*time.Second, "the old segment is held for minutes")
	at := func(c trace.Capture) time.Time {
		var buf bytes.Buffer
		require.NoError(t, trace.WritePcapAt(&buf, res.World.Packets(), c))
		data, times := simtest.ReadPcap(t, buf.Bytes())
		require.Len(t, data, len(res.World.Packets()), "packets in the %v pcap", c)
		var got time.Time
		for i := range data {
			if i > 0 {
				assert.False(t, times[i].Before(times[i-1]), "%v pcap: packet %d at %v before packet %d at %v", c, i+1, times[i], i, times[i-1])
			}
			if bytes.Equal(data[i], held.Data) {
				got = times[i]
			}
		}
		return got
	}
	assert.Equal(t, sim.Epoch().Add(held.Sent), at(trace.CaptureSend), "held #%d's time captured at send", held.ID)
	assert.Equal(t, sim.Epoch().Add(held.Delivered), at(trace.CaptureArrival), "held #%d's time captured at arrival", held.ID)

	var def bytes.Buffer
	require.NoError(t, trace.WritePcap(&def, res.World.Packets()))
	var send bytes.Buffer
	require.NoError(t, trace.WritePcapAt(&send, res.World.Packets(), trace.CaptureSend))
	assert.Equal(t, def.Bytes(), send.Bytes(), "WritePcap captures at send")
}

// TestPcapNGCaptureArrivalTshark: tshark reads the old duplicate of an
// arrival-captured pcapng at its arrival time, and the documented display
// filter frame.comment contains "dropped" picks out exactly the final ACK
// lost-final-ack drops, written at its send time with a comment saying it
// never arrived.
func TestPcapNGCaptureArrivalTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed; .ci/run must install it")
		}
		t.Skip("tshark not installed")
	}
	read := func(w *sim.World, c trace.Capture, args ...string) []string {
		var buf bytes.Buffer
		require.NoError(t, trace.WritePcapNGAt(&buf, w, c))
		path := filepath.Join(t.TempDir(), "x.pcapng")
		require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
		out, err := exec.Command(tshark, append([]string{"-r", path, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.comment"}, args...)...).Output()
		require.NoError(t, err, "tshark: %s", out)
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	epoch := func(d time.Duration) string {
		e := sim.Epoch().Add(d)
		return strconv.FormatInt(e.Unix(), 10) + "." + strconv.FormatInt(int64(e.Nanosecond())+1e9, 10)[1:]
	}

	res, held := heldPacket(t)
	prefix := "#" + strconv.Itoa(held.ID) + " "
	for _, c := range []struct {
		capture trace.Capture
		at      time.Duration
	}{{trace.CaptureSend, held.Sent}, {trace.CaptureArrival, held.Delivered}} {
		var got string
		for _, l := range read(res.World, c.capture) {
			if f := strings.Split(l, "\t"); len(f) == 3 && strings.HasPrefix(f[2], prefix) {
				got = f[1]
			}
		}
		assert.Equal(t, epoch(c.at), got, "tshark's time of held #%d captured at %v", held.ID, c.capture)
	}

	lost := lostFinalACK(t)
	var drop sim.Packet
	for _, p := range lost.World.Packets() {
		if p.Fate == netem.Dropped {
			drop = p
		}
	}
	got := read(lost.World, trace.CaptureArrival, "-Y", `frame.comment contains "dropped"`)
	require.Len(t, got, 1, "frames the drop filter shows: %q", got)
	f := strings.Split(got[0], "\t")
	require.Len(t, f, 3, "tshark's fields: %q", got[0])
	assert.Equal(t, epoch(drop.Sent), f[1], "the drop's time: its send time")
	assert.Equal(t, "#"+strconv.Itoa(drop.ID)+` client>server dropped by rule "final ACK"; written at its send time: it never arrived`, f[2])
}
