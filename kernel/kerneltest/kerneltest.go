// Package kerneltest is what tests of the kernel backend share: the check
// that the machine lets tcpsim create network namespaces, which skips a
// test when it does not, and fails it under CI, where it must run.
package kerneltest

import (
	"os"
	"testing"

	"github.com/tcpsim/tcpsim/kernel"
)

// Need skips the test when the process may not create network namespaces
// and TUN devices (it lacks CAP_NET_ADMIN), saying so, and fails it when
// the CI variable is set.
func Need(tb testing.TB) {
	tb.Helper()
	n, err := kernel.NewNetns()
	if err == nil {
		n.Close()
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI must run the kernel backend's tests: %v", err)
	}
	tb.Skipf("skipped: %v", err)
}
