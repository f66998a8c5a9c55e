package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAcceptedLetGo: under records none a server's accepted connections
// leave the notebook's names once their sockets are gone, so what it holds
// stays the size of what is open, not of what was ever accepted (the
// 10,000-a-second service kept 600,000 sockets, 650 bytes each, and spent
// a quarter of its time collecting them). With records kept, every one is
// still named.
func TestAcceptedLetGo(t *testing.T) {
	const n = 3000
	cell := "host server 10.0.0.2 profile=linux\nlisten server 80 http\nhost c[1-3] 10.0.1.1\nlink c[1-3] server delay=1ms\n" +
		"workload c[1-3] server:80 n=3000 rate=3000/s mode=close\nrun 2s\nexpect workload done = 3000\n"
	names := func(records string) int {
		var got int
		inspect = func(in *interp) { got = len(in.socks) }
		defer func() { inspect = nil }()
		res, err := RunText("x.md", "# t\n\n```tcpsim\n"+records+cell+"```\n", Config{})
		require.NoError(t, err)
		defer res.Close()
		for _, c := range res.Checks {
			require.True(t, c.OK, "%s: %s", c.Text, c.Detail)
		}
		return got
	}
	if got := names(""); got != n+1 {
		t.Errorf("records kept: the notebook names %d sockets, want %d (the listener and every connection)", got, n+1)
	}
	if got := names("records none\n"); got > sweepMin {
		t.Errorf("records none: the notebook names %d sockets after %d connections ended, want at most %d (a sweep's worth)", got, n, sweepMin)
	}
}
