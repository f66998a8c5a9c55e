package scenarios_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/trace"
)

// This file tests the notebook language's semantics: names, references,
// instants and deadlines (issue 11's language items).

// twoHosts starts a cell: client 10.0.0.1 and server 10.0.0.2, 10 ms apart.
const twoHosts = "# t\n\n```tcpsim\nhost client 10.0.0.1\nhost server 10.0.0.2\nlink client server delay=10ms\n"

// runBody runs twoHosts followed by body as one cell; a malformed notebook
// fails the test.
func runBody(tb testing.TB, body string) *scenarios.Result {
	tb.Helper()
	res, err := scenarios.RunText("x.md", twoHosts+body+"```\n", scenarios.Config{})
	require.NoError(tb, err)
	tb.Cleanup(res.Close)
	return res
}

// bodyErr runs twoHosts followed by body and returns its error.
func bodyErr(tb testing.TB, body string) error {
	tb.Helper()
	res, err := scenarios.RunText("x.md", twoHosts+body+"```\n", scenarios.Config{})
	if res != nil {
		res.Close()
	}
	return err
}

// check returns the result's expectation whose text is src.
func check(tb testing.TB, res *scenarios.Result, src string) trace.Check {
	tb.Helper()
	for _, c := range res.Checks {
		if c.Text == src {
			return c
		}
	}
	var have []string
	for _, c := range res.Checks {
		have = append(have, c.Text)
	}
	tb.Fatalf("no expectation %q; got %q", src, have)
	return trace.Check{}
}

// assertChecks asserts that every expectation of res holds.
func assertChecks(tb testing.TB, res *scenarios.Result) {
	tb.Helper()
	for _, c := range res.Checks {
		assert.True(tb, c.OK, "%s: %s: got %s", c.Pos, c.Text, c.Detail)
	}
}

// TestDefaultNameNeverTakesAnExplicitOne: a plain connect after "as c1"
// is c2, and the name c1 still means the first connection; a host named c3
// makes the next default name c4.
func TestDefaultNameNeverTakesAnExplicitOne(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c1\nconnect client server:80\nhost c3 10.0.0.3\nlink c3 server\nconnect client server:80\n"+
		"+0.1 send c1 \"one\"\nsend c2 \"two\"\nsend c4 \"four\"\nrun 1s\n"+
		"expect server:80/1 received \"one\"\nexpect server:80/2 received \"two\"\nexpect server:80/3 received \"four\"\nexpect c3 CLOSED\n")
	assertChecks(t, res)
}

// TestHostAndSocketNamesDoNotCollide: a host cannot take a socket's name,
// nor a socket a host's or a hop's.
func TestHostAndSocketNamesDoNotCollide(t *testing.T) {
	for body, want := range map[string]string{
		"listen server 80\nconnect client server:80 as x\nhost x 10.0.0.3\n":       `x.md:9:6: host name "x": taken by a socket (sockets so far: server:80, x)`,
		"listen server 80\nconnect client server:80 as x\nrouter x\n":              `x.md:9:8: router name "x": taken by a socket`,
		"router r\nlisten server 80\nconnect client server:80 as r\n":              `x.md:9:29: socket name "r": taken by a host or hop (client, server, r)`,
		"listen server 80\nconnect client server:80 as server\n":                   `x.md:8:29: socket name "server": taken by a host or hop`,
		"listen server 80\nconnect client server:80 as a/1\n":                      `x.md:8:29: socket name "a/1": want a word with no : > # / or blank`,
		"listen server 80\nconnect client server:80 as a\nlisten server 81 as a\n": `x.md:9:21: socket name "a" is taken (sockets so far: a, server:80)`,
	} {
		err := bodyErr(t, body)
		require.Error(t, err, "%q", body)
		assert.Contains(t, err.Error(), want, "%q", body)
	}
}

// TestFailedConnectKeepsItsName: a connect that fails still defines its
// name; its error is the socket's, and later statements on it fail as on
// a closed socket instead of making the notebook malformed.
func TestFailedConnectKeepsItsName(t *testing.T) {
	res := runBody(t, "sysctl client ip_local_port_range=40000-40000\nlisten server 80\nconnect client server:80 as a\nconnect client server:80 as b\n"+
		"expect connect error EADDRNOTAVAIL\nexpect b error EADDRNOTAVAIL\nsend b \"x\"\nclose b\nrun 1s\nexpect b CLOSED\nexpect a ESTABLISHED\n")
	assertChecks(t, res)
	out := strings.Join(res.Outputs, "")
	assert.Contains(t, out, "connect b: ")
	assert.Contains(t, out, "EBADF")
}

// TestUnacceptedConnectionIsAFailedClaim: an expectation about a
// listener's Nth connection that was never accepted is false (exit 1), not
// malformed; named before its accept, it speaks of the connection.
func TestUnacceptedConnectionIsAFailedClaim(t *testing.T) {
	res := runBody(t, "listen server 80\nrun 1s\nexpect server:80/1 ESTABLISHED\n")
	c := check(t, res, "expect server:80/1 ESTABLISHED")
	assert.False(t, c.OK)
	assert.Equal(t, "server:80/1 was never accepted (server:80 accepted 0 connections); server:80/1 at 1.000000: CLOSED (no endpoint yet)", c.Detail)

	res = runBody(t, "listen server 80\nexpect server:80/1 ESTABLISHED at 1s\nconnect client server:80\nrun 2s\n")
	assertChecks(t, res)
}

// TestTimelessExpectIsTheInstantBefore: an expectation without a time
// speaks of the instant before the next statement, even when that
// statement changes the state at the same virtual time.
func TestTimelessExpectIsTheInstantBefore(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nrun 1s\n"+
		"expect c ESTABLISHED\nexpect client ESTABLISHED count 1\nexpect c never FIN-WAIT-1\nexpect 0 packets client>server FIN\n"+
		"close c\nrun 1s\nexpect c TIME-WAIT\nexpect 1 packets client>server FIN\n")
	assertChecks(t, res)
}

// TestRunUntilFinishesTheInstant: run until stops after every event of
// the instant the state was reached in, so the other connection
// established at the same time is established too.
func TestRunUntilFinishesTheInstant(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as a\nconnect client server:80 as b\nrun until a ESTABLISHED\nexpect b ESTABLISHED\nexpect b ESTABLISHED at 0.02s\n")
	assertChecks(t, res)
}

// TestRunUntilWithinNeverOvershoots: the client is established at 20 ms;
// within=15ms must fail, within=20ms pass.
func TestRunUntilWithinNeverOvershoots(t *testing.T) {
	err := bodyErr(t, "listen server 80\nconnect client server:80 as c\nrun until c ESTABLISHED within=15ms\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x.md:9:13: c did not reach ESTABLISHED within 15ms (by 0.015000 s; the next event is at 0.020000 s)")
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nrun until c ESTABLISHED within=20ms\nexpect c ESTABLISHED at 0.02s\n")
	assertChecks(t, res)
}

// TestBudgetKeepsWhatRan: a run stopped by its budget returns the cells
// that ran, with their expectations judged, and the error.
func TestBudgetKeepsWhatRan(t *testing.T) {
	text := twoHosts + "listen server 80\nconnect client server:80 as c\nrun 1s\nexpect c ESTABLISHED\nnote \"first\"\n```\n\n```tcpsim\nnote \"second\"\nrun 2h\nnote \"never\"\n```\n\n```tcpsim\nnote \"third\"\n```\n"
	res, err := scenarios.RunText("x.md", text, scenarios.Config{MaxTime: 1800e9})
	require.Error(t, err)
	require.NotNil(t, res)
	defer res.Close()
	assert.Contains(t, err.Error(), "x.md:16:5: sim: virtual-time budget of 30m0s exhausted at t=2h0m1s")
	assert.False(t, res.Passed())
	assert.Equal(t, err.Error(), res.Stopped)
	assert.True(t, check(t, res, "expect c ESTABLISHED").OK)
	var b strings.Builder
	require.NoError(t, res.WriteCells(&b))
	assert.Contains(t, b.String(), "first\n")
	assert.Contains(t, b.String(), "second\n")
	assert.NotContains(t, b.String(), "\nnever\n", "the statement after the one that stopped")
	assert.NotContains(t, b.String(), "third", "the cell after the one that stopped")
	assert.Contains(t, b.String(), "stopped: x.md:16:5: sim: virtual-time budget")
}
