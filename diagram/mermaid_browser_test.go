package diagram_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/diagram"
	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/simtest/browser"
)

// hostileMermaid is a notebook whose names and rule name hold what Mermaid
// reads as syntax (# and ; start entities, % comments and directives, a
// newline ends a statement), what HTML reads as markup, and a backtick
// that could close a code host's block. Two sockets on one host put the
// socket names in the state notes.
const hostileMermaid = "```tcpsim\n" +
	"host c%%x;` 10.0.0.1\nhost s<b&amp; 10.0.0.2\nlink c%%x;` s<b&amp; delay=10ms\n" +
	"listen s<b&amp; 80\nconnect c%%x;` s<b&amp;:80 as k;<i\nconnect c%%x;` s<b&amp;:80 as k`2%\n" +
	"drop c%%x;`>s<b&amp; pure-ack after s<b&amp;>c%%x;` FIN name=\"a#b;c<d>&e%f`g\\nh -->> n1: %%{init}%% end\"\n" +
	"+0.1 close k;<i\n+0.1 close k`2%\nrun 2s\nladder all mermaid\n```\n"

// hostileLabel is how the rule name must read in the rendered diagram: the
// characters themselves, the newline a space.
const hostileLabel = "dropped by a#b;c<d>&e%f`g h -->> n1: %%{init}%% end"

// mermaidInput is one diagram of the page: its name, its Mermaid text,
// and texts its rendered SVG must show.
type mermaidInput struct {
	Name   string   `json:"name"`
	Text   string   `json:"text"`
	Expect []string `json:"expect"`
}

// mermaidPage renders every input in order with mermaid.render, each into
// a div.diagram (cut short: the screenshot of the page stays small), of
// class ok when its SVG shows every expected text; a diagram Mermaid
// rejects, draws as its error box, or whose SVG lacks a text, is a console
// error. #done appears when all are through.
const mermaidPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>tcpsim mermaid</title>
<style>div.diagram { height: 120px; overflow: hidden; border-bottom: 1px solid #ccc; }</style>
</head><body>
<script>%MERMAID%</script>
<script type="application/json" id="inputs">%INPUTS%</script>
<div id="out"></div>
<script>
(async () => {
	const squash = s => s.replace(/\s+/g, " ");
	mermaid.initialize({startOnLoad: false, securityLevel: "strict"});
	const inputs = JSON.parse(document.getElementById("inputs").textContent);
	for (const [i, d] of inputs.entries()) {
		try {
			await mermaid.parse(d.text);
			const {svg} = await mermaid.render("m" + i, d.text);
			const div = document.createElement("div");
			div.className = "diagram";
			div.innerHTML = svg;
			document.getElementById("out").append(div);
			const shown = squash(div.textContent);
			if (shown.includes("Maximum text size in diagram exceeded")) {
				console.error(d.name + ": Mermaid drew its error box: the text is " + d.text.length + " characters, over maxTextSize");
				continue;
			}
			const missing = d.expect.filter(e => !shown.includes(squash(e)));
			for (const e of missing.slice(0, 3)) console.error(d.name + ": the SVG does not show " + JSON.stringify(e));
			if (missing.length > 3) console.error(d.name + ": and " + (missing.length - 3) + " more texts");
			if (missing.length === 0) div.classList.add("ok");
		} catch (e) {
			console.error(d.name + ": " + (e && e.message ? e.message : String(e)));
		}
	}
	document.body.insertAdjacentHTML("beforeend", '<p id="done">done</p>');
})();
</script>
</body></html>
`

// mermaidLabel matches a message, a note or a participant of our Mermaid
// text; its group is the label.
var mermaidLabel = regexp.MustCompile(`^    (?:n\d+(?:->>|-x|--\))n\d+: |Note over n\d+(?:,n\d+)?: |participant n\d+ as )(.*)$`)

// shown is the text Mermaid must show for each message, note and
// participant of a diagram: the label with our entities read back.
func shown(text string) []string {
	unescape := strings.NewReplacer("#35;", "#", "#59;", ";", "#lt;", "<", "#gt;", ">", "#amp;", "&", "#37;", "%", "#96;", "`")
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if m := mermaidLabel.FindStringSubmatch(l); m != nil {
			out = append(out, unescape.Replace(m[1]))
		}
	}
	return out
}

// TestMermaidRendersInBrowser renders, with the real mermaid.js in headless
// Chromium, the Mermaid text of every shipped notebook's whole-run ladder
// and of each of its ladder statements, and of a notebook of hostile
// names: Mermaid must accept each (no console error), draw one SVG per
// diagram, and show every packet's and state's label as we wrote it.
// mermaid.min.js is $MERMAID_JS (.ci/run downloads a pinned version);
// without it the test skips, and fails under CI.
func TestMermaidRendersInBrowser(t *testing.T) {
	js := os.Getenv("MERMAID_JS")
	if js == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must render the Mermaid diagrams: MERMAID_JS is unset (.ci/run sets it to a downloaded mermaid.min.js)")
		}
		t.Skipf("skipped: MERMAID_JS is unset; set it to a mermaid.min.js (npm pack mermaid, as .ci/run does) to render our Mermaid with mermaid.js")
	}
	bin := browser.Need(t)
	lib, err := os.ReadFile(js)
	if err != nil {
		t.Fatalf("MERMAID_JS: %v", err)
	}
	if strings.Contains(strings.ToLower(string(lib)), "</script") {
		t.Fatalf("MERMAID_JS %s contains </script and cannot be inlined", js)
	}

	var inputs []mermaidInput
	add := func(name string, l diagram.Ladder) {
		var b strings.Builder
		if err := diagram.WriteLadderMermaid(&b, l); err != nil {
			t.Fatalf("%s: WriteLadderMermaid: %v", name, err)
		}
		inputs = append(inputs, mermaidInput{Name: name, Text: b.String(), Expect: shown(b.String())})
	}
	addRun := func(name string, res *scenarios.Result) {
		defer res.Close()
		add(name, res.Ladder(nil))
		for _, f := range res.Figures {
			add(f.Name, f.Ladder)
		}
	}
	for _, name := range scenarios.Names() {
		res, err := scenarios.Run(name, scenarios.Config{})
		if err != nil {
			t.Fatalf("run %s: %v", name, err)
		}
		addRun(name, res)
	}
	res, err := scenarios.RunText("hostile.md", hostileMermaid, scenarios.Config{})
	if err != nil {
		t.Fatalf("run hostile.md: %v", err)
	}
	addRun("hostile", res)
	hostile := &inputs[len(inputs)-1]
	hostile.Expect = append(hostile.Expect, hostileLabel)
	if !strings.Contains(hostile.Text, "-x") {
		t.Fatalf("the hostile ladder has no lost packet:\n%s", hostile.Text)
	}

	data, err := json.Marshal(inputs) // escapes < > &: no </script> in it
	if err != nil {
		t.Fatal(err)
	}
	page := strings.NewReplacer("%MERMAID%", string(lib), "%INPUTS%", string(data)).Replace(mermaidPage)
	file := filepath.Join(t.TempDir(), "mermaid.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p, err := browser.Render(context.Background(), file, browser.Options{
		Browser: bin, Timeout: 3 * time.Minute, WaitFor: "#done",
		Count: []string{"div.diagram.ok > svg", "div.diagram b, div.diagram i, div.diagram d, div.diagram script"},
	})
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	t.Logf("%d diagrams rendered in %v", len(inputs), time.Since(start).Round(time.Millisecond))
	for _, c := range p.Console {
		t.Errorf("console: %s", c)
	}
	if len(p.Requests) != 0 {
		t.Errorf("Requests = %q, want none", p.Requests)
	}
	if got := p.Counts["div.diagram.ok > svg"]; got != len(inputs) {
		t.Errorf("%d diagrams rendered as written, want %d (one per input)", got, len(inputs))
	}
	if got := p.Counts["div.diagram b, div.diagram i, div.diagram d, div.diagram script"]; got != 0 {
		t.Errorf("%d elements made of the hostile names (<b, <i, <d>) in the diagrams, want 0", got)
	}
	for _, c := range p.Console {
		if strings.HasPrefix(c, "error: hostile") {
			t.Logf("the hostile diagram:\n%s", hostile.Text)
			break
		}
	}
}
