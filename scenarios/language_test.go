package scenarios_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/scenarios"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// This file tests the notebook language's semantics: names, references,
// instants and deadlines (issue 11's language items).

// twoHosts starts a cell: client 10.0.0.1 and server 10.0.0.2, 10 ms apart.
const twoHosts = "# t\n\n```tcpsim\n" + twoHostLines

// twoHostLines are twoHosts' statements, for runCell and cellErr.
const twoHostLines = "host client 10.0.0.1\nhost server 10.0.0.2\nlink client server delay=10ms\n"

// runBody runs twoHosts followed by body as one cell; a malformed notebook
// fails the test.
func runBody(tb testing.TB, body string) *scenarios.Result {
	tb.Helper()
	return runCell(tb, twoHostLines+body)
}

// bodyErr runs twoHosts followed by body and returns its error.
func bodyErr(tb testing.TB, body string) error {
	tb.Helper()
	return cellErr(twoHostLines + body)
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

// assertErrs runs each case through errOf and asserts that it fails with
// an error containing the case's want.
func assertErrs(tb testing.TB, errOf func(string) error, cases map[string]string) {
	tb.Helper()
	for in, want := range cases {
		err := errOf(in)
		if assert.Error(tb, err, "%q", in) {
			assert.Contains(tb, err.Error(), want, "%q", in)
		}
	}
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

// TestHostAddresses: a host's address is IPv4 unicast outside 0.0.0.0/8 and
// 127.0.0.0/8; the error points at the address, also when a range of hosts
// counts up into one. 0.0.0.0 was taken, and a connect to it went to the
// client's own lo.
func TestHostAddresses(t *testing.T) {
	assertErrs(t, func(body string) error { return bodyErr(t, body) }, map[string]string{
		"host x 0.0.0.0\n":              `x.md:7:8: address 0.0.0.0: want a unicast address outside 0.0.0.0/8 and 127.0.0.0/8`,
		"host x 127.0.0.5\n":            `x.md:7:8: address 127.0.0.5: want a unicast address`,
		"host x 239.1.1.1\n":            `x.md:7:8: address 239.1.1.1: want a unicast address`,
		"host x 10.0.0\n":               `x.md:7:8: address "10.0.0": want an IPv4 address such as 10.0.0.1`,
		"host x[1-3] 126.255.255.254\n": `x.md:7:13: address 127.0.0.0: want a unicast address`,
	})
}

// TestHostAndSocketNamesDoNotCollide: a host cannot take a socket's name,
// nor a socket a host's or a hop's.
func TestHostAndSocketNamesDoNotCollide(t *testing.T) {
	for body, want := range map[string]string{
		"listen server 80\nconnect client server:80 as x\nhost x 10.0.0.3\n":       `x.md:9:6: host name "x": taken by a socket (sockets so far: server:80, x)`,
		"listen server 80\nconnect client server:80 as x\nrouter x\n":              `x.md:9:8: router name "x": taken by a socket`,
		"router r\nlisten server 80\nconnect client server:80 as r\n":              `x.md:9:29: socket name "r": taken by a host or hop (client, server, r)`,
		"listen server 80\nconnect client server:80 as server\n":                   `x.md:8:29: socket name "server": taken by a host or hop`,
		"listen server 80\nconnect client server:80 as a/1\n":                      `x.md:8:29: socket name "a/1": want a word of printable characters with no : > # / or blank`,
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

// TestPacketReferences: packets by name (inject as, a rule's name=, a
// packet statement's pick) wherever #N stands, with field arithmetic,
// exact flags, times and sequence-space comparisons; a pick that matches
// nothing fails and says so.
func TestPacketReferences(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c from=40000\nconnect client server:80 as d from=40001\n"+
		"drop client>server pure-ack after server>client FIN name=finalack\n+0.1 close c\nrun 1s\n"+
		"packet fin1 = first client>server FIN\npacket fin2 = last server>client FIN\npacket syn3 = 3rd client>server SYN\n"+
		"inject c RST as probe\n"+
		"expect #fin2.ack = #fin1.seq + 1\nexpect #fin2.ack > #fin1.seq\nexpect #fin1.seq < #fin2.ack\nexpect #fin1.seq >= #fin2.ack\n"+
		"expect #fin1.flags = [F.]\nexpect #fin1.flags = FIN|ACK\nexpect #fin1.flags != [F]\nexpect #probe.flags = [R]\nexpect #probe.flags = [R.]\n"+
		"expect #fin1.arrived = #fin1.sent + 10ms\nexpect #fin1.sent = 0.1s\nexpect #finalack.flags = [.]\nexpect #finalack.arrived = 0s\n"+
		"expect #syn3.seq = #fin1.seq\nexpect c TIME-WAIT by #fin2.arrived\n"+
		"expect 1 packets client:40000>server:80 FIN\nexpect 0 packets client:40001>server FIN\nexpect 1 packets client>server FIN exact\nexpect 1 packets client>server FIN ACK exact\n"+
		"")
	for src, want := range map[string]struct {
		ok     bool
		detail string
	}{
		"expect #fin2.ack = #fin1.seq + 1":             {true, ""},
		"expect #fin2.ack > #fin1.seq":                 {true, ""},
		"expect #fin1.seq < #fin2.ack":                 {true, ""},
		"expect #fin1.seq >= #fin2.ack":                {false, ""},
		"expect #fin1.flags = [F.]":                    {true, "#fin1.flags is [F.], [F.] is [F.]"},
		"expect #fin1.flags = FIN|ACK":                 {true, ""},
		"expect #fin1.flags != [F]":                    {true, ""},
		"expect #probe.flags = [R]":                    {true, ""},
		"expect #probe.flags = [R.]":                   {false, "#probe.flags is [R], [R.] is [R.]"},
		"expect #fin1.arrived = #fin1.sent + 10ms":     {true, "#fin1.arrived is 0.110000, #fin1.sent + 10ms is 0.110000"},
		"expect #fin1.sent = 0.1s":                     {true, ""},
		"expect #finalack.flags = [.]":                 {true, ""},
		"expect #finalack.arrived = 0s":                {false, "#finalack (#"},
		"expect #syn3.seq = #fin1.seq":                 {false, "#syn3: 2 packets match client>server SYN, so there is no 3rd"},
		"expect c TIME-WAIT by #fin2.arrived":          {true, ""},
		"expect 1 packets client:40000>server:80 FIN":  {true, ""},
		"expect 0 packets client:40001>server FIN":     {true, ""},
		"expect 1 packets client>server FIN exact":     {false, "none"},
		"expect 1 packets client>server FIN ACK exact": {true, ""},
	} {
		c := check(t, res, src)
		assert.Equal(t, want.ok, c.OK, "%s: got %s", src, c.Detail)
		assert.Contains(t, c.Detail, want.detail, src)
	}
	assert.Contains(t, check(t, res, "expect #finalack.arrived = 0s").Detail, "never arrived (dropped)")
}

// TestReleaseByName: release takes a held packet's name.
func TestReleaseByName(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nhold client>server FIN name=late\n+0.1 close c\nrun 1s\nrelease #late\nrun 1s\n"+
		"expect #late.arrived = 1.1s\nexpect c TIME-WAIT\n")
	assertChecks(t, res)
}

// TestPacketReferenceErrors: names are words defined once, and a
// reference to a name nobody defined is malformed.
func TestPacketReferenceErrors(t *testing.T) {
	for body, want := range map[string]string{
		"run 1s\nexpect #nope.seq = 1\n":                                          `x.md:8:8: packet "#nope": want #N (a packet number) or #NAME of a named packet (none named yet`,
		"packet a = first client>server SYN\npacket a = last client>server SYN\n": `x.md:8:8: packet name "a" is taken: it is the first packet matching client>server SYN`,
		"packet a = fifth client>server SYN\n":                                    `x.md:7:12: "fifth": want first, last or Nth (2nd, 3rd, 10th)`,
		"packet a = 2th client>server SYN\n":                                      `x.md:7:12: "2th": want first, last or Nth`,
		"packet a = first client:x>server SYN\n":                                  `x.md:7:18: direction "client:x>server": port "x": want a number from 1 to 65535`,
		// Found by FuzzRun: a match of only "since T" indexed an empty list.
		"run 1s\nexpect 0 packets since 1s\n":     `x.md:8:26: a packet match needs a direction before since`,
		"packet a = first since 0s\n":             `x.md:7:26: a packet match needs a direction before since`,
		"run 1s\nexpect #1.flags < [S]\n":         `x.md:8:17: flags compares only with = or !=`,
		"run 1s\nexpect #1.flags = [Q]\n":         `x.md:8:19: flags "[Q]": 'Q' is none of S F R P . U E W`,
		"run 1s\nexpect #1.sent = #1.seq\n":       `x.md:8:18: #1.sent and #1.seq are different kinds of field`,
		"run 1s\nexpect #1.sent = #1.sent + 10\n": `x.md:8:28: offset "10": a duration needs a unit: 10ms or 10s?`,
		"run 1s\nexpect #1.color = 1\n":           `x.md:8:8: packet field "#1.color": want #N.FIELD or #NAME.FIELD with FIELD one of seq, ack`,
	} {
		err := bodyErr(t, body)
		require.Error(t, err, "%q", body)
		assert.Contains(t, err.Error(), want, "%q", body)
	}
}

// noControlBytes fails when s holds a byte a terminal would act on.
func noControlBytes(tb testing.TB, what, s string) {
	tb.Helper()
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			tb.Errorf("%s: control byte %#x at %d in %q", what, c, i, s)
			return
		}
	}
}

// TestControlBytesAreEscaped: names, notes and payloads with ESC and BEL
// print escaped in the cells, the rendered notebook, the failures and the
// error messages.
func TestControlBytesAreEscaped(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nrun 1s\nsend c \"\x1b[31mred\a\"\nrun 1s\nnote \"\x1b]0;title\a\"\n"+
		"expect server:80/1 received \"\x1b[31mred\a\"\nexpect server:80/1 received \"\x1b[32mgreen\"\n")
	var b strings.Builder
	require.NoError(t, res.WriteCells(&b))
	noControlBytes(t, "cells", b.String())
	noControlBytes(t, "failures", strings.Join(res.Failures(), "\n"))
	noControlBytes(t, "rendered outputs", strings.Join(res.Outputs, ""))
	assert.Contains(t, b.String(), `\x1b]0;title\x07`)
	assert.Contains(t, b.String(), `server:80/1 received "\x1b[31mred\a"`)

	for _, body := range []string{
		"listen server 80\nconnect client server:80 as c\x1bx\n",
		"host h\x07 10.0.0.9\n",
		"fro\x1bb\n",
		"listen server 80\nconnect client server:80 as c\nrun 1s\nexpect c\x1b ESTABLISHED\n",
	} {
		err := bodyErr(t, body)
		require.Error(t, err, "%q", body)
		noControlBytes(t, "error", err.Error())
	}
}

// TestSizesAreBoundedAndSendsComplete: sizes beyond 16 MiB are malformed,
// and a send or an HTTP body larger than the send buffer (gVisor's 1 MiB)
// arrives whole, as a blocking write delivers it; a close after it waits
// for it.
func TestSizesAreBoundedAndSendsComplete(t *testing.T) {
	for body, want := range map[string]string{
		"listen server 80 http body=1000000000000000\n":                      `x.md:7:28: body "1000000000000000": want a byte count from 0 to 16777216 (16 MiB)`,
		"listen server 80 http body=4000000000\n":                            `x.md:7:28: body "4000000000": want a byte count from 0 to 16777216`,
		"listen server 80\nconnect client server:80 as c\nsend c 16777217\n": `x.md:9:8: payload "16777217": want a quoted string or a byte count from 0 to 16777216`,
	} {
		err := bodyErr(t, body)
		require.Error(t, err, "%q", body)
		assert.Contains(t, err.Error(), want, "%q", body)
	}
	res := runBody(t, "listen server 80 http body=3000000\nworkload client server:80 n=2 rate=10/s mode=close\n"+
		"listen server 81\nconnect client server:81 as c\n+0.1 send c 5000000\nclose c\nrun 60s\n"+
		"expect workload done = 2\nexpect server:81/1 received 5000000 bytes\nexpect c TIME-WAIT\n")
	assertChecks(t, res)
}

// TestInjectTimestamps: ts=last+N is N above the peer's last TSval,
// ts=fresh the peer's timestamp clock now (1 ms ticks: 990 ms after its
// SYN-ACK left at 10 ms), and the echo defaults to the host's last TSval.
func TestInjectTimestamps(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nrun 1s\npacket synack = last server>client\npacket ack = last client>server\n"+
		"inject c ACK ts=last+5 as up5\ninject c ACK ts=last-7 as down7\ninject c ACK ts=fresh as fresh\ninject c ACK ts=fresh/42 as echo42\n"+
		"expect #synack.flags = [S.]\nexpect #synack.sent = 0.01s\n"+
		"expect #up5.tsval = #synack.tsval + 5\nexpect #down7.tsval = #synack.tsval - 7\nexpect #fresh.tsval = #synack.tsval + 990\n"+
		"expect #fresh.tsecr = #ack.tsval\nexpect #echo42.tsecr = 42\n")
	assertChecks(t, res)
}

// TestSampleSeries: a client with 20 ephemeral ports opening one
// connection a second to one server: every 10 s the sample counts its
// TIME-WAITs (20 once the range is full, all gone 60 s after the last
// one) and the connects of the interval (10 ok, then EADDRNOTAVAIL for
// each connect while every port is in TIME-WAIT). The heap account is
// linear in what the host holds: 20 TIME-WAITs (each a gVisor endpoint
// with its port and the closed socket that waits with it) cost the same at
// 20 s as at 50 s, and twice the 10 left at 70 s. Sampling adds no event:
// a plain run still ends with the last one.
func TestSampleSeries(t *testing.T) {
	res := runBody(t, "host c2 10.0.0.3 ip_local_port_range=40000-40019\nlink c2 server delay=1ms\nlisten server 80 http\nsample every=10s c2\n"+
		"workload c2 server:80 n=60 rate=1/s mode=keep-alive\nrun\n")
	var got []string
	for _, s := range res.Series {
		ok, _ := sim.CounterOf(s.Connects, "ok")
		fails, _ := sim.CounterOf(s.Connects, "EADDRNOTAVAIL")
		got = append(got, fmt.Sprintf("%s %s tw=%d ok=%d eaddrnotavail=%d", trace.Seconds(s.At), s.Host, s.States[8], ok, fails))
	}
	assert.Equal(t, []string{
		"10.000000 c2 tw=10 ok=10 eaddrnotavail=0",
		"20.000000 c2 tw=20 ok=10 eaddrnotavail=1",
		"30.000000 c2 tw=20 ok=0 eaddrnotavail=10",
		"40.000000 c2 tw=20 ok=0 eaddrnotavail=10",
		"50.000000 c2 tw=20 ok=0 eaddrnotavail=10",
		"60.000000 c2 tw=20 ok=0 eaddrnotavail=9",
		"70.000000 c2 tw=10 ok=0 eaddrnotavail=0",
	}, got)
	assert.Contains(t, res.Outputs[0], "sample every 10s:\n       t (s)  host          SYN-SENT   TIME-WAIT connects ok EADDRNOTAVAIL   heap KiB\n")
	heap := func(i int) int64 { return res.Series[i].Heap }
	assert.Equal(t, heap(1), heap(4), "20 TIME-WAITs at 20 s and at 50 s")
	assert.Equal(t, heap(1), 2*heap(6), "20 TIME-WAITs against the 10 at 70 s")
	assert.Greater(t, heap(6), int64(10*6000), "10 gVisor TIME-WAITs: over 6 KB each")
	assert.Equal(t, "c2", res.Series[0].Host)
}

// TestWorkloadKeepAliveAndClosedLoop: per-conn=10 makes 50 requests on 5
// connections (5 TIME-WAITs on the client, which closes each after its
// tenth response); concurrency=3 keeps three connections going: the
// fourth SYN leaves only once the first connection has ended (the
// server's FIN read). A workload against a listener without http is
// malformed.
func TestWorkloadKeepAliveAndClosedLoop(t *testing.T) {
	res := runBody(t, "listen server 80 http\nworkload client server:80 n=50 rate=100/s per-conn=10 mode=keep-alive\nrun 5s\n"+
		"expect workload done = 50\nexpect client TIME-WAIT count 5\nexpect 5 packets client>server SYN\n")
	assertChecks(t, res)

	res = runBody(t, "listen server 80 http\nworkload client server:80 n=9 concurrency=3 mode=close\nrun 5s\n"+
		"packet syn4 = 4th client>server SYN\npacket fin1 = first server>client FIN\n"+
		"expect workload done = 9\nexpect 9 packets client>server SYN\nexpect #syn4.sent >= #fin1.arrived\nexpect server TIME-WAIT count 9\n")
	assertChecks(t, res)

	err := bodyErr(t, "listen server 80\nworkload client server:80 n=5\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `x.md:8:17: 10.0.0.2:80 is server:80, which does not speak HTTP: want a listener with http`)
}

// TestParams: param NAME=DEFAULT, $NAME in later statements (a key=value
// and a quoted string too), Config.Set in place of the default, and the
// errors: an undeclared $NAME, a --set of no parameter.
func TestParams(t *testing.T) {
	body := "param n=4 mode=close note=hi\nlisten server 80 http\nworkload client server:80 n=$n rate=100/s mode=$mode\nrun 2s\nnote \"$note: $n\"\nexpect workload done = $n\n"
	res := runBody(t, body)
	assertChecks(t, res)
	assert.Contains(t, res.Outputs[0], "param n = 4\nparam mode = close\nparam note = hi\n")
	assert.Contains(t, res.Outputs[0], "hi: 4\n")

	res, err := scenarios.RunText("x.md", twoHosts+body+"```\n", scenarios.Config{Set: []string{"n=7", "mode=keep-alive"}})
	require.NoError(t, err)
	defer res.Close()
	assertChecks(t, res)
	assert.Contains(t, res.Outputs[0], "param n = 7\nparam mode = keep-alive\n")
	assert.Contains(t, res.Outputs[0], "keep-alive (the client closes first)")

	err = bodyErr(t, "param n=4\nnote \"$m\"\n")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `x.md:8:6: $m: no such parameter (declare it with param m=DEFAULT; parameters: n)`)
	_, err = scenarios.RunText("x.md", twoHosts+"param n=4\n```\n", scenarios.Config{Set: []string{"rate=1"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--set rate=1: x.md has no parameter "rate": want one of n`)
}

// TestReleaseThenJudge: a release changes a packet's arrival without
// running an event; an expectation judged right after still sees it.
func TestReleaseThenJudge(t *testing.T) {
	res := runBody(t, "listen server 80\nconnect client server:80 as c\nhold client>server FIN name=late\n+0.1 close c\nrun 1s\nrelease #late\n"+
		"expect #late.arrived = 1.1s\n")
	assertChecks(t, res)
}

// TestHTTPListenerSplitRequests: an http listener answers each request
// whose header ends in a later chunk than it began, the blank line itself
// split across two, and two requests in one chunk: three requests, three
// responses of 41 bytes ("HTTP/1.1 200 OK", Content-Length: 3, "xxx").
func TestHTTPListenerSplitRequests(t *testing.T) {
	res := runCell(t, "host a 10.0.0.1\nhost b 10.0.0.2\nlink a b delay=1ms\nlisten b 80 http body=3\nconnect a b:80 as c\n"+
		`+0.1 send c "GET / HTTP/1.1\r\nHost: b\r\n\r"`+"\n"+
		`+0.1 send c "\nGET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n"`+"\n"+
		`+0.1 send c "\r\n"`+"\nrun 1s\nexpect c received 123 bytes\n")
	assertChecks(t, res)
}
