package sim

import (
	"os"
	"testing"
	"time"

	"github.com/tcpsim/tcpsim/timewait"
)

// SetCheckQuiet makes every observation check that the records it did not
// poll kept their state (see observer.checkQuiet).
func SetCheckQuiet(on bool) { checkQuiet = on }

// TestMain runs sim's tests with every observation checked: an
// interaction that changes an endpoint it did not mark panics.
func TestMain(m *testing.M) {
	checkQuiet = true
	os.Exit(m.Run())
}

// SetSkipKnownFull turns off (false) or on the shortcut of a connect()
// whose search is known to fail (exhaust.go).
func SetSkipKnownFull(on bool) { skipKnownFull = on }

// SetSkipPicked turns off (false) or on the start of gVisor's port search
// past the ports the host knows are taken (pick.go).
func SetSkipPicked(on bool) { skipPicked = on }

// KernelTimerFires is when a linux-profile host's kernel timer (a timewait
// socket's, the keepalive timer of an orphan) armed at virtual time armed
// to run d later fires: on the timer wheel's tick (timewait.TimerDue).
func KernelTimerFires(armed, d time.Duration) time.Duration {
	return timewait.TimerDue(uptime+armed, d) - uptime
}
