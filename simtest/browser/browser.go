package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Names are the executables Find looks for on $PATH, in this order, when
// $CHROME is not set.
var Names = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// Find returns the path of a Chromium or Chrome executable: $CHROME when it
// is set (an error if it names nothing executable), else the first of Names
// on $PATH.
func Find() (string, error) {
	if c := os.Getenv("CHROME"); c != "" {
		p, err := exec.LookPath(c)
		if err != nil {
			return "", fmt.Errorf("browser: $CHROME: %w", err)
		}
		return p, nil
	}
	for _, n := range Names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("browser: none of %s on $PATH and $CHROME unset (apt-get install chromium)", strings.Join(Names, ", "))
}

// Options says how Render loads a page. The zero value is a good default.
type Options struct {
	// Browser is the executable to run; empty means Find's answer.
	Browser string
	// Width and Height are the viewport in CSS pixels (default 1280×900).
	// The screenshot is as wide as the viewport and as tall as the page.
	Width, Height int
	// Timeout bounds the whole Render: starting the browser, loading the
	// page, reading it and stopping the browser (default 30 s).
	Timeout time.Duration
	// Count lists CSS selectors; Page.Counts says how many elements of the
	// loaded page match each. A selector the browser rejects is an error.
	Count []string
	// WaitFor, when set, is a CSS selector: after the load event Render
	// waits, within Timeout, until an element matches it, for a page whose
	// scripts finish later (a promise, a timer). A selector the browser
	// rejects, or none matching in time, is an error.
	WaitFor string
}

// Page is what Render saw of a page once it had loaded.
type Page struct {
	// Screenshot is a PNG of the whole page.
	Screenshot []byte
	// DOM is document.documentElement.outerHTML after the page's scripts
	// ran (those that ran by the load event).
	DOM string
	// Console holds the console's messages of level warning and error and
	// the uncaught exceptions, in order, each as "LEVEL: text (FILE:LINE)":
	// LEVEL is warning, error or exception; the place is left out when the
	// browser gives none. Messages the browser itself logs (a blocked
	// request, a parse error) are among them.
	Console []string
	// Requests lists, in order and once each, the URLs the page asked for
	// besides its own file: all were blocked. data:, blob: and about: URLs
	// carry their content with them and are neither blocked nor listed.
	Requests []string
	// Counts maps each selector of Options.Count to its number of matches.
	Counts map[string]int
}

func (o Options) withDefaults() Options {
	if o.Width <= 0 {
		o.Width = 1280
	}
	if o.Height <= 0 {
		o.Height = 900
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return o
}

// Render starts a headless browser, loads file (a path on this machine)
// with every other request blocked, waits for the load event (and for
// Options.WaitFor) and a frame drawn after it, and returns what it saw. The browser is gone when Render
// returns. Errors are about the browser or the file; what the page did
// wrong is in the Page.
func Render(ctx context.Context, file string, o Options) (*Page, error) {
	o = o.withDefaults()
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("browser: %s is a directory, want an HTML file", abs)
	}
	if o.Browser == "" {
		if o.Browser, err = Find(); err != nil {
			return nil, err
		}
	}
	pageURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocatorOptions(o)...)
	// chromedp logs its own errors; Render returns the ones that matter.
	tabCtx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(string, ...any) {}))
	r := &recorder{page: pageURL, seen: map[string]bool{}}
	var answers sync.WaitGroup
	defer func() {
		r.mu.Lock()
		r.closed = true // no answer starts after this
		r.mu.Unlock()
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		answers.Wait()
	}()
	answer := func(ev *fetch.EventRequestPaused) {
		defer answers.Done()
		if r.allowed(ev.Request.URL) {
			_, _ = chromedp.Call(tabCtx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			return
		}
		_, _ = chromedp.Call(tabCtx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
	}
	// The tab starts on about:blank; what follows is the page's.
	// fail says what went wrong, and that it was the time limit when it was.
	fail := func(what string, err error) error {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (Options.Timeout %v)", err, o.Timeout)
		}
		return fmt.Errorf("browser: %s: %w", what, err)
	}
	if err := chromedp.Do(tabCtx); err != nil {
		return nil, fail("start "+o.Browser, err)
	}
	err = chromedp.Listen(tabCtx, func(ev any) {
		// The tab's read loop: record, and leave commands to a goroutine.
		if ev, ok := ev.(*fetch.EventRequestPaused); ok {
			r.request(ev.Request.URL)
			r.mu.Lock()
			defer r.mu.Unlock()
			if !r.closed {
				answers.Add(1)
				go answer(ev)
			}
			return
		}
		r.event(ev)
	})
	if err != nil {
		return nil, fail("listen", err)
	}
	p, err := load(tabCtx, pageURL, o)
	if err != nil {
		return nil, fail("render "+abs, err)
	}
	// Every event the browser sent before the last reply has been seen.
	r.mu.Lock()
	p.Console, p.Requests = r.console, r.requests
	r.mu.Unlock()
	return p, nil
}

func allocatorOptions(o Options) []chromedp.ExecAllocatorOption {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(o.Browser),
		chromedp.DisableGPU,
		chromedp.WindowSize(o.Width, o.Height),
		// A request the interception misses still reaches no host.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("font-render-hinting", "none"),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox.
		opts = append(opts, chromedp.NoSandbox)
	}
	return opts
}

// load runs the page's steps in the open tab.
func load(ctx context.Context, pageURL string, o Options) (*Page, error) {
	err := chromedp.Do(ctx,
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}})
			return chromedp.Void{}, err
		},
		chromedp.EmulateViewport(int64(o.Width), int64(o.Height)),
		chromedp.Navigate(pageURL),
	)
	if err != nil {
		return nil, err
	}
	if o.WaitFor != "" {
		// Look every 20 ms; the context's deadline ends the wait. The
		// answer is "" once the selector matches, else why it cannot.
		q, _ := json.Marshal(o.WaitFor)
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Promise(done => {
	const look = () => {
		try {
			if (document.querySelector(`+string(q)+`)) { done(""); return; }
		} catch (e) { done(e.message); return; }
		setTimeout(look, 20);
	};
	look();
})`, chromedp.EvalAwaitPromise))
		if err == nil && bad != "" {
			err = errors.New(bad)
		}
		if err != nil {
			return nil, fmt.Errorf("wait for %q: %w", o.WaitFor, err)
		}
	}
	// Two animation frames: the page after its load handlers, painted.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r())))`, chromedp.EvalAwaitPromise)); err != nil {
		return nil, err
	}
	p := &Page{Counts: map[string]int{}}
	for _, sel := range o.Count {
		q, _ := json.Marshal(sel)
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+string(q)+`).length`))
		if err != nil {
			return nil, fmt.Errorf("count %q: %w", sel, err)
		}
		p.Counts[sel] = n
	}
	if p.DOM, err = chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err != nil {
		return nil, fmt.Errorf("read the DOM: %w", err)
	}
	if p.Screenshot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100)); err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return p, nil
}

// recorder keeps what the tab's events say, under its lock: Listen calls
// it on the tab's read loop.
type recorder struct {
	page string

	mu       sync.Mutex
	console  []string
	requests []string
	seen     map[string]bool
	closed   bool // Render is returning: answer no more requests
}

// allowed says whether a request may go through: the page itself and
// URLs whose content is in the URL.
func (r *recorder) allowed(u string) bool {
	if u == r.page {
		return true
	}
	for _, s := range []string{"data:", "blob:", "about:"} {
		if strings.HasPrefix(u, s) {
			return true
		}
	}
	return false
}

func (r *recorder) request(u string) {
	if r.allowed(u) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.seen[u] {
		r.seen[u] = true
		r.requests = append(r.requests, u)
	}
}

func (r *recorder) event(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		// Requests the interception does not pause (none are expected).
		r.request(ev.Request.URL)
	case *runtime.EventConsoleAPICalled:
		var level string
		switch ev.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert:
			level = "error"
		case runtime.ConsoleAPICalledTypeWarning:
			level = "warning"
		default:
			return
		}
		var url string
		var line int64
		if ev.StackTrace != nil && len(ev.StackTrace.CallFrames) > 0 {
			f := ev.StackTrace.CallFrames[0]
			url, line = f.URL, f.LineNumber
		}
		r.add(level, argsText(ev.Args), url, line)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			// "Uncaught" and the error's first line, without the stack.
			text, _, _ = strings.Cut(d.Text+" "+d.Exception.Description, "\n")
		}
		r.add("exception", text, d.URL, d.LineNumber)
	case *cdplog.EventEntryAdded:
		e := ev.Entry
		switch e.Level {
		case cdplog.EntryLevelError:
			r.add("error", e.Text, e.URL, e.LineNumber)
		case cdplog.EntryLevelWarning:
			r.add("warning", e.Text, e.URL, e.LineNumber)
		}
	}
}

func (r *recorder) add(level, text, url string, line int64) {
	s := level + ": " + text
	if url != "" {
		s += fmt.Sprintf(" (%s:%d)", path.Base(url), line+1)
	}
	r.mu.Lock()
	r.console = append(r.console, s)
	r.mu.Unlock()
}

// argsText joins a console call's arguments as the console shows simple
// ones: strings as they are, other values by their description.
func argsText(args []*runtime.RemoteObject) string {
	var parts []string
	for _, a := range args {
		var s string
		switch {
		case len(a.Value) > 0:
			if err := json.Unmarshal(a.Value, &s); err != nil {
				s = string(a.Value)
			}
		case a.Description != "":
			s = a.Description
		case a.UnserializableValue != "":
			s = string(a.UnserializableValue)
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
