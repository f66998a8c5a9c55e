package scenarios

import (
	"regexp"
	"slices"
	"strings"
)

// conformanceExtra are notebooks without a linux-profile host that the
// conformance set runs anyway: lost-final-ack is the first thing a user
// runs on the kernel.
var conformanceExtra = []string{"lost-final-ack"}

var (
	mslRE    = regexp.MustCompile(`\bmsl=(\S+)`)
	kernelRE = regexp.MustCompile(`\bkernel=(\S+)`)
)

// Conformance lists the conformance set: every shipped notebook with a
// host under the linux profile that the kernel backend can run (every
// host's MSL 30 s, no host modelling another kernel than 6.18), and
// lost-final-ack. tcpsim compare --conformance runs it, and so does CI.
func Conformance() []string {
	var out []string
	for _, b := range List() {
		if slices.Contains(conformanceExtra, b.Name) || kernelRunnable(b.text) {
			out = append(out, b.Name)
		}
	}
	return out
}

// kernelRunnable reports whether a notebook has a linux-profile host and
// every host can be a kernel's.
func kernelRunnable(text string) bool {
	linux := false
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "host ") {
			continue
		}
		linux = linux || strings.Contains(l, "profile=linux")
		if m := mslRE.FindStringSubmatch(l); m != nil && m[1] != "30s" {
			return false
		}
		if m := kernelRE.FindStringSubmatch(l); m != nil && m[1] != "6.18" {
			return false
		}
	}
	return linux
}
