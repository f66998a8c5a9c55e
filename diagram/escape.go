package diagram

import (
	"html"

	"github.com/tcpsim/tcpsim/trace"
)

// esc makes text safe inside an SVG or HTML element or a quoted attribute:
// markup characters become entities, and control characters print escaped
// (trace.Printable), so a payload or a name can neither add elements nor
// steer a terminal.
func esc(s string) string { return html.EscapeString(trace.Printable(s)) }
