package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcpsim/tcpsim/kernel/kerneltest"
)

// TestMain lets a test run this test binary as the tcpsim command
// (TCPSIM_MAIN=1), to see it as a user does: its exit, its signals.
func TestMain(m *testing.M) {
	if os.Getenv("TCPSIM_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// command returns the test binary started as tcpsim with args.
func command(tb testing.TB, args ...string) *exec.Cmd {
	tb.Helper()
	exe, err := os.Executable()
	require.NoError(tb, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "TCPSIM_MAIN=1")
	return cmd
}

func notebook(tb testing.TB, cell string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "nb.md")
	require.NoError(tb, os.WriteFile(path, []byte("# nb\n\n```tcpsim\n"+cell+"```\n"), 0o644))
	return path
}

// TestKernelRefusesAnotherMSL: the kernel's TIME-WAIT is 60 s; a host with
// another MSL cannot run on it, and the error says where and why (before
// any namespace is made, so no privilege is needed to see it).
func TestKernelRefusesAnotherMSL(t *testing.T) {
	path := notebook(t, "host client 10.0.0.1 msl=5s\n")
	code, out, errOut := tcpsim("run", path, "--kernel")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "nb.md:4:6: msl=5s: the kernel's TIME-WAIT is TCP_TIMEWAIT_LEN, 60 s")
}

// TestKernelRefusesAMissingKnob: tcp_tw_recycle left Linux in 4.12.
func TestKernelRefusesAMissingKnob(t *testing.T) {
	kerneltest.Need(t)
	path := notebook(t, "host server 10.0.0.2 tcp_tw_recycle=1\n")
	code, _, errOut := tcpsim("run", path, "--kernel")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "nb.md:4:")
	assert.Contains(t, errOut, "has no such knob: it was removed in 4.12")
}

// TestKernelWithoutPrivilege: as an unprivileged user, --kernel exits 2
// and says what is missing.
func TestKernelWithoutPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		code, _, errOut := tcpsim("run", "normal-close", "--kernel")
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "CAP_NET_ADMIN")
		return
	}
	// As root: run the command as nobody, from a copy nobody may execute.
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755)) // t.TempDir's parent is private
	b, err := os.ReadFile(exe)
	require.NoError(t, err)
	copied := filepath.Join(dir, "tcpsim")
	require.NoError(t, os.WriteFile(copied, b, 0o755))
	cmd := exec.Command(copied, "run", "normal-close", "--kernel")
	cmd.Env = []string{"TCPSIM_MAIN=1", "PATH=/usr/bin:/bin"}
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "output: %s", out)
	assert.Equal(t, 2, ee.ExitCode(), "output: %s", out)
	assert.Contains(t, string(out), "needs CAP_NET_ADMIN")
	assert.Contains(t, string(out), "normal-close.md:")
}

// TestSIGINTTearsDown: Ctrl-C during a kernel run ends the process at once,
// and with it every namespace it made (they are held only by its file
// descriptors) and their TUN devices and sockets.
func TestSIGINTTearsDown(t *testing.T) {
	kerneltest.Need(t)
	cmd := command(t, "run", "lost-final-ack", "--kernel")
	require.NoError(t, cmd.Start())
	pid := cmd.Process.Pid
	var netns []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		netns, _ = heldNamespaces(pid)
		if tuns(pid) >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.GreaterOrEqual(t, tuns(pid), 2, "the run never opened its hosts' TUN devices")
	require.NotEmpty(t, netns)
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("tcpsim did not exit within 5 s of SIGINT")
	}
	_, err := os.Stat("/proc/" + itoa(pid))
	assert.True(t, os.IsNotExist(err), "the process is gone")
	for _, ns := range netns {
		assert.Empty(t, holders(ns), "namespace %s is still held", ns)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// heldNamespaces lists the network namespaces process pid holds by file
// descriptor ("net:[4026532...]"), but the one it started in: it opens that
// one for a moment to come back to it while it makes a host's namespace,
// and every process of the machine lives in it.
func heldNamespaces(pid int) ([]string, error) {
	var out []string
	own, _ := os.Readlink("/proc/self/ns/net")
	ents, err := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	for _, e := range ents {
		if l, err := os.Readlink("/proc/" + itoa(pid) + "/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "net:[") && l != own {
			out = append(out, l)
		}
	}
	return out, err
}

func tuns(pid int) int {
	n := 0
	ents, _ := os.ReadDir("/proc/" + itoa(pid) + "/fd")
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/" + itoa(pid) + "/fd/" + e.Name()); l == "/dev/net/tun" {
			n++
		}
	}
	return n
}

// holders lists the processes that hold namespace ns, by a descriptor or
// as a thread's namespace.
func holders(ns string) []string {
	var out []string
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		links, _ := filepath.Glob("/proc/" + p.Name() + "/fd/*")
		tasks, _ := filepath.Glob("/proc/" + p.Name() + "/task/*/ns/net")
		for _, l := range append(links, tasks...) {
			if t, err := os.Readlink(l); err == nil && t == ns {
				out = append(out, l)
			}
		}
	}
	return out
}
