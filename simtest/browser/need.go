package browser

import (
	"os"
	"testing"
)

// Need returns the browser Find finds. Without one it skips the test,
// saying so, and fails it when the CI variable is set: CI must render.
func Need(tb testing.TB) string {
	tb.Helper()
	p, err := Find()
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI must run the browser tests: %v", err)
		return ""
	}
	tb.Skipf("skipped: %v", err)
	return ""
}
