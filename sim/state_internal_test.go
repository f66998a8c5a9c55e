package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPathThroughStateGraph(t *testing.T) {
	assert.Equal(t, []State{Established}, path(SynReceived, CloseWait), "SYN-RECEIVED to CLOSE-WAIT on one segment")
	assert.Equal(t, []State{Established}, path(SynSent, CloseWait))
	assert.Nil(t, path(FinWait1, TimeWait), "gVisor goes FIN-WAIT-1 -> TIME-WAIT directly")
	assert.Nil(t, path(TimeWait, Closed))
	assert.Equal(t, []State{CloseWait}, path(Established, LastAck))
}

func TestParseState(t *testing.T) {
	for _, in := range []string{"TIME-WAIT", "time_wait", "Time-Wait"} {
		s, err := ParseState(in)
		assert.NoError(t, err)
		assert.Equal(t, TimeWait, s, in)
	}
	_, err := ParseState("TIME-WAIT-2")
	assert.ErrorContains(t, err, "want one of CLOSED, LISTEN")
}
