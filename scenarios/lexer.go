package scenarios

import (
	"fmt"
	"strings"

	"github.com/tcpsim/tcpsim/trace"
)

// token is one word of a statement, with its column (1-based, in bytes).
type token struct {
	text string
	col  int
	// quoted is set when the token, or its value after '=', was a quoted
	// string: its text is then unquoted.
	quoted bool
}

// stmt is one line of a cell.
type stmt struct {
	line int // 1-based line in the file
	toks []token
}

// verb is the statement's command, after any time prefix (+D, @T).
func (st stmt) verb() token {
	for _, t := range st.toks {
		if !strings.HasPrefix(t.text, "+") && !strings.HasPrefix(t.text, "@") {
			return t
		}
	}
	return token{}
}

// posError is an error at a place in a notebook.
type posError struct {
	file      string
	line, col int
	msg       string
	// cause is the error the message reports, if any (a budget error).
	cause error
}

func (e *posError) Error() string {
	return trace.Printable(fmt.Sprintf("%s:%d:%d: %s", e.file, e.line, e.col, e.msg))
}

func (e *posError) Unwrap() error { return e.cause }

// lexLine splits a cell line into tokens: words separated by blanks, "..."
// strings (with \n, \t, \\ and \" escapes) which may stand after key=, and
// a # comment to the end of the line (# followed by a blank or a symbol:
// #7 and #name are packet references).
func lexLine(file string, lineNo int, l string) (stmt, error) {
	s := stmt{line: lineNo}
	i := 0
	for i < len(l) {
		c := l[i]
		if c == ' ' || c == '\t' {
			i++
			continue
		}
		if c == '#' && (i+1 >= len(l) || !isAlnum(l[i+1])) {
			break // a comment; #7 and #name are packet references
		}
		start := i
		var b strings.Builder
		quoted := false
		for i < len(l) && l[i] != ' ' && l[i] != '\t' {
			if l[i] != '"' {
				b.WriteByte(l[i])
				i++
				continue
			}
			quoted = true
			i++
			closed := false
			for i < len(l) {
				ch := l[i]
				if ch == '"' {
					closed = true
					i++
					break
				}
				if ch == '\\' && i+1 < len(l) {
					i++
					switch l[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					case '\\', '"':
						b.WriteByte(l[i])
					default:
						return s, &posError{file: file, line: lineNo, col: i, msg: fmt.Sprintf(`unknown escape \%c in a string: want \n, \t, \r, \\ or \"`, l[i])}
					}
					i++
					continue
				}
				b.WriteByte(ch)
				i++
			}
			if !closed {
				return s, &posError{file: file, line: lineNo, col: start + 1, msg: "unterminated string: want a closing \""}
			}
		}
		s.toks = append(s.toks, token{text: b.String(), col: start + 1, quoted: quoted})
	}
	return s, nil
}

func isAlnum(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
