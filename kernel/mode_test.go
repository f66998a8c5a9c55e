package kernel_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/kernel/kerneltest"
	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// TestLostFinalACKOnTheKernel runs the shipped lost-final-ack notebook on
// the kernel (about 62 s of wall time): the rule drops the client's final
// ACK, the server retransmits its FIN from LAST-ACK, the client's TIME-WAIT
// ACKs it again and restarts its 60 s timer, so TIME-WAIT ends 60 s (within
// the timer wheel's slack) after the retransmitted FIN arrived; the pcap
// holds what tcpsim forwarded and tshark reads it.
func TestLostFinalACKOnTheKernel(t *testing.T) {
	kerneltest.Need(t)
	t.Parallel()
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{Kernel: true})
	require.NoError(t, err)
	defer res.Close()

	var drop, fin1, fin2, reack *trace.Row
	rows := trace.Rows(res.World.Packets())
	for i := range rows {
		r := &rows[i]
		switch {
		case r.From == "client" && r.Fate == netem.Dropped:
			require.Nil(t, drop, "a second drop: #%d", r.ID)
			drop = r
		case r.From == "server" && r.H.Flags&netem.FIN != 0 && fin1 == nil:
			fin1 = r
		case r.From == "server" && r.H.Flags&netem.FIN != 0:
			fin2 = r
		case r.From == "client" && fin2 != nil && reack == nil:
			reack = r
		}
	}
	require.NotNil(t, drop, "no dropped packet")
	assert.Equal(t, netem.ACK, drop.H.Flags, "the dropped packet is the client's pure final ACK")
	assert.Equal(t, "final ACK", drop.Rule)
	require.NotNil(t, fin2, "the server never retransmitted its FIN")
	assert.Equal(t, fin1.H.Seq, fin2.H.Seq, "the second FIN is a retransmission")
	require.NotNil(t, reack, "the client never answered the retransmitted FIN")
	assert.Equal(t, netem.ACK, reack.H.Flags)
	assert.Equal(t, fin2.H.Seq+1, reack.H.Ack, "the re-ACK acknowledges the FIN")
	assert.NotEqual(t, netem.Dropped, reack.Fate)

	var twEnd, lastAckEnd time.Duration = -1, -1
	for _, tr := range res.World.Transitions() {
		switch {
		case tr.Host == "client" && tr.From == sim.TimeWait && tr.To == sim.Closed:
			twEnd = tr.At
		case tr.Host == "server" && tr.From == sim.LastAck && tr.To == sim.Closed:
			lastAckEnd = tr.At
		}
	}
	require.Positive(t, twEnd, "the client's TIME-WAIT never ended")
	want, tol := fin2.Delivered+60*time.Second, kernel.Tolerance(60*time.Second)
	assert.InDelta(t, want.Seconds(), twEnd.Seconds(), tol.Seconds(),
		"TIME-WAIT ends 60 s after the retransmitted FIN arrived (%v), within ±%v", fin2.Delivered, tol)
	assert.GreaterOrEqual(t, twEnd, want-kernel.Latency, "a kernel timer never fires early")
	assert.InDelta(t, reack.Delivered.Seconds(), lastAckEnd.Seconds(), kernel.Latency.Seconds(),
		"the server leaves LAST-ACK when the re-ACK arrives")

	var js bytes.Buffer
	require.NoError(t, trace.WriteJSON(&js, res.Report))
	var doc struct {
		Backend string `json:"backend"`
		Release string `json:"kernel_release"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	assert.Equal(t, "kernel", doc.Backend)
	assert.Equal(t, kernel.Release(), doc.Release)

	tshark, err := exec.LookPath("tshark")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tshark is not installed; .ci/run must install it")
		}
		t.Skip("tshark not installed: the pcap is not checked")
	}
	path := filepath.Join(t.TempDir(), "lfa.pcap")
	var buf bytes.Buffer
	require.NoError(t, trace.WritePcap(&buf, res.World.Packets()))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	out, err := exec.Command(tshark, "-r", path, "-Y", "tcp.analysis.retransmission", "-T", "fields", "-e", "frame.number").Output()
	require.NoError(t, err, "tshark: %s", out)
	assert.Equal(t, strconv.Itoa(fin2.ID), strings.TrimSpace(string(out)), "tshark sees the second FIN, and only it, as a retransmission")
}

// TestTeardownAfterAFailedExpectation: a kernel-mode notebook whose
// expectation fails leaves no TUN device, namespace or socket open once
// its result is closed.
//
// It is not parallel: it counts the whole process's descriptors.
func TestTeardownAfterAFailedExpectation(t *testing.T) {
	kerneltest.Need(t)
	before := openKernelFDs(t)
	res, err := scenarios.RunText("wrong.md", "# wrong\n\n```tcpsim\n"+`host client 10.0.0.1
host server 10.0.0.2
link client server delay=1ms
listen server 80
connect client server:80 as c
run 100ms
expect c TIME-WAIT
`+"```\n", scenarios.Config{Kernel: true})
	require.NoError(t, err)
	assert.False(t, res.Passed(), "the expectation is wrong: c is ESTABLISHED")
	during := openKernelFDs(t)
	assert.Greater(t, during["tun"], before["tun"], "the run holds TUN devices")
	res.Close()
	after := openKernelFDs(t)
	assert.Equal(t, before, after, "file descriptors of TUN devices, namespaces and sockets after Close")
}

// openKernelFDs counts the process's file descriptors by kind: TUN
// devices, network namespaces and sockets.
func openKernelFDs(tb testing.TB) map[string]int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(tb, err)
	out := map[string]int{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue
		}
		switch {
		case l == "/dev/net/tun":
			out["tun"]++
		case strings.HasPrefix(l, "net:["):
			out["netns"]++
		case strings.HasPrefix(l, "socket:["):
			out["socket"]++
		}
	}
	return out
}
