package sim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"

	"github.com/tcpsim/tcpsim/timewait"
)

// Profile says whose behaviour a host shows where gVisor and Linux differ.
type Profile uint8

// Profiles.
const (
	// GVisor is gVisor's netstack as it is: the default.
	GVisor Profile = iota
	// Linux models Linux (6.18 unless HostOptions.Kernel says 4.9) where
	// it differs from gVisor: a policy layer between the link and the
	// stack (PAWS, tcp_timestamps=0, tcp_tw_recycle under 4.9), Linux's
	// timewait sockets in place of gVisor's TIME-WAIT and orphaned
	// FIN-WAIT-2 endpoints (package timewait), Linux's choice of ephemeral
	// ports and its tcp_tw_reuse, and its knobs.
	Linux
)

func (p Profile) String() string {
	if p == Linux {
		return "linux"
	}
	return "gvisor"
}

// ParseProfile reads "gvisor" or "linux".
func ParseProfile(s string) (Profile, error) {
	switch s {
	case "gvisor":
		return GVisor, nil
	case "linux":
		return Linux, nil
	}
	return 0, fmt.Errorf("profile %q: want gvisor or linux", s)
}

// knobs are a host's Linux knobs, resolved.
type knobs struct {
	timestamps       bool          // net.ipv4.tcp_timestamps
	twReuse          int           // net.ipv4.tcp_tw_reuse: 0 off, 1 global, 2 loopback
	twReuseDelay     time.Duration // net.ipv4.tcp_tw_reuse_delay (6.18)
	twRecycle        bool          // net.ipv4.tcp_tw_recycle (4.9)
	maxTWBuckets     int           // net.ipv4.tcp_max_tw_buckets
	rfc1337          bool          // net.ipv4.tcp_rfc1337
	invalidRateLimit time.Duration // net.ipv4.tcp_invalid_ratelimit
}

// DefaultMaxTWBuckets is the tcp_max_tw_buckets of the linux profile: the
// value the articles saw (Linux sizes it from memory).
const DefaultMaxTWBuckets = 262144

// sysctlNames lists the knobs a host takes, by their Linux names.
var sysctlNames = []string{
	"net.ipv4.tcp_timestamps", "net.ipv4.tcp_tw_reuse", "net.ipv4.tcp_tw_reuse_delay",
	"net.ipv4.tcp_tw_recycle", "net.ipv4.tcp_max_tw_buckets", "net.ipv4.tcp_rfc1337",
	"net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_invalid_ratelimit", "net.ipv4.ip_local_port_range",
}

// SysctlNames returns the knobs a host takes, by their Linux names.
func SysctlNames() []string { return append([]string(nil), sysctlNames...) }

// canonical returns the full name of a knob given in full or as its last
// part (tcp_tw_reuse), or "".
func canonical(name string) string {
	for _, n := range sysctlNames {
		if n == name || strings.TrimPrefix(n, "net.ipv4.") == name {
			return n
		}
	}
	return ""
}

// IsSysctl reports whether name is a knob a host takes.
func IsSysctl(name string) bool { return canonical(name) != "" }

// SetSysctl sets one of the host's knobs by its Linux name (in full or
// without "net.ipv4."), as sysctl -w would. The error names the knob and
// the values it allows, and says when the host's profile cannot model it.
func (h *Host) SetSysctl(name, value string) error {
	defer h.portsMayFree() // a range or a reuse rule may have changed
	full := canonical(name)
	if full == "" {
		return fmt.Errorf("unknown knob %q: want one of %s", name, strings.Join(sysctlNames, ", "))
	}
	if h.kern != nil {
		return h.kern.k.SetSysctl(full, value)
	}
	bad := func(want string) error { return fmt.Errorf("%s = %q: want %s", full, value, want) }
	linuxOnly := func(what string) error {
		return fmt.Errorf("%s = %s: gVisor has %s; it is modelled only under profile=linux", full, value, what)
	}
	kernel := h.opts.Kernel
	v, err := strconv.Atoi(value)
	switch full {
	case "net.ipv4.tcp_timestamps":
		if err != nil || (v != 0 && v != 1) {
			return bad("0 or 1")
		}
		h.knobs.timestamps = v == 1
	case "net.ipv4.tcp_tw_reuse":
		if h.opts.Profile == Linux && kernel == timewait.Linux49 {
			if err != nil || v < 0 || v > 1 {
				return bad("0 (off) or 1 (on); Linux 4.9 has no loopback-only mode 2 (a later kernel added it)")
			}
		} else if err != nil || v < 0 || v > 2 {
			return bad("0 (off), 1 (global) or 2 (loopback only)")
		}
		h.knobs.twReuse = v
		return h.applyReuse(h.defaultReuseMode())
	case "net.ipv4.tcp_tw_reuse_delay":
		if err != nil || v < 1 || v > 60000 {
			return bad("milliseconds from 1 to 60000 (TCP_PAWS_MSL)")
		}
		if h.opts.Profile != Linux {
			return linuxOnly("a fixed 1 s since the last timestamp")
		}
		if kernel == timewait.Linux49 {
			return fmt.Errorf("%s: Linux 4.9 has no such knob (its tcp_tw_reuse waits more than a second after the last timestamp); a 6.x kernel added it", full)
		}
		h.knobs.twReuseDelay = time.Duration(v) * time.Millisecond
	case "net.ipv4.tcp_invalid_ratelimit":
		if err != nil || v < 0 || v > math.MaxInt32 {
			return bad("milliseconds from 0 to 2147483647")
		}
		if h.opts.Profile != Linux {
			return linuxOnly("no rate limit on ACKs to out-of-window segments in TIME-WAIT")
		}
		h.knobs.invalidRateLimit = time.Duration(v) * time.Millisecond
	case "net.ipv4.tcp_tw_recycle":
		if err != nil || (v != 0 && v != 1) {
			return bad("0 or 1")
		}
		if v == 1 && h.opts.Profile != Linux {
			return linuxOnly("no tw_recycle")
		}
		if v == 1 && kernel != timewait.Linux49 {
			return fmt.Errorf("%s = 1: Linux %v has no such knob: it was removed in 4.12 (commit 4396e46187ca, \"tcp: remove tcp_tw_recycle\"); give the host kernel=4.9", full, kernel)
		}
		h.knobs.twRecycle = v == 1
	case "net.ipv4.tcp_max_tw_buckets":
		if err != nil || v < 0 || v > math.MaxInt32 {
			return bad("a number of TIME-WAIT sockets from 0 to 2147483647")
		}
		if h.opts.Profile != Linux {
			return linuxOnly("no limit on TIME-WAIT sockets")
		}
		h.knobs.maxTWBuckets = v
	case "net.ipv4.tcp_rfc1337":
		if err != nil || (v != 0 && v != 1) {
			return bad("0 or 1")
		}
		if v == 0 && h.opts.Profile != Linux {
			return linuxOnly("RFC 1337 always on (RST in TIME-WAIT is ignored)")
		}
		h.knobs.rfc1337 = v == 1
	case "net.ipv4.tcp_fin_timeout":
		if err != nil || v <= 0 || v > math.MaxInt32/timewait.HZ {
			// proc_dointvec_jiffies: the seconds times HZ must fit an int.
			return bad(fmt.Sprintf("a number of seconds from 1 to %d", math.MaxInt32/timewait.HZ))
		}
		h.opts.FinTimeout = time.Duration(v) * time.Second
		opt := tcpip.TCPLingerTimeoutOption(h.opts.FinTimeout)
		if terr := h.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &opt); terr != nil {
			return fmt.Errorf("%s: %s", full, terr)
		}
	case "net.ipv4.ip_local_port_range":
		f := strings.Fields(strings.NewReplacer("-", " ", "\t", " ").Replace(value))
		var first, last uint16
		ok := len(f) == 2
		if ok {
			first, last, ok = ParsePortRange(f[0], f[1])
		}
		if !ok {
			return bad(`"FIRST LAST" with 1 <= FIRST <= LAST <= 65535`)
		}
		h.opts.FirstPort, h.opts.LastPort = first, last
		if terr := h.stack.SetPortRange(h.opts.FirstPort, h.opts.LastPort); terr != nil {
			return fmt.Errorf("%s: %s", full, terr)
		}
	}
	return nil
}

// ParsePortRange parses the two ends of a port range, as for
// ip_local_port_range: ok reports whether both are decimal numbers with
// 1 <= first <= last <= 65535.
func ParsePortRange(first, last string) (lo, hi uint16, ok bool) {
	a, e1 := strconv.Atoi(first)
	b, e2 := strconv.Atoi(last)
	if e1 != nil || e2 != nil || a < 1 || b > 65535 || a > b {
		return 0, 0, false
	}
	return uint16(a), uint16(b), true
}

// setSysctls sets HostOptions.Sysctls, each "NAME=VALUE".
func (h *Host) setSysctls(kvs []string) error {
	for _, kv := range kvs {
		name, value, ok := strings.Cut(kv, "=")
		err := fmt.Errorf("sysctl %q: want NAME=VALUE", kv)
		if ok {
			err = h.SetSysctl(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		if err != nil {
			return fmt.Errorf("sim: host %s: %v", h.name, err)
		}
	}
	return nil
}

// Sysctl returns the current value of a knob, as sysctl prints it.
func (h *Host) Sysctl(name string) (string, error) {
	b := func(x bool) string {
		if x {
			return "1"
		}
		return "0"
	}
	if h.kern != nil && canonical(name) != "" {
		return h.kern.k.Sysctl(canonical(name))
	}
	switch canonical(name) {
	case "net.ipv4.tcp_timestamps":
		return b(h.knobs.timestamps), nil
	case "net.ipv4.tcp_tw_reuse":
		return strconv.Itoa(h.knobs.twReuse), nil
	case "net.ipv4.tcp_tw_reuse_delay":
		return strconv.Itoa(int(h.knobs.twReuseDelay / time.Millisecond)), nil
	case "net.ipv4.tcp_invalid_ratelimit":
		return strconv.Itoa(int(h.knobs.invalidRateLimit / time.Millisecond)), nil
	case "net.ipv4.tcp_tw_recycle":
		return b(h.knobs.twRecycle), nil
	case "net.ipv4.tcp_max_tw_buckets":
		if h.opts.Profile != Linux {
			return "unlimited (gvisor)", nil
		}
		return strconv.Itoa(h.knobs.maxTWBuckets), nil
	case "net.ipv4.tcp_rfc1337":
		return b(h.knobs.rfc1337), nil
	case "net.ipv4.tcp_fin_timeout":
		return strconv.Itoa(int(h.opts.FinTimeout / time.Second)), nil
	case "net.ipv4.ip_local_port_range":
		return fmt.Sprintf("%d\t%d", h.opts.FirstPort, h.opts.LastPort), nil
	}
	return "", fmt.Errorf("unknown knob %q: want one of %s", name, strings.Join(sysctlNames, ", "))
}

// Profile returns the host's behaviour profile.
func (h *Host) Profile() Profile { return h.opts.Profile }

// Behaviour names whose TCP the host shows: "gvisor", or "linux 6.18"
// (or "linux 4.9").
func (h *Host) Behaviour() string {
	if h.opts.Profile == Linux {
		return "linux " + h.opts.Kernel.String()
	}
	return "gvisor"
}

// defaultKnobs are a host's knobs before any sysctl.
func defaultKnobs(o HostOptions) knobs {
	k := knobs{timestamps: true, twReuse: 2, rfc1337: o.Profile == GVisor, maxTWBuckets: DefaultMaxTWBuckets,
		twReuseDelay: time.Second, invalidRateLimit: 500 * time.Millisecond}
	switch o.TWReuse {
	case TWReuseOff:
		k.twReuse = 0
	case TWReuseGlobal:
		k.twReuse = 1
	case TWReuseLoopback:
		if o.Profile == Linux && o.Kernel == timewait.Linux49 {
			k.twReuse = 0 // 4.9's default; it had no loopback mode
		}
	}
	return k
}

// defaultReuseMode is gVisor's reuse mode for the knob.
func (h *Host) defaultReuseMode() tcpip.TCPTimeWaitReuseOption {
	if h.opts.Profile == Linux {
		// The host decides reuse itself (ports.go); gVisor never holds a
		// TIME-WAIT endpoint to reuse.
		return tcpip.TCPTimeWaitReuseDisabled
	}
	switch h.knobs.twReuse {
	case 0:
		return tcpip.TCPTimeWaitReuseDisabled
	case 1:
		return tcpip.TCPTimeWaitReuseGlobal
	}
	return tcpip.TCPTimeWaitReuseLoopbackOnly
}

func (h *Host) applyReuse(mode tcpip.TCPTimeWaitReuseOption) error {
	if h.reuseMode == mode && h.reuseSet {
		return nil
	}
	if terr := h.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &mode); terr != nil {
		return fmt.Errorf("net.ipv4.tcp_tw_reuse: %s", terr)
	}
	h.reuseMode, h.reuseSet = mode, true
	return nil
}
