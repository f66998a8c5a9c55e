package trace_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcpsim/tcpsim/trace"
)

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, ünïcode, 中文\n\tok": "plain text, ünïcode, 中文\n\tok",
		"\x1b[31mred\x1b[0m":            `\x1b[31mred\x1b[0m`,
		"bell\a cr\r del\x7f":           `bell\x07 cr\x0d del\x7f`,
		"bad \xff\xfe utf8":             `bad \xff\xfe utf8`,
		"c1 \u0085 rlo \u202e x":        `c1 \u0085 rlo \u202e x`,
		"a real \ufffd stays":           "a real \ufffd stays",
	} {
		assert.Equal(t, want, trace.Printable(in), "%q", in)
	}
}

func ExamplePrintable() {
	fmt.Println(trace.Printable("name=\x1b]0;pwned\a"))
	// Output:
	// name=\x1b]0;pwned\x07
}
