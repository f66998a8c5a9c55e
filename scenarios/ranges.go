package scenarios

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/sim"
)

// A name range, NAME[A-B], stands for the names NAMEA, NAMEA+1, ...,
// NAMEB: `host c[1-100] 10.0.1.1` declares a hundred hosts c1 ... c100 at
// 10.0.1.1 ... 10.0.1.100, `link c[1-100] server` links each of them to
// server, and `workload c[1-100] server:80 ...` spreads one workload's
// connections over them, as a service sees many clients.

// maxRange bounds the names one range stands for: each host is a whole
// stack.
const maxRange = 10_000

var rangeRE = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*)\[([0-9]+)-([0-9]+)\]$`)

// nameRange reads NAME[A-B]; ok is false for a plain name. A malformed or
// too large range is an error.
func (in *interp) nameRange(st stmt, t token) (names []string, ok bool, err error) {
	if !strings.HasSuffix(t.text, "]") {
		return nil, false, nil
	}
	m := rangeRE.FindStringSubmatch(t.text)
	if m == nil {
		return nil, false, in.errAt(st, t, "%q: want a name or a range NAME[A-B], e.g. c[1-100]", t.text)
	}
	lo, err1 := strconv.Atoi(m[2])
	hi, err2 := strconv.Atoi(m[3])
	if err1 != nil || err2 != nil || lo > hi || hi-lo >= maxRange {
		return nil, false, in.errAt(st, t, "range %q: want NAME[A-B] with A <= B and at most %d names", t.text, maxRange)
	}
	for i := lo; i <= hi; i++ {
		names = append(names, m[1]+strconv.Itoa(i))
	}
	return names, true, nil
}

// expandHosts runs `host NAME[A-B] IP ...` as one host statement per name,
// the address counting up from IP.
func (in *interp) expandHosts(st stmt, args []token) (bool, error) {
	o, err := in.options(st, args, append(hostOptions, knobOptions()...)...)
	if err != nil || len(o.words) != 2 {
		return false, nil // cmdHost says what is wrong
	}
	names, ok, err := in.nameRange(st, o.words[0])
	if !ok || err != nil {
		return ok, err
	}
	if err := in.roomForHosts(st, o.words[0], len(names)); err != nil {
		return true, err
	}
	ipTok := o.words[1]
	addr, err := netip.ParseAddr(ipTok.text)
	if err != nil || !addr.Is4() {
		return true, in.errAt(st, ipTok, "address %q: want an IPv4 address such as 10.0.0.1", ipTok.text)
	}
	for i, name := range names {
		if i > 0 {
			if addr = addr.Next(); !addr.IsValid() || !addr.Is4() || addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				return true, in.errAt(st, ipTok, "range %s from %s: the addresses run past 255.255.255.254", o.words[0].text, ipTok.text)
			}
		}
		sub := substitute(args, o.words[0], name)
		sub = substitute(sub, ipTok, addr.String())
		if err := in.cmdHost(st, sub); err != nil {
			return true, err
		}
	}
	return true, nil
}

// expandLinks runs `link A[..] B[..] ...` as one link statement per name:
// a range and a name link each of the range's names to the name, two
// ranges of one length pair their names.
func (in *interp) expandLinks(st stmt, args []token) (bool, error) {
	o, err := in.options(st, args, "delay", "back", "loss", "loss_back")
	if err != nil || len(o.words) != 2 {
		return false, nil
	}
	a, aok, err := in.nameRange(st, o.words[0])
	if err != nil {
		return true, err
	}
	b, bok, err := in.nameRange(st, o.words[1])
	if err != nil || (!aok && !bok) {
		return bok, err
	}
	switch {
	case aok && bok && len(a) != len(b):
		return true, in.errAt(st, o.words[1], "%s has %d names and %s %d: two ranges must have as many names", o.words[0].text, len(a), o.words[1].text, len(b))
	case !aok:
		a = slices.Repeat([]string{o.words[0].text}, len(b))
	case !bok:
		b = slices.Repeat([]string{o.words[1].text}, len(a))
	}
	for i := range a {
		sub := substitute(substitute(args, o.words[0], a[i]), o.words[1], b[i])
		if err := in.cmdLink(st, sub); err != nil {
			return true, err
		}
	}
	return true, nil
}

// hostList reads a host, or a range of hosts.
func (in *interp) hostList(st stmt, t token) ([]*sim.Host, error) {
	names, ok, err := in.nameRange(st, t)
	if err != nil {
		return nil, err
	}
	if !ok {
		h, err := in.host(st, t)
		if err != nil {
			return nil, err
		}
		return []*sim.Host{h}, nil
	}
	hs := make([]*sim.Host, len(names))
	for i, n := range names {
		if hs[i] = in.hosts[n]; hs[i] == nil {
			return nil, in.errAt(st, t, "unknown host %q in %s: want hosts declared with host %s IP", n, t.text, t.text)
		}
	}
	return hs, nil
}

// hostsText names a list of hosts as the notebook did.
func hostsText(t token, hs []*sim.Host) string {
	if len(hs) == 1 {
		return hs[0].Name()
	}
	return fmt.Sprintf("%s (%d hosts)", t.text, len(hs))
}

// substitute returns args with the token at old's column replaced by text.
func substitute(args []token, old token, text string) []token {
	out := make([]token, len(args))
	copy(out, args)
	for i := range out {
		if out[i].col == old.col && out[i].text == old.text {
			out[i].text = text
		}
	}
	return out
}
