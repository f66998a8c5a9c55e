package netem_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcpsim/tcpsim/netem"
)

func TestIPv4HeaderError(t *testing.T) {
	good := seg(t, client, server, netem.SYN, "")
	assert.Equal(t, "", netem.IPv4HeaderError(good))
	flip := func(i int, mask byte) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= mask
		return b
	}
	assert.Equal(t, "bad IPv4 header checksum", netem.IPv4HeaderError(flip(9, 4)), "protocol 6 -> 2")
	assert.Equal(t, "", netem.IPv4HeaderError(flip(21, 0x80)), "a TCP flip is not the IPv4 header's business")
	assert.Equal(t, "bad IPv4 header", netem.IPv4HeaderError(flip(0, 4)), "IHL 5 -> 1")
	assert.Equal(t, "bad IPv4 header", netem.IPv4HeaderError(flip(0, 0x10)), "version 4 -> 5")
	assert.Equal(t, "bad IPv4 header", netem.IPv4HeaderError(good[:19]), "truncated")
}
