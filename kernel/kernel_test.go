package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needKernel skips a test that needs CAP_NET_ADMIN when the process lacks
// it, and fails it under CI, where it must run.
func needKernel(tb testing.TB) *Netns {
	tb.Helper()
	n, err := NewNetns()
	if err == ErrPrivilege {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI must run the kernel backend's tests: %v", err)
		}
		tb.Skipf("skipped: %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return n
}

// pipe joins two TUN devices: every packet one side sends is written to
// the other, until both are closed.
func pipe(a, b *TUN) {
	move := func(from, to *TUN) {
		buf := make([]byte, 65536)
		for {
			n, err := from.Read(buf)
			if err != nil {
				return
			}
			_, _ = to.Write(buf[:n])
		}
	}
	go move(a, b)
	go move(b, a)
}

func TestTwoNamespacesTalk(t *testing.T) {
	na, nb := needKernel(t), needKernel(t)
	ta, err := na.NewTUN(netip.MustParseAddr("10.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ta.Close()
	tb, err := nb.NewTUN(netip.MustParseAddr("10.0.0.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	pipe(ta, tb)
	var ls, cs int
	if err := nb.Do(func() (err error) {
		ls, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ls)
	if err := unix.Bind(ls, &unix.SockaddrInet4{Port: 80, Addr: [4]byte{10, 0, 0, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(ls, 8); err != nil {
		t.Fatal(err)
	}
	if err := na.Do(func() (err error) {
		cs, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cs >= 0 {
			unix.Close(cs)
		}
	}()
	start := time.Now()
	if err := unix.Connect(cs, &unix.SockaddrInet4{Port: 80, Addr: [4]byte{10, 0, 0, 2}}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Logf("connected in %v", time.Since(start))
	as, _, err := unix.Accept(ls)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if as >= 0 {
			unix.Close(as)
		}
	}()

	// The client closes first; the server closes when it reads EOF.
	if err := unix.Close(cs); err != nil {
		t.Fatal(err)
	}
	cs = -1
	buf := make([]byte, 16)
	if n, err := unix.Read(as, buf); n != 0 || err != nil {
		t.Fatalf("server read = %d, %v, want EOF", n, err)
	}
	if err := unix.Close(as); err != nil {
		t.Fatal(err)
	}
	as = -1
	var tw Socket
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		socks, err := na.TCPSockets()
		if err != nil {
			t.Fatal(err)
		}
		if len(socks) == 1 && socks[0].State == TimeWait {
			tw = socks[0]
			break
		}
	}
	if tw.State != TimeWait || !tw.TimeWait {
		t.Fatalf("client socket = %+v, want a timewait socket in TIME-WAIT", tw)
	}
	if tw.Local.Addr() != netip.MustParseAddr("10.0.0.1") || tw.Remote != netip.MustParseAddrPort("10.0.0.2:80") {
		t.Errorf("timewait socket %v > %v, want 10.0.0.1:* > 10.0.0.2:80", tw.Local, tw.Remote)
	}
	if tw.Expires < 55000 || tw.Expires > 60000 {
		t.Errorf("timewait timer %d ms left, want about 60 s", tw.Expires)
	}
	counters, err := na.Counters()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, c := range counters {
		got[c.Name] = c.Value
	}
	if got["TcpExtTW"] != 1 || got["TcpActiveOpens"] != 1 {
		t.Errorf("client counters TcpExtTW = %d, TcpActiveOpens = %d, want 1 and 1 (6.x counts TW at creation)", got["TcpExtTW"], got["TcpActiveOpens"])
	}
}

func TestSysctlsArePerNamespace(t *testing.T) {
	na, nb := needKernel(t), needKernel(t)
	if err := na.SetSysctl("net.ipv4.tcp_tw_reuse", "1"); err != nil {
		t.Fatal(err)
	}
	a, err := na.Sysctl("net.ipv4.tcp_tw_reuse")
	if err != nil {
		t.Fatal(err)
	}
	b, err := nb.Sysctl("net.ipv4.tcp_tw_reuse")
	if err != nil {
		t.Fatal(err)
	}
	if a != "1" || b != "2" {
		t.Errorf("tcp_tw_reuse: a = %s, b = %s, want 1 and 2 (the default)", a, b)
	}
	if err := na.SetSysctl("net.ipv4.tcp_tw_recycle", "1"); !errors.Is(err, ErrNoKnob) {
		t.Errorf("tcp_tw_recycle: got %v, want ErrNoKnob (gone since 4.12)", err)
	}
}

func TestParseProcNet(t *testing.T) {
	got, err := parseProcNet([]byte("TcpExt: SyncookiesSent TW\nTcpExt: 0 7\nTcp: RtoAlgorithm MaxConn\nTcp: 1 -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Counter{{"TcpExtSyncookiesSent", 0}, {"TcpExtTW", 7}, {"TcpRtoAlgorithm", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseProcNet = %v, want %v", got, want)
	}
	if _, err := parseProcNet([]byte("TcpExt: A B\nTcpExt: 1\n")); err == nil {
		t.Error("a header longer than its values: no error")
	}
}

// TestClocksStartTogether: clocks made together start when each has been
// read or let go, at one instant.
func TestClocksStartTogether(t *testing.T) {
	cs := NewClocks(2)
	read := make(chan time.Duration)
	go func() { read <- cs[0].Now() }()
	select {
	case <-read:
		t.Fatal("the first clock started before the second was read or released")
	case <-time.After(50 * time.Millisecond):
	}
	cs[1].Release()
	got := <-read
	// Under 50 ms: the clock did not start before the wait above, and a
	// loaded machine has room to wake the reader late.
	if got < 0 || got >= 50*time.Millisecond {
		t.Errorf("the first clock read %v at its start, want about 0 (under 50ms)", got)
	}
	if d := cs[0].start.Sub(cs[1].start); d != 0 {
		t.Errorf("the clocks started %v apart, want at one instant", d)
	}
}
