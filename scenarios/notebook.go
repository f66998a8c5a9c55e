package scenarios

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tcpsim/tcpsim/diagram"
)

// Fence tags of a notebook's cells, their output, and the Mermaid
// diagrams the runner writes after it.
const (
	cellTag    = "tcpsim"
	outputTag  = "tcpsim-output"
	mermaidTag = "mermaid"
)

// safeLine returns lines[i], or "" past the end.
func safeLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return ""
}

// Notebook is a scenario file: Markdown prose, input cells (fenced blocks
// tagged tcpsim) and each cell's captured output (the tcpsim-output block
// right after it).
type Notebook struct {
	// Path names the file in messages.
	Path string
	// Title is the text of the first "# " heading.
	Title string
	// Summary is the first paragraph after the title.
	Summary string
	lines   []string
	cells   []cell
}

// cell is one input block and where its output block stands, if any.
type cell struct {
	code []string
	// first is the 1-based file line of the first code line.
	first int
	// end is the index in lines just past the closing fence of the input.
	end int
	// out is the [start, stop) range of lines of the existing output block,
	// fences included; start == stop when there is none.
	outStart, outStop int
}

// ParseNotebook splits a Markdown text into prose and cells. A fence that is
// never closed, a text that is not UTF-8 text, and a text without cells are
// malformed (*PosError naming the line).
func ParseNotebook(path, text string) (*Notebook, error) {
	if line, col, ok := binaryAt(text); ok {
		return nil, &posError{file: path, line: line, col: col, msg: "not a text file (a NUL byte or invalid UTF-8 here): want a Markdown notebook"}
	}
	nb := &Notebook{Path: path, lines: strings.Split(text, "\n")}
	lines := nb.lines
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if nb.Title == "" && strings.HasPrefix(l, "# ") {
			nb.Title = strings.TrimSpace(l[2:])
			nb.Summary = paragraph(lines[i+1:])
		}
		fence, tag, ok := openFence(l)
		if !ok {
			continue
		}
		end := closeFence(lines, i+1, fence)
		if end < 0 {
			return nil, &posError{file: path, line: i + 1, col: 1, msg: fmt.Sprintf("the code block opened here is never closed: want a line %q", fence)}
		}
		switch tag {
		case cellTag:
			c := cell{code: lines[i+1 : end], first: i + 2, end: end + 1}
			c.outStart, c.outStop = c.end, c.end
			// An output block may follow after blank lines.
			j := c.end
			for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
				j++
			}
			if j < len(lines) {
				if f2, t2, ok := openFence(lines[j]); ok && t2 == outputTag {
					e2 := closeFence(lines, j+1, f2)
					if e2 < 0 {
						return nil, &posError{file: path, line: j + 1, col: 1, msg: fmt.Sprintf("the output block opened here is never closed: want a line %q", f2)}
					}
					c.outStart, c.outStop = c.end, e2+1
				}
			}
			// The Mermaid blocks the runner wrote after it are output
			// too: they start with the runner's mark.
			for {
				j := c.outStop
				for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
					j++
				}
				f2, t2, ok := openFence(safeLine(lines, j))
				if !ok || t2 != mermaidTag || !strings.HasPrefix(safeLine(lines, j+1), diagram.MermaidMark) {
					break
				}
				e2 := closeFence(lines, j+1, f2)
				if e2 < 0 {
					return nil, &posError{file: path, line: j + 1, col: 1, msg: fmt.Sprintf("the mermaid block opened here is never closed: want a line %q", f2)}
				}
				c.outStop = e2 + 1
			}
			nb.cells = append(nb.cells, c)
			i = c.outStop - 1
		case outputTag:
			return nil, &posError{file: path, line: i + 1, col: 1, msg: fmt.Sprintf("a %s block must follow a %s cell", outputTag, cellTag)}
		default:
			i = end
		}
	}
	if len(nb.cells) == 0 {
		what := "no"
		if strings.TrimSpace(text) == "" {
			what = "an empty file: no"
		}
		return nil, &posError{file: path, line: 1, col: 1, msg: fmt.Sprintf("%s %s cells: want at least one fenced block tagged %s", what, cellTag, cellTag)}
	}
	return nb, nil
}

// binaryAt finds the first NUL byte or invalid UTF-8 sequence in text.
func binaryAt(text string) (line, col int, found bool) {
	bad := strings.IndexByte(text, 0)
	if !utf8.ValidString(text) {
		for i, r := range text {
			if _, size := utf8.DecodeRuneInString(text[i:]); r == utf8.RuneError && size == 1 {
				if bad < 0 || i < bad {
					bad = i
				}
				break
			}
		}
	}
	if bad < 0 {
		return 0, 0, false
	}
	before := []byte(text[:bad])
	line = bytes.Count(before, []byte("\n")) + 1
	return line, bad - (bytes.LastIndexByte(before, '\n') + 1) + 1, true
}

// paragraph returns the first paragraph of prose in lines, joined.
func paragraph(lines []string) string {
	var p []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			if len(p) > 0 {
				break
			}
			continue
		}
		if strings.HasPrefix(t, "#") || strings.HasPrefix(t, "```") {
			break
		}
		p = append(p, t)
	}
	return strings.Join(p, " ")
}

// openFence recognises an opening fence (``` or more backticks) and its tag.
func openFence(l string) (fence, tag string, ok bool) {
	t := strings.TrimLeft(l, " ")
	if len(l)-len(t) > 3 || !strings.HasPrefix(t, "```") {
		return "", "", false
	}
	n := len(t) - len(strings.TrimLeft(t, "`"))
	fields := strings.Fields(t[n:])
	if len(fields) > 0 {
		tag = fields[0]
	}
	return t[:n], tag, true
}

func closeFence(lines []string, from int, fence string) int {
	for j := from; j < len(lines); j++ {
		t := strings.TrimSpace(lines[j])
		if strings.HasPrefix(t, fence) && strings.Trim(t, "`") == "" {
			return j
		}
	}
	return -1
}

// Render returns the notebook's text with each cell's output block replaced
// by outputs[i] (a cell with an empty output gets no block), followed by
// the cell's Mermaid diagrams, mermaid[i], each a ```mermaid block. Nothing
// else changes.
func (nb *Notebook) Render(outputs []string, mermaid [][]string) string {
	var b strings.Builder
	prev := 0
	for i, c := range nb.cells {
		for _, l := range nb.lines[prev:c.end] {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		if out := strings.TrimRight(outputs[i], "\n"); out != "" {
			fence := "```"
			for strings.Contains(out, fence) {
				fence += "`"
			}
			fmt.Fprintf(&b, "\n%s%s\n%s\n%s\n", fence, outputTag, out, fence)
		}
		if i < len(mermaid) {
			for _, m := range mermaid[i] {
				fmt.Fprintf(&b, "\n```%s\n%s\n```\n", mermaidTag, strings.TrimRight(m, "\n"))
			}
		}
		prev = c.outStop
	}
	rest := nb.lines[prev:]
	for i, l := range rest {
		b.WriteString(l)
		if i < len(rest)-1 {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Segment is a part of a notebook in reading order: Markdown prose, or a
// cell (its code; its output is the run's).
type Segment struct {
	// Prose is the Markdown between two cells, their output blocks left
	// out; empty for a cell.
	Prose string
	// Cell is the cell's index in Result.Outputs, and Code its lines,
	// when IsCell.
	Cell   int
	IsCell bool
	Code   []string
}

// Segments splits the notebook into prose and cells, in order.
func (nb *Notebook) Segments() []Segment {
	var out []Segment
	prev := 0
	for i, c := range nb.cells {
		// The cell's opening fence is the line before its code.
		if prose := strings.Join(nb.lines[prev:c.first-2], "\n"); strings.TrimSpace(prose) != "" {
			out = append(out, Segment{Prose: prose})
		}
		out = append(out, Segment{Cell: i, IsCell: true, Code: c.code})
		prev = c.outStop
	}
	if prose := strings.Join(nb.lines[prev:], "\n"); strings.TrimSpace(prose) != "" {
		out = append(out, Segment{Prose: prose})
	}
	return out
}
