package trace_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// TestSeriesCSV: one row per sample, the columns in a fixed order (states,
// connects_ok, a column per errno any sample saw, heap_bytes, then every
// counter); a kernel host's heap is an empty cell, as it has no account.
func TestSeriesCSV(t *testing.T) {
	samples := []trace.Sample{
		{Series: 1, At: time.Second, Host: "c", Connects: []sim.Counter{{Name: "ok", Value: 3}}, Counters: []sim.Counter{{Name: "TcpActiveOpens", Value: 3}}, Heap: 20430},
		{Series: 1, At: 2 * time.Second, Host: "k", Connects: []sim.Counter{{Name: "EADDRNOTAVAIL", Value: 2}}, Heap: -1},
	}
	samples[0].States[8] = 3
	var b bytes.Buffer
	require.NoError(t, trace.WriteSeriesCSV(&b, samples))
	assert.Equal(t, "series,t_s,host,SYN-SENT,SYN-RECEIVED,ESTABLISHED,FIN-WAIT-1,FIN-WAIT-2,CLOSE-WAIT,CLOSING,LAST-ACK,TIME-WAIT,connects_ok,connects_EADDRNOTAVAIL,heap_bytes,TcpActiveOpens\n"+
		"1,1.000000,c,0,0,0,0,0,0,0,0,3,3,0,20430,3\n"+
		"1,2.000000,k,0,0,0,0,0,0,0,0,0,0,2,,0\n", b.String())

	b.Reset()
	w := sim.New(sim.Options{})
	defer w.Close()
	require.NoError(t, trace.WriteJSON(&b, trace.Report{World: w, Series: samples}))
	var doc struct {
		Series []map[string]any `json:"series"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc.Series, 2)
	assert.Equal(t, 20430.0, doc.Series[0]["heap_bytes"])
	assert.NotContains(t, doc.Series[1], "heap_bytes", "a kernel host has no heap account")
}
