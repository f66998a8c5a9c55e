// Package browser renders a local, self-contained HTML file in a real
// headless Chromium and reports what a test needs: a full-page PNG, the
// DOM after the page's scripts ran, the console's errors and warnings
// (uncaught exceptions among them), how many elements match chosen CSS
// selectors, and every URL the page tried to load besides itself.
//
// It owns finding a browser (Find, or Need in a test: skip without one,
// fail under CI) and one browser process per Render, started and ended
// within the call. It never lets a page reach the network or any file but
// its own: every other request is blocked and listed in Page.Requests, and
// host names resolve to nothing, so a test passes or fails the same way
// offline.
//
// Debian's package is chromium (apt-get install chromium
// fonts-dejavu-core); $CHROME names another binary.
package browser
