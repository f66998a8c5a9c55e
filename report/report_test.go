package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/report"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/simtest/browser"
)

// page writes the report of a run to a temporary file.
func page(tb testing.TB, res *scenarios.Result) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), res.Scenario+".html")
	f, err := os.Create(p)
	require.NoError(tb, err)
	require.NoError(tb, report.WriteHTML(f, res, report.Options{}))
	require.NoError(tb, f.Close())
	return p
}

func run(tb testing.TB, name string) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.Run(name, scenarios.Config{})
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	return res
}

// TestReportInABrowser opens the report of lost-final-ack in headless
// Chromium: no console error, no request, a page that is not blank, and in
// the ladder of its cell the nine packets of the exchange (three of the
// handshake, FIN, its ACK, the server's FIN, the final ACK, the FIN again
// and its ACK), the final ACK's arrow ending in an X, and the client's
// TIME-WAIT band.
func TestReportInABrowser(t *testing.T) {
	bin := browser.Need(t)
	res := run(t, "lost-final-ack")
	fig := "#" + res.Figures[0].Name
	sel := []string{fig + " g.packet", fig + " g.packet.lost", fig + " g.packet.lost path.drop", fig + " g.band.state-TIME-WAIT[data-host=client]",
		"li.fail", "li.ok", "svg.timeline", "figure.plot img", "script"}
	p, err := browser.Render(context.Background(), page(t, res), browser.Options{Browser: bin, Count: sel})
	require.NoError(t, err)
	assert.Empty(t, p.Console, "console messages")
	assert.Empty(t, p.Requests, "the page must fetch nothing")
	assert.False(t, p.Blank(), "the screenshot is blank")
	for s, want := range map[string]int{
		fig + " g.packet": 9, fig + " g.packet.lost": 1, fig + " g.packet.lost path.drop": 1, fig + " g.band.state-TIME-WAIT[data-host=client]": 1,
		"li.fail": 0, "li.ok": 6, "svg.timeline": 1, "figure.plot img": 2, "script": 0,
	} {
		assert.Equal(t, want, p.Counts[s], "%s", s)
	}
	if dir := os.Getenv("TCPSIM_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "lost-final-ack.png"), p.Screenshot, 0o644))
	}
}

// TestHostileTextIsEscaped: prose, names, notes, rule names and payloads
// with markup and control bytes come out as text in the page and its SVG,
// never as elements.
func TestHostileTextIsEscaped(t *testing.T) {
	text := "# <script>alert('title')</script>\n\nProse with <script>alert(1)</script> and <img src=x onerror=alert(2)>.\n\n" +
		"```tcpsim\nhost c<b 10.0.0.1\nhost s 10.0.0.2\nlink c<b s\nlisten s 80\nconnect c<b s:80 as k<i\n" +
		"drop s>c<b pure-ack name=\"</text><script>alert(3)</script>\"\n+0.1 send k<i \"<script>alert(4)</script>\x1b[31m\"\nclose k<i\nrun 1s\n" +
		"note \"<script>alert(5)</script>\x07\"\nladder c<b s svg\nexpect k<i received \"<script>\"\n```\n"
	res, err := scenarios.RunText("hostile.md", text, scenarios.Config{})
	require.NoError(t, err)
	defer res.Close()
	b, err := os.ReadFile(page(t, res))
	require.NoError(t, err)
	html := string(b)
	assert.NotContains(t, strings.ToLower(html), "<script", "a script element got into the page")
	assert.NotContains(t, html, "<img src=x", "an img element got into the page")
	assert.NotContains(t, html, "c<b", "a name became markup")
	assert.Contains(t, html, "&lt;script&gt;alert(5)&lt;/script&gt;\\x07", "the note, escaped")
	for i := 0; i < len(html); i++ {
		if c := html[i]; c < 0x20 && c != '\n' && c != '\t' {
			t.Fatalf("control byte %#x at %d", c, i)
		}
	}
	svg, err := res.Figures[0].SVG()
	require.NoError(t, err)
	assert.NotContains(t, strings.ToLower(svg), "<script")
	assert.Contains(t, svg, "&lt;/text&gt;&lt;script&gt;")
}

// TestOldDuplicateReportInABrowser: the report of old-duplicate draws its
// whole run (the Mermaid ladder's figure): twenty packets, the old
// segment #4 held for 274.8 s and landing in the second connection, and
// both connections' TIME-WAIT bands on the client.
func TestOldDuplicateReportInABrowser(t *testing.T) {
	bin := browser.Need(t)
	res := run(t, "old-duplicate")
	require.NotEmpty(t, res.Figures)
	fig := "#" + res.Figures[len(res.Figures)-1].Name
	want := map[string]int{
		fig + " g.packet": 20, fig + " g.packet.held": 1, fig + ` g.packet.held[data-id="4"]`: 1, fig + " g.band.state-TIME-WAIT[data-host=client]": 2,
		fig + " g.axis-break": 8, "li.fail": 0, // the gaps: 230 ms, 820 ms, 59.99 s, 213.758 s, 70 ms, 90 ms, 780 ms, 59.99 s
	}
	var sel []string
	for s := range want {
		sel = append(sel, s)
	}
	p, err := browser.Render(context.Background(), page(t, res), browser.Options{Browser: bin, Count: sel})
	require.NoError(t, err)
	assert.Empty(t, p.Console, "console messages")
	assert.Empty(t, p.Requests, "the page must fetch nothing")
	assert.False(t, p.Blank(), "the screenshot is blank")
	for s, n := range want {
		assert.Equal(t, n, p.Counts[s], "%s", s)
	}
}

// TestSeriesPlots: a sample statement gives, per host, a plot of its
// states and connects and one of the memory the simulator holds for its
// connections (port-exhaustion samples its client).
func TestSeriesPlots(t *testing.T) {
	res := run(t, "port-exhaustion")
	var b strings.Builder
	require.NoError(t, report.WriteHTML(&b, res, report.Options{}))
	assert.Contains(t, b.String(), `<figure class="plot series"><img alt="sample 1, client" src="data:image/svg+xml;base64,`)
	assert.Contains(t, b.String(), `<figure class="plot series"><img alt="sample 1, client: memory" src="data:image/svg+xml;base64,`)
}
