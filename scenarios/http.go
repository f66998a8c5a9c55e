package scenarios

import (
	"bytes"
	"strconv"
	"strings"
)

// httpReader counts the whole HTTP responses in a byte stream fed to it a
// chunk at a time, as a workload's client reads them. Its work is the bytes
// fed, not what came before them: counting afresh from the start of
// everything received on every chunk made a 5 MB body, which arrives in
// some 3,500 chunks, cost gigabytes of copying (found by FuzzRun: 3.1 s
// for two such responses, 0.5 s now).
type httpReader struct {
	head []byte // the header of the response being read, so far
	body int    // its body's bytes still to come
	done int    // responses read whole
}

// feed reads the next bytes of the stream.
func (r *httpReader) feed(b []byte) {
	for len(b) > 0 {
		if r.body > 0 {
			k := min(r.body, len(b))
			r.body -= k
			b = b[k:]
			if r.body == 0 {
				r.done++
			}
			continue
		}
		from := max(0, len(r.head)-3) // "\r\n\r\n" may straddle two chunks
		r.head = append(r.head, b...)
		end := bytes.Index(r.head[from:], []byte("\r\n\r\n"))
		if end < 0 {
			return
		}
		end += from
		r.body = contentLength(r.head[:end])
		b = r.head[end+4:] // the rest of this chunk: the body, or more
		r.head = nil       // (b keeps the old array; the next header gets a new one)
		if r.body == 0 {
			r.done++
		}
	}
}

// contentLength is the Content-Length a response header gives, 0 if none.
func contentLength(head []byte) int {
	n := 0
	for _, l := range strings.Split(string(head), "\r\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "content-length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return max(n, 0)
}
