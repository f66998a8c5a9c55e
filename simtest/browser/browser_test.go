package browser_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/simtest/browser"
)

// page writes html to a file of the test's own and returns its path.
func page(tb testing.TB, html string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "page.html")
	if err := os.WriteFile(p, []byte(html), 0o644); err != nil {
		tb.Fatalf("write page: %v", err)
	}
	return p
}

// render renders file in the browser Need finds, failing the test on an
// error.
func render(tb testing.TB, file string, o browser.Options) *browser.Page {
	tb.Helper()
	o.Browser = browser.Need(tb)
	start := time.Now()
	p, err := browser.Render(context.Background(), file, o)
	if err != nil {
		tb.Fatalf("Render: %v", err)
	}
	tb.Logf("Render took %v", time.Since(start).Round(time.Millisecond))
	return p
}

// ladder is the shape of one exchange of the HTML report: arrows between
// two host columns, a label with a hover title, and a script that marks
// the document once it ran.
const ladder = `<!doctype html>
<html><head><meta charset="utf-8"><title>ladder</title>
<style>body { font-family: "DejaVu Sans", sans-serif; } line.arrow { stroke: #c00; stroke-width: 2; }</style>
</head><body>
<h1>lost-final-ack</h1>
<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">
  <line class="host" x1="50" y1="10" x2="50" y2="190" stroke="black"/>
  <line class="host" x1="350" y1="10" x2="350" y2="190" stroke="black"/>
  <line class="arrow" x1="50" y1="30" x2="350" y2="60"/>
  <line class="arrow" x1="350" y1="80" x2="50" y2="110"/>
  <line class="arrow" x1="50" y1="130" x2="200" y2="160"/>
  <text x="120" y="40">#1 [S] seq 0<title>arrives 0.010000</title></text>
</svg>
<script>document.body.dataset.drawn = document.querySelectorAll("line.arrow").length;</script>
</body></html>
`

func TestLadder(t *testing.T) {
	p := render(t, page(t, ladder), browser.Options{Count: []string{"line.arrow", "svg text > title", "circle"}})
	if p.Blank() {
		t.Errorf("Blank() = true for a page with an SVG, want false")
	}
	for sel, want := range map[string]int{"line.arrow": 3, "svg text > title": 1, "circle": 0} {
		if got := p.Counts[sel]; got != want {
			t.Errorf("Counts[%q] = %d, want %d", sel, got, want)
		}
	}
	if len(p.Console) != 0 {
		t.Errorf("Console = %q, want none", p.Console)
	}
	if len(p.Requests) != 0 {
		t.Errorf("Requests = %q, want none", p.Requests)
	}
	if want := `data-drawn="3"`; !strings.Contains(p.DOM, want) {
		t.Errorf("DOM has no %s (the script's mark): %.300s", want, p.DOM)
	}
	if !strings.HasPrefix(string(p.Screenshot), "\x89PNG") {
		t.Errorf("Screenshot starts %q, want a PNG", p.Screenshot[:min(8, len(p.Screenshot))])
	}
}

func TestConsole(t *testing.T) {
	p := render(t, page(t, `<!doctype html><html><body><p>x</p>
<script>
console.log("not reported");
console.warn("careful", 7);
console.error("bad");
throw new Error("boom");
</script></body></html>`), browser.Options{})
	want := []string{
		"warning: careful 7 (page.html:4)",
		"error: bad (page.html:5)",
		"exception: Uncaught Error: boom (page.html:6)",
	}
	if !slices.Equal(p.Console, want) {
		t.Errorf("Console:\ngot  %q\nwant %q", p.Console, want)
	}
}

func TestRequestsBlocked(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	// A file beside the page exists, and is blocked all the same.
	if err := os.WriteFile(filepath.Join(dir, "side.css"), []byte("body{color:red}"), 0o644); err != nil {
		t.Fatal(err)
	}
	html := `<!doctype html><html><head><link rel="stylesheet" href="side.css"></head><body>
<img src="http://example.invalid/x.png">
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<script>fetch("https://example.invalid/y.json").catch(() => {});</script>
</body></html>`
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	p := render(t, file, browser.Options{})
	sideURL := "file://" + filepath.ToSlash(filepath.Join(dir, "side.css"))
	for _, want := range []string{"http://example.invalid/x.png", "https://example.invalid/y.json", sideURL} {
		if !slices.Contains(p.Requests, want) {
			t.Errorf("Requests = %q, want %s among them", p.Requests, want)
		}
	}
	if len(p.Requests) != 3 {
		t.Errorf("Requests = %q, want 3 (not the page, not the data: URL)", p.Requests)
	}
}

func TestBlank(t *testing.T) {
	p := render(t, page(t, `<!doctype html><html><body style="background:#fff"></body></html>`), browser.Options{Width: 320, Height: 200})
	if !p.Blank() {
		t.Errorf("Blank() = false for an empty page, want true")
	}
	if !(&browser.Page{}).Blank() {
		t.Errorf("Blank() = false without a screenshot, want true")
	}
}

func TestBadSelector(t *testing.T) {
	path := browser.Need(t)
	_, err := browser.Render(context.Background(), page(t, ladder), browser.Options{Browser: path, Count: []string{"line[["}})
	if err == nil || !strings.Contains(err.Error(), `count "line[["`) {
		t.Errorf("Render with selector line[[: error %v, want one naming the selector", err)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := browser.Render(context.Background(), filepath.Join(t.TempDir(), "none.html"), browser.Options{})
	if err == nil {
		t.Errorf("Render of a missing file: no error, want one")
	}
}

func TestFindCHROME(t *testing.T) {
	t.Setenv("CHROME", filepath.Join(t.TempDir(), "no-such-browser"))
	if p, err := browser.Find(); err == nil {
		t.Errorf("Find() with $CHROME naming nothing = %q, want an error", p)
	}
}

// fakeTB records what Need reports instead of stopping a test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...) }

func TestNeedWithoutBrowser(t *testing.T) {
	t.Setenv("CHROME", filepath.Join(t.TempDir(), "no-such-browser"))
	t.Setenv("CI", "")
	local := &fakeTB{}
	browser.Need(local)
	if local.skip == "" || local.fatal != "" {
		t.Errorf("Need without a browser, CI unset: skip %q, fatal %q; want a skip only", local.skip, local.fatal)
	}
	t.Setenv("CI", "true")
	ci := &fakeTB{}
	browser.Need(ci)
	if ci.fatal == "" || ci.skip != "" {
		t.Errorf("Need without a browser under CI: skip %q, fatal %q; want a failure only", ci.skip, ci.fatal)
	}
}

func TestTimeout(t *testing.T) {
	path := browser.Need(t)
	file := page(t, `<!doctype html><html><body><script>for (;;) {}</script></body></html>`)
	start := time.Now()
	_, err := browser.Render(context.Background(), file, browser.Options{Browser: path, Timeout: 4 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "(Options.Timeout 4s)") {
		t.Errorf("Render of a page that never loads: error %v, want one naming Options.Timeout 4s", err)
	}
	if d := time.Since(start); d > 12*time.Second {
		t.Errorf("Render with a 4s timeout returned after %v, want about 4s", d)
	}
}

// late is a page whose script marks it 3 s after the load event.
const late = `<!doctype html><html><body><p>x</p>
<script>addEventListener("load", () => setTimeout(() => { document.body.insertAdjacentHTML("beforeend", '<p id="done">done</p>'); }, 3000));</script>
</body></html>`

func TestWaitFor(t *testing.T) {
	file := page(t, late)
	p := render(t, file, browser.Options{Count: []string{"#done"}})
	if got := p.Counts["#done"]; got != 0 {
		t.Errorf("without WaitFor: Counts[#done] = %d, want 0 (Render returned 3 s after the load event?)", got)
	}
	p = render(t, file, browser.Options{WaitFor: "#done", Count: []string{"#done"}})
	if got := p.Counts["#done"]; got != 1 {
		t.Errorf("WaitFor #done: Counts[#done] = %d, want 1", got)
	}
	if !strings.Contains(p.DOM, `<p id="done">`) {
		t.Errorf("WaitFor #done: the DOM has no #done: %.300s", p.DOM)
	}
}

func TestWaitForNever(t *testing.T) {
	path := browser.Need(t)
	file := page(t, late)
	_, err := browser.Render(context.Background(), file, browser.Options{Browser: path, WaitFor: "#never", Timeout: 8 * time.Second})
	switch {
	case err == nil || !strings.Contains(err.Error(), "(Options.Timeout 8s)"):
		t.Errorf("WaitFor a selector nothing matches: error %v, want one naming Options.Timeout 8s", err)
	case strings.Contains(err.Error(), "browser: start "):
		// A loaded machine: the browser took the whole time to start.
		t.Logf("the browser did not start in 8s, the wait is untested: %v", err)
	case !strings.Contains(err.Error(), `wait for "#never"`):
		t.Errorf("WaitFor a selector nothing matches: error %v, want one naming the selector", err)
	}
	_, err = browser.Render(context.Background(), file, browser.Options{Browser: path, WaitFor: "p[["})
	if err == nil || !strings.Contains(err.Error(), `wait for "p[["`) {
		t.Errorf("WaitFor p[[: error %v, want one naming the selector", err)
	}
}
