package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Counter is one of the namespace's counters, named as nstat names it
// (the table's prefix and the field: TcpExtTW, TcpInSegs).
type Counter struct {
	Name  string
	Value uint64
}

// Counters reads the namespace's /proc/net/netstat and /proc/net/snmp
// (TcpExt*, IpExt*, Tcp*, Ip*, ...), sorted by name.
func (n *Netns) Counters() ([]Counter, error) {
	var out []Counter
	err := n.Do(func() error {
		for _, f := range []string{"/proc/thread-self/net/netstat", "/proc/thread-self/net/snmp"} {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			c, err := parseProcNet(b)
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			out = append(out, c...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernel backend: counters: %w", err)
	}
	slices.SortFunc(out, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// parseProcNet reads the pairs of lines of /proc/net/netstat and snmp: a
// header "TcpExt: A B C" and its values "TcpExt: 1 2 3". Negative values
// (snmp's Tcp MaxConn is -1) are skipped.
func parseProcNet(b []byte) ([]Counter, error) {
	var out []Counter
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		head := strings.Fields(sc.Text())
		if !sc.Scan() {
			return nil, errors.New("a header without values")
		}
		vals := strings.Fields(sc.Text())
		if len(head) != len(vals) || len(head) == 0 || head[0] != vals[0] {
			return nil, fmt.Errorf("header %q does not match its values", head)
		}
		prefix := strings.TrimSuffix(head[0], ":")
		for i := 1; i < len(head); i++ {
			v, err := strconv.ParseUint(vals[i], 10, 64)
			if err != nil {
				continue
			}
			out = append(out, Counter{prefix + head[i], v})
		}
	}
	return out, sc.Err()
}

// ErrNoKnob is returned by SetSysctl for a knob the running kernel lacks.
var ErrNoKnob = errors.New("the running kernel has no such knob")

// SetSysctl writes the namespace's sysctl name (net.ipv4.tcp_tw_reuse) to
// value.
func (n *Netns) SetSysctl(name, value string) error {
	err := n.Do(func() error { return os.WriteFile(sysctlPath(name), []byte(value+"\n"), 0) })
	if err != nil {
		return sysctlErr(name, fmt.Sprintf("%s = %q", name, value), err)
	}
	return nil
}

// Sysctl reads the namespace's sysctl name.
func (n *Netns) Sysctl(name string) (string, error) {
	var v string
	err := n.Do(func() error {
		b, err := os.ReadFile(sysctlPath(name))
		v = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		return "", sysctlErr(name, name, err)
	}
	return v, nil
}

func sysctlPath(name string) string { return "/proc/sys/" + strings.ReplaceAll(name, ".", "/") }

// sysctlErr names what failed; a knob that is not there is ErrNoKnob, with
// the running release.
func sysctlErr(name, what string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w (Linux %s)", name, ErrNoKnob, Release())
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Release is the running kernel's release (uname -r).
func Release() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
