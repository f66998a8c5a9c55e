package scenarios

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// wholeResponses counts the whole HTTP responses at the start of b by
// reading all of it: what the workload's client did on every chunk before
// httpReader, kept as the reference.
func wholeResponses(b []byte) int {
	n := 0
	for {
		end := bytes.Index(b, []byte("\r\n\r\n"))
		if end < 0 {
			return n
		}
		body := 0
		for _, l := range strings.Split(string(b[:end]), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "content-length") {
				body, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		if len(b)-end-4 < body {
			return n
		}
		n++
		b = b[end+4+body:]
	}
}

// TestHTTPReader: fed a stream of responses in chunks cut anywhere
// (inside a header, across its blank line, inside a body), httpReader has
// counted after every chunk what reading everything so far counts.
func TestHTTPReader(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		var stream []byte
		for range 1 + r.IntN(4) {
			n := []int{0, 1, 3, 1448, 5000}[r.IntN(5)]
			key := []string{"Content-Length", "content-length", "CONTENT-LENGTH"}[r.IntN(3)]
			stream = append(stream, fmt.Sprintf("HTTP/1.1 200 OK\r\n%s: %d\r\nConnection: close\r\n\r\n", key, n)...)
			stream = append(stream, bytes.Repeat([]byte("x"), n)...)
		}
		var rd httpReader
		for at := 0; at < len(stream); {
			next := min(len(stream), at+1+r.IntN(1+[]int{1, 3, 40, 2000}[r.IntN(4)]))
			rd.feed(stream[at:next])
			at = next
			require.Equal(t, wholeResponses(stream[:at]), rd.done, "trial %d, after %d of %d bytes", trial, at, len(stream))
		}
	}
}
