package netem

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TCError is a tc-netem syntax error at one word (0-based) of the input.
type TCError struct {
	Word int
	Msg  string
}

func (e *TCError) Error() string { return e.Msg }

// ParseTC reads what one would type after `tc qdisc add dev eth0 root
// netem` (tc-netem(8)) into a Path:
//
//	[limit PACKETS] [delay TIME [JITTER [CORRELATION]] [distribution NAME]]
//	[loss [random] PERCENT [CORRELATION] | loss state P13 [P31 [P32 [P23 [P14]]]]
//	      | loss gemodel P [R [1-H [1-K]]]]
//	[corrupt PERCENT [CORRELATION]] [duplicate PERCENT [CORRELATION]]
//	[reorder PERCENT [CORRELATION] [gap DISTANCE]]
//	[rate RATE [PACKETOVERHEAD [CELLSIZE [CELLOVERHEAD]]]]
//	[slot MIN [MAX] [packets N] [bytes N]]
//
// As in tc, a TIME without a unit is in microseconds, a PERCENT may omit
// its "%", and a RATE without a unit is in bits per second. Defaults follow
// iproute2: gemodel R = 1-P, 1-H = 100%, 1-K = 0; state P31 = 1-P13,
// P32 = 0, P23 = 100%, P14 = 0.
func ParseTC(words []string) (Path, error) {
	var p Path
	i := 0
	fail := func(at int, format string, args ...any) error {
		return &TCError{Word: at, Msg: fmt.Sprintf(format, args...)}
	}
	has := func() bool { return i < len(words) }
	isNum := func() bool {
		if !has() {
			return false
		}
		_, err := strconv.ParseFloat(strings.TrimSuffix(words[i], "%"), 64)
		return err == nil
	}
	isTime := func() bool {
		if !has() {
			return false
		}
		_, ok := tcTime(words[i])
		return ok
	}
	timeArg := func(what string) (time.Duration, error) {
		if !has() {
			return 0, fail(i, "%s needs a time such as 100ms", what)
		}
		d, ok := tcTime(words[i])
		if !ok || d < 0 {
			return 0, fail(i, "%s %q: want a time >= 0 such as 100ms, 1.5s or 250us", what, words[i])
		}
		i++
		return d, nil
	}
	percent := func(what string) (float64, error) {
		if !has() {
			return 0, fail(i, "%s needs a percentage such as 1%%", what)
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(words[i], "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return 0, fail(i, "%s %q: want a percentage from 0%% to 100%%", what, words[i])
		}
		i++
		return v / 100, nil
	}
	intArg := func(what string) (int, error) {
		if !has() {
			return 0, fail(i, "%s needs a number", what)
		}
		n, err := strconv.Atoi(words[i])
		if err != nil || n < 0 {
			return 0, fail(i, "%s %q: want a whole number >= 0", what, words[i])
		}
		i++
		return n, nil
	}
	seen := map[string]bool{} // membership only
	for has() {
		kw := words[i]
		at := i
		if seen[kw] {
			return p, fail(at, "%s given twice", kw)
		}
		seen[kw] = true
		i++
		var err error
		switch kw {
		case "limit":
			if p.Limit, err = intArg("limit"); err == nil && p.Limit == 0 {
				err = fail(i-1, "limit 0: want at least 1 packet")
			}
		case "delay":
			if p.Delay, err = timeArg("delay"); err != nil {
				break
			}
			if isTime() {
				if p.Jitter, err = timeArg("jitter"); err != nil {
					break
				}
				if isNum() {
					p.DelayCorr, err = percent("delay correlation")
				}
			}
			if err == nil && has() && words[i] == "distribution" {
				i++
				if !has() {
					err = fail(i, "distribution needs a name: uniform, normal, pareto or paretonormal")
					break
				}
				switch words[i] {
				case "uniform":
					p.Dist = Uniform
				case "normal":
					p.Dist = Normal
				case "pareto":
					p.Dist = Pareto
				case "paretonormal":
					p.Dist = ParetoNormal
				default:
					err = fail(i, "distribution %q: want uniform, normal, pareto or paretonormal", words[i])
				}
				i++
			}
		case "loss":
			switch {
			case has() && words[i] == "state":
				i++
				f := FourState{P23: 1}
				if f.P13, err = percent("state p13"); err != nil {
					break
				}
				f.P31 = 1 - f.P13
				for _, x := range []struct {
					name string
					dst  *float64
				}{{"p31", &f.P31}, {"p32", &f.P32}, {"p23", &f.P23}, {"p14", &f.P14}} {
					if !isNum() {
						break
					}
					if *x.dst, err = percent("state " + x.name); err != nil {
						break
					}
				}
				p.FourState = &f
			case has() && words[i] == "gemodel":
				i++
				g := GilbertElliott{LossBad: 1}
				if g.P, err = percent("gemodel p"); err != nil {
					break
				}
				g.R = 1 - g.P
				for _, x := range []struct {
					name string
					dst  *float64
				}{{"r", &g.R}, {"1-h", &g.LossBad}, {"1-k", &g.LossGood}} {
					if !isNum() {
						break
					}
					if *x.dst, err = percent("gemodel " + x.name); err != nil {
						break
					}
				}
				p.GE = &g
			default:
				if has() && words[i] == "random" {
					i++
				}
				if p.Loss, err = percent("loss"); err == nil && isNum() {
					p.LossCorr, err = percent("loss correlation")
				}
			}
			if err == nil && has() && words[i] == "ecn" {
				err = fail(i, "ecn: tcpsim's links do not mark ECN; drop the word")
			}
		case "corrupt":
			if p.Corrupt, err = percent("corrupt"); err == nil && isNum() {
				p.CorruptCorr, err = percent("corrupt correlation")
			}
		case "duplicate":
			if p.Duplicate, err = percent("duplicate"); err == nil && isNum() {
				p.DuplicateCorr, err = percent("duplicate correlation")
			}
		case "reorder":
			if p.Reorder, err = percent("reorder"); err == nil && isNum() {
				p.ReorderCorr, err = percent("reorder correlation")
			}
			if err == nil && has() && words[i] == "gap" {
				i++
				if p.Gap, err = intArg("gap"); err == nil && p.Gap == 0 {
					err = fail(i-1, "gap 0: want at least 1")
				}
			}
			if err == nil && p.Gap == 0 {
				p.Gap = 1
			}
		case "rate":
			if !has() {
				err = fail(i, "rate needs a rate such as 1mbit")
				break
			}
			r, ok := tcRate(words[i])
			if !ok || r <= 0 {
				err = fail(i, "rate %q: want a rate > 0 such as 100kbit, 1mbit or 125kbps", words[i])
				break
			}
			p.Rate = r
			i++
			for _, dst := range []*int{&p.Overhead, &p.CellSize, &p.CellOverhead} {
				if !isNum() {
					break
				}
				n, cerr := strconv.Atoi(words[i])
				if cerr != nil {
					err = fail(i, "%q: want a whole number of bytes", words[i])
					break
				}
				*dst = n
				i++
			}
		case "slot":
			s := Slot{}
			if s.Min, err = timeArg("slot min"); err != nil {
				break
			}
			s.Max = s.Min
			if isTime() {
				if s.Max, err = timeArg("slot max"); err != nil {
					break
				}
			}
			for err == nil && has() && (words[i] == "packets" || words[i] == "bytes") {
				w := words[i]
				i++
				if w == "packets" {
					s.Packets, err = intArg("slot packets")
				} else {
					s.Bytes, err = intArg("slot bytes")
				}
			}
			p.Slot = &s
		default:
			err = fail(at, "unknown netem word %q: want limit, delay, loss, corrupt, duplicate, reorder, rate or slot", kw)
		}
		if err != nil {
			return p, err
		}
	}
	if errs := p.check("netem"); len(errs) > 0 {
		return p, &TCError{Word: 0, Msg: strings.TrimPrefix(errs[0].Error(), "netem: netem: ")}
	}
	return p, nil
}

// tcTime reads a tc time: a number with s, ms, us (usec) or ns, or a bare
// number of microseconds.
func tcTime(s string) (time.Duration, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Microsecond)), true
	}
	s = strings.Replace(strings.Replace(s, "usec", "us", 1), "msec", "ms", 1)
	s = strings.Replace(s, "sec", "s", 1)
	d, err := time.ParseDuration(s)
	return d, err == nil
}

// tcRate reads a tc rate into bytes per second.
func tcRate(s string) (float64, bool) {
	units := []struct {
		suffix string
		bytes  float64
	}{
		{"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"gibit", (1 << 30) / 8.0}, {"mibit", (1 << 20) / 8.0},
		{"kibit", 1024 / 8.0}, {"bit", 1.0 / 8}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
	}
	ls := strings.ToLower(s)
	for _, u := range units {
		if strings.HasSuffix(ls, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(ls, u.suffix), 64)
			return f * u.bytes, err == nil
		}
	}
	f, err := strconv.ParseFloat(ls, 64)
	return f / 8, err == nil
}
