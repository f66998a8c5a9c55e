package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestProgress: nothing in the first second of wall time; then a line at
// most every 250 ms with the virtual time, the pace and the running
// statement's ETA (virtual 10 s done in 2 s of wall time: the 40 s left
// take about 8 s); done clears the line.
func TestProgress(t *testing.T) {
	var b strings.Builder
	wall := time.Unix(0, 0)
	p := newProgress(&b, func() time.Time { return wall })
	wall = wall.Add(500 * time.Millisecond)
	p.update(2*time.Second, 50*time.Second, 1000)
	assert.Empty(t, b.String(), "a run shorter than a second prints nothing")
	wall = wall.Add(1500 * time.Millisecond)
	p.update(10*time.Second, 50*time.Second, 21000)
	assert.Contains(t, b.String(), "tcpsim: t=10.000000 s, 21000 events, 10500 events/s, this run ends at 50.000000 s in about 8s")
	n := b.Len()
	wall = wall.Add(100 * time.Millisecond)
	p.update(11*time.Second, 50*time.Second, 22000)
	assert.Equal(t, n, b.Len(), "no second line within 250 ms")
	p.done()
	assert.True(t, strings.HasSuffix(b.String(), "\r"), "done returns to the start of the line")
}
