package netem_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcpsim/tcpsim/netem"
)

// TestEditsSurviveEveryBitFlip: a link may flip any bit of a packet (tc-netem
// corrupt), the IPv4 header's protocol, IHL and the TCP data offset
// included. A router's TTL decrement and a NAT's edits must neither panic on
// such a packet nor make its checksums verify.
func TestEditsSurviveEveryBitFlip(t *testing.T) {
	edits := map[string]func([]byte){
		"ttl":   netem.DecrementTTL,
		"strip": func(b []byte) { netem.StripTimestamps(b) },
		"seq":   func(b []byte) { netem.SetSeqAck(b, 1, 2) },
	}
	for name, edit := range edits {
		orig := seg(t, client, server, netem.PSH|netem.ACK, "payload!")
		for i := range orig {
			for bit := range 8 {
				b := append(make([]byte, 0, 256), orig...) // spare capacity, as the World's buffers have
				b[i] ^= 1 << bit
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s: byte %d bit %d: panic: %v", name, i, bit, r)
						}
					}()
					edit(b)
					assert.False(t, netem.ChecksumsOK(b), fmt.Sprintf("%s: byte %d bit %d flipped: the checksums verify after the edit", name, i, bit))
				}()
			}
		}
	}
}
