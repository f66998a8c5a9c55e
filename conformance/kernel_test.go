package conformance_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/conformance"
	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/kernel/kerneltest"
	"github.com/tcpsim/tcpsim/scenarios"
)

// assassination: an RST reaches the client's TIME-WAIT, then a
// retransmitted FIN. Linux's default (tcp_rfc1337=0) lets the RST kill
// TIME-WAIT, so the FIN finds no socket and is answered with an RST.
var assassination = notebook(inTimeWait + "inject c RST\n+0.5 inject c FIN|ACK seq=next-1\nrun 1s\n")

// TestWrongModelFailsAgainstTheKernel: a linux profile made wrong on
// purpose (the client ignores an RST in TIME-WAIT, as tcp_rfc1337=1 would
// have it, while the kernel keeps Linux's default 0) does not agree with
// the kernel, and the comparison names the segment that differs: the
// client's answer to the FIN, an ACK from the model's TIME-WAIT and an RST
// from the kernel, which has no socket left.
func TestWrongModelFailsAgainstTheKernel(t *testing.T) {
	kerneltest.Need(t)
	t.Parallel()
	wrong := structure(t, assassination, scenarios.Config{Profiles: []string{"*:linux"}, Sysctls: []string{"client:tcp_rfc1337=1"}})
	real := structure(t, assassination, scenarios.Config{Kernel: true})
	r := conformance.Compare(wrong, real, conformance.Options{Tolerance: kernel.Tolerance})
	var out strings.Builder
	require.NoError(t, r.Write(&out, "linux profile", "kernel"))
	require.False(t, r.Agree(), "the wrong model agrees with the kernel:\n%s", out.String())
	var seg *conformance.Diff
	for i, d := range r.Diffs {
		if d.Aspect == conformance.Segments {
			seg = &r.Diffs[i]
		}
	}
	require.NotNil(t, seg, "no segment differs:\n%s", out.String())
	assert.Equal(t, "client-server: client c", seg.Where, "the connection, by the notebook's name of its socket")
	assert.True(t, strings.HasPrefix(seg.Left, "client>server [.]"), "the model's TIME-WAIT ACKs the FIN: %q", seg.Left)
	assert.True(t, strings.HasPrefix(seg.Right, "client>server [R]"), "the kernel has no socket and resets: %q", seg.Right)
	assert.False(t, r.AspectAgrees(conformance.States), "the client's TIME-WAIT ends on one side only:\n%s", out.String())

	// The same notebook with the model right agrees on what the RST did.
	right := structure(t, assassination, scenarios.Config{Profiles: []string{"*:linux"}})
	r = conformance.Compare(right, real, conformance.Options{Tolerance: kernel.Tolerance})
	for _, d := range r.Diffs {
		assert.NotContains(t, d.Right, "[R]", "with tcp_rfc1337=0 the model resets too: %+v", d)
	}
}
