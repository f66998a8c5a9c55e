package scenarios

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// errAt makes a positioned error at a token of the statement.
func (in *interp) errAt(st stmt, t token, format string, args ...any) error {
	pe := &posError{file: in.file, line: st.line, col: t.col, msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			pe.cause = err
			break
		}
	}
	return pe
}

// errEnd makes a positioned error just past the statement's last token.
func (in *interp) errEnd(st stmt, format string, args ...any) error {
	col := 1
	if n := len(st.toks); n > 0 {
		col = st.toks[n-1].col + len(st.toks[n-1].text)
	}
	return &posError{file: in.file, line: st.line, col: col, msg: fmt.Sprintf(format, args...)}
}

// parseDuration reads a duration: Go's form (10ms, 1.5s, 2m) or a bare
// number of seconds (0.25).
func parseDuration(s string) (time.Duration, bool) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 1e9 {
		return time.Duration(math.Round(f * float64(time.Second))), true
	}
	return 0, false
}

// duration reads a duration argument (delay=, msl=, run D, for D ...). It
// needs a unit: a bare number is refused with the two readings it could
// have, except 0, which reads the same in every unit.
func (in *interp) duration(st stmt, t token, what string) (time.Duration, error) {
	if _, err := time.ParseDuration(t.text); err != nil {
		if f, err := strconv.ParseFloat(t.text, 64); err == nil && f != 0 {
			return 0, in.errAt(st, t, "%s %q: a duration needs a unit: %sms or %ss?", what, t.text, t.text, t.text)
		}
	}
	d, ok := parseDuration(t.text)
	if !ok || d < 0 {
		return 0, in.errAt(st, t, "%s %q: want a duration such as 10ms, 1.5s or 2m", what, t.text)
	}
	return d, nil
}

// timeWaitLen is TCP_TIMEWAIT_LEN, the longest single timer a time in an
// expectation is taken to end when it does not say (see timeExpr.timer).
const timeWaitLen = 60 * time.Second

// timeExpr is a point in virtual time as a notebook writes it:
// 1.5s (absolute), +1s (from the statement's time), #7.sent or #7.arrived
// (a packet's times), each optionally followed by +D or -D.
type timeExpr struct {
	rel    bool
	ref    pktRef // #REF.sent or #REF.arrived when ref.src is set
	arrive bool
	off    time.Duration
	// timer is the length of the timer whose end the time names, for the
	// tolerance of a kernel's timer wheel: the D of #REF+D or +D, the
	// addends after the first of T+D, and for a bare T (a time from the
	// start, not a timer's length) at most TCP_TIMEWAIT_LEN's 60 s, the
	// longest single timer TIME-WAIT runs.
	timer time.Duration
	src   string
	upto  int // the packets sent before the statement, for a pick's ref
}

func (in *interp) parseTime(st stmt, t token) (timeExpr, error) {
	s := t.text
	te := timeExpr{src: s}
	bad := func() (timeExpr, error) {
		return te, in.errAt(st, t, "time %q: want 1.5s (from the start), +1s (from now), or #N.sent / #N.arrived (or #NAME.sent ...), optionally +D or -D", s)
	}
	switch {
	case strings.HasPrefix(s, "#"):
		dot := strings.IndexByte(s, '.')
		if dot < 0 {
			return bad()
		}
		ref, err := in.parseRef(st, t, s[:dot])
		if err != nil {
			return te, err
		}
		te.ref, te.upto = ref, in.w.PacketCount()
		rest := s[dot+1:]
		end := strings.IndexAny(rest, "+-")
		if end < 0 {
			end = len(rest)
		}
		switch rest[:end] {
		case "sent":
		case "arrived":
			te.arrive = true
		default:
			return bad()
		}
		if end < len(rest) {
			d, ok := parseDuration(rest[end+1:])
			if !ok {
				return bad()
			}
			if rest[end] == '-' {
				d = -d
			}
			te.off, te.timer = d, max(d, -d)
		}
		return te, nil
	case strings.HasPrefix(s, "+"):
		te.rel = true
		s = s[1:]
	}
	// Absolute or relative: a sum of durations, e.g. 60s+360ms.
	var total, first time.Duration
	for i, part := range strings.Split(s, "+") {
		d, ok := parseDuration(part)
		if !ok || d < 0 {
			return bad()
		}
		if i == 0 {
			first = d
		}
		total += d
	}
	te.off, te.timer = total, total-first
	switch {
	case te.rel:
		te.timer = total
	case total == first:
		te.timer = min(total, timeWaitLen)
	}
	return te, nil
}

// eval resolves a time expression; now is the time of the statement that
// wrote it.
func (in *interp) evalTime(te timeExpr, now time.Duration) (time.Duration, error) {
	switch {
	case te.ref.src != "":
		p, err := in.resolve(te.ref, te.upto)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", te.src, err)
		}
		if !te.arrive {
			return p.Sent + te.off, nil
		}
		if p.Delivered < 0 {
			return 0, fmt.Errorf("%s: packet #%d never arrived (%v)", te.src, p.ID, p.Fate)
		}
		return p.Delivered + te.off, nil
	case te.rel:
		return now + te.off, nil
	}
	return te.off, nil
}

// options splits key=value tokens from plain words.
type options struct {
	words []token
	kv    map[string]token // lookups only
	order []string
}

func (in *interp) options(st stmt, toks []token, allowed ...string) (options, error) {
	o := options{kv: map[string]token{}}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t.text == "as" && !t.quoted && slices.Contains(allowed, "as") {
			if i+1 == len(toks) {
				return o, in.errAt(st, t, "as needs a name after it")
			}
			i++
			t = token{text: "as=" + toks[i].text, col: toks[i].col - 3, quoted: toks[i].quoted}
		}
		k, v, ok := strings.Cut(t.text, "=")
		if !ok || (t.quoted && strings.HasPrefix(t.text, `"`)) {
			o.words = append(o.words, t)
			continue
		}
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return o, in.errAt(st, t, "unknown option %q: want one of %s", k, strings.Join(allowed, ", "))
		}
		if _, dup := o.kv[k]; dup {
			return o, in.errAt(st, t, "option %q given twice", k)
		}
		o.kv[k] = token{text: v, col: t.col + len(k) + 1, quoted: t.quoted}
		o.order = append(o.order, k)
	}
	return o, nil
}

// addrOf reads an IPv4 address, or the name of a host or a NAT (its outside
// address).
func (in *interp) addrOf(s string) (netip.Addr, bool) {
	if h := in.w.Host(s); h != nil {
		return h.Addr(), true
	}
	if h := in.w.Hop(s); h != nil && h.IsNAT() {
		return h.Addr(), true
	}
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Is4()
}

// addrPort reads IP:PORT, HOST:PORT or NAT:PORT.
func (in *interp) addrPort(st stmt, t token) (netip.AddrPort, error) {
	host, port, ok := strings.Cut(t.text, ":")
	p, err := strconv.Atoi(port)
	if !ok || err != nil || p < 1 || p > 65535 {
		return netip.AddrPort{}, in.errAt(st, t, "address %q: want HOST:PORT or IP:PORT with a port from 1 to 65535", t.text)
	}
	a, ok := in.addrOf(host)
	if !ok {
		return netip.AddrPort{}, in.errAt(st, t, "address %q: %q is neither a host or NAT of this notebook (%s) nor an IPv4 address", t.text, host, in.nodeNames())
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

func (in *interp) port(st stmt, t token) (uint16, error) {
	p, err := strconv.Atoi(t.text)
	if err != nil || p < 1 || p > 65535 {
		return 0, in.errAt(st, t, "port %q: want a number from 1 to 65535", t.text)
	}
	return uint16(p), nil
}

func (in *interp) count(st stmt, t token, what string) (int, error) {
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, in.errAt(st, t, "%s %q: want a whole number >= 0", what, t.text)
	}
	return n, nil
}

// maxBytes bounds every size a notebook gives in bytes (a send, an HTTP
// body): 16 MiB.
const maxBytes = 16 << 20

// size reads a byte count from 0 to maxBytes.
func (in *interp) size(st stmt, t token, what string) (int, error) {
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 || n > maxBytes {
		return 0, in.errAt(st, t, "%s %q: want a byte count from 0 to %d (16 MiB)", what, t.text, maxBytes)
	}
	return n, nil
}

// probability reads 5% or 0.05.
func (in *interp) probability(st stmt, t token) (float64, error) {
	s := t.text
	scale := 1.0
	if strings.HasSuffix(s, "%") {
		s, scale = s[:len(s)-1], 100
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f/scale < 0 || f/scale > 1 {
		return 0, in.errAt(st, t, "probability %q: want 0%% to 100%% (or 0 to 1)", t.text)
	}
	return f / scale, nil
}
