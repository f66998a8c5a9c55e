package trace

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every byte a terminal would act on escaped:
// control characters other than newline and tab (ESC, BEL, CR, DEL, C1),
// the bidirectional overrides that reorder what a reader sees (U+202A-202E,
// U+2066-2069), and bytes that are not UTF-8, each as \xNN or \uNNNN. Text
// views and error messages pass names, notes and payloads through it; the
// JSON escapes them itself.
func Printable(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is in b
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && size == 1
		if !bad && !needsEscape(r) {
			i += size
			continue
		}
		b.WriteString(s[done:i])
		switch {
		case bad:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
		done = i
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}
