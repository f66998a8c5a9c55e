package diagram_test

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/scenarios"
)

// svgNode is any element of an SVG document, with its attributes and
// children.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n svgNode) num(tb testing.TB, name string) float64 {
	tb.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	require.NoError(tb, err, "attribute %s=%q of <%s>", name, n.attr(name), n.XMLName.Local)
	return v
}

// walk calls fn on n and every element under it.
func (n svgNode) walk(fn func(svgNode)) {
	fn(n)
	for _, c := range n.Nodes {
		c.walk(fn)
	}
}

// ladderDoc draws res's ladder of cols as SVG and parses it.
func ladderDoc(tb testing.TB, res *scenarios.Result, cols ...string) svgNode {
	tb.Helper()
	var b strings.Builder
	require.NoError(tb, diagram.WriteLadderSVG(&b, res.Ladder(cols)))
	var doc svgNode
	require.NoError(tb, xml.Unmarshal([]byte(b.String()), &doc), "the SVG is not well-formed XML")
	return doc
}

// lifelines are the x of the columns' lines, left to right.
func lifelines(tb testing.TB, doc svgNode) []float64 {
	tb.Helper()
	var xs []float64
	doc.walk(func(n svgNode) {
		if n.XMLName.Local == "line" && hasClass(n, "lifeline") {
			xs = append(xs, n.num(tb, "x1"))
		}
	})
	return xs
}

func hasClass(n svgNode, c string) bool { return strings.Contains(" "+n.attr("class")+" ", " "+c+" ") }

// TestLadderSVGGeometry parses the ladder of lost-final-ack: nine packet
// arrows, each starting on a column's line and, but for the lost final
// ACK, ending on the other's; the lost one ends in an X between the lines.
func TestLadderSVGGeometry(t *testing.T) {
	res, err := scenarios.Run("lost-final-ack", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	doc := ladderDoc(t, res, "client", "server")
	columns := lifelines(t, doc)
	var packets, lost, drops int
	require.Len(t, columns, 2)
	onColumn := func(x float64) bool { return x == columns[0] || x == columns[1] }
	doc.walk(func(g svgNode) {
		if g.XMLName.Local != "g" || !hasClass(g, "packet") {
			return
		}
		packets++
		for _, c := range g.Nodes {
			switch {
			case c.XMLName.Local == "line" && hasClass(g, "lost"):
				lost++
				assert.True(t, onColumn(c.num(t, "x1")), "a lost packet starts on a column")
				x2 := c.num(t, "x2")
				assert.True(t, x2 > columns[0] && x2 < columns[1], "and dies between them (x2 %v)", x2)
			case c.XMLName.Local == "line":
				assert.True(t, onColumn(c.num(t, "x1")) && onColumn(c.num(t, "x2")), "packet %s joins the columns: x1 %s x2 %s", g.attr("data-id"), c.attr("x1"), c.attr("x2"))
				assert.NotEqual(t, c.attr("x1"), c.attr("x2"))
				assert.GreaterOrEqual(t, c.num(t, "y2"), c.num(t, "y1"), "time flows down")
			case c.XMLName.Local == "path" && hasClass(c, "drop"):
				drops++
			}
		}
	})
	assert.Equal(t, 9, packets, "packets: #1-#9")
	assert.Equal(t, 1, lost, "the final ACK")
	assert.Equal(t, 1, drops, "its X")
}

// TestLadderSVGLoops: a packet from a host to itself (over its lo, or to
// its own address) is a loop beside its column, outward: the first
// column's go right, the last column's left. It made a zero-length line.
func TestLadderSVGLoops(t *testing.T) {
	res, err := scenarios.RunText("loops.md", "```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b\nlisten a 80\nlisten b 80\n"+
		"connect a a:80\nconnect b 127.0.0.1:80\nrun 1s\n```\n", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	doc := ladderDoc(t, res, "a", "b")
	columns := lifelines(t, doc)
	require.Len(t, columns, 2)
	var right, left int
	doc.walk(func(g svgNode) {
		if g.XMLName.Local != "g" || !hasClass(g, "packet") {
			return
		}
		require.True(t, hasClass(g, "loop"), "packet %s: every packet here is to its sender", g.attr("data-id"))
		for _, c := range g.Nodes {
			if c.XMLName.Local == "line" {
				t.Errorf("packet %s: a line (x1 %s x2 %s), want a loop", g.attr("data-id"), c.attr("x1"), c.attr("x2"))
			}
			if c.XMLName.Local != "path" {
				continue
			}
			var x0, y0, dx float64
			_, err := fmt.Sscanf(c.attr("d"), "M%f,%f h%f", &x0, &y0, &dx)
			require.NoError(t, err, "path %q", c.attr("d"))
			switch {
			case x0 == columns[0] && dx > 0:
				right++
			case x0 == columns[1] && dx < 0:
				left++
			default:
				t.Errorf("packet %s: loop %q, want it from a column's line outward", g.attr("data-id"), c.attr("d"))
			}
		}
	})
	assert.Equal(t, 3, right, "a's handshake with itself")
	assert.Equal(t, 2, left, "b's SYN over its lo, and the RST: b listens on 10.0.0.2, not 127.0.0.1")
}

// TestLadderSVGLabelsDoNotCover: two connections of one host change state
// at the same instants; their labels stand beyond both lanes' bands and
// one under the other, never on top of each other. Each lane's labels were
// placed beside its own band, so the inner lane's covered the outer's.
func TestLadderSVGLabelsDoNotCover(t *testing.T) {
	res, err := scenarios.RunText("two.md", "```tcpsim\nhost a 10.0.0.1\nhost b 10.0.0.2\nlink a b delay=1ms\nlisten b 80\n"+
		"connect a b:80 as c1\nconnect a b:80 as c2\nrun 1s\nclose c1\nclose c2\nrun 1s\n```\n", scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	doc := ladderDoc(t, res, "a", "b")
	type box struct{ x, y float64 }
	var bands []float64 // the left edges of a's bands
	var labels []box
	doc.walk(func(g svgNode) {
		if g.XMLName.Local != "g" || !hasClass(g, "band") || g.attr("data-host") != "a" {
			return
		}
		for _, c := range g.Nodes {
			switch c.XMLName.Local {
			case "rect":
				bands = append(bands, c.num(t, "x"))
			case "text":
				labels = append(labels, box{c.num(t, "x"), c.num(t, "y")})
			}
		}
	})
	require.GreaterOrEqual(t, len(labels), 6, "two connections' states")
	for i, l := range labels {
		for _, x := range bands {
			assert.Less(t, l.x, x, "label %d (anchored at its end) ends left of every band of a", i)
		}
		for _, m := range labels[:i] {
			assert.GreaterOrEqual(t, abs(l.y-m.y), 14.0, "labels at y %v and %v cover each other", l.y, m.y)
		}
	}
}

func abs(x float64) float64 { return max(x, -x) }
