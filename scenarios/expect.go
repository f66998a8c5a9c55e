package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
	"github.com/tcpsim/tcpsim/trace"
)

// expectation is one expect statement: where it stands, what it says, and
// how to judge it once the notebook has run.
type expectation struct {
	file      string
	line, col int
	src       string
	eval      func() (bool, string)
	// missing, when set, reports a subject that never existed in the run:
	// the expectation is malformed, not false.
	missing func() string
	ok      bool
	detail  string
}

// Pos returns FILE:LINE:COL.
func (e *expectation) Pos() string { return fmt.Sprintf("%s:%d:%d", e.file, e.line, e.col) }

// cmdExpect records an expectation.
func (in *interp) cmdExpect(st stmt, args []token) error {
	e := &expectation{file: in.file, line: st.line, col: st.toks[0].col, src: strings.Join(srcTexts(st.toks), " ")}
	var err error
	switch {
	case len(args) == 0:
		return in.errEnd(st, "expect what? want a state, packets, an error or bytes (see docs/notebooks.md)")
	case isNumber(args[0].text):
		e.eval, err = in.expectPackets(st, args)
	case strings.HasPrefix(args[0].text, "#"):
		e.eval, err = in.expectField(st, args)
	case args[0].text == "connect" || args[0].text == "listen":
		e.eval, err = in.expectCallError(st, args)
	case args[0].text == "bytes":
		e.eval, err = in.expectBytesIn(st, args)
	case args[0].text == "workload":
		e.eval, err = in.expectWorkload(st, args)
	default:
		e.eval, err = in.expectSubject(st, args)
	}
	if err != nil {
		return err
	}
	e.missing, in.pending = in.pending, nil
	in.expects = append(in.expects, e)
	in.parts = append(in.parts, part{exp: e})
	return nil
}

func srcTexts(ts []token) []string {
	var out []string
	for _, t := range ts {
		if t.quoted {
			k, v, ok := strings.Cut(t.text, "=")
			if ok && !strings.ContainsAny(k, " \"") && t.text != v {
				out = append(out, k+"="+strconv.Quote(v))
				continue
			}
			out = append(out, strconv.Quote(t.text))
			continue
		}
		out = append(out, t.text)
	}
	return out
}

func isNumber(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// expectSubject: SUBJ [never] STATE [at T | by T | from T to T | until T |
// for D | count N [at T]], SUBJ error ERRNO|none, SUBJ received "..."
func (in *interp) expectSubject(st stmt, args []token) (func() (bool, string), error) {
	subj, rest, err := in.subject(st, args)
	if err != nil {
		return nil, err
	}
	f, err := in.expectAbout(st, subj, rest)
	if err != nil || subj.sock == nil || !subj.sock.awaited {
		return f, err
	}
	// A listener's connection that was not accepted when the expectation
	// was written: the claim is judged against it if it was accepted by the
	// end of the run, and says so if it never was.
	sk, lk := subj.sock, in.socks[subj.sock.listenerName]
	return func() (bool, string) {
		ok, detail := f()
		if sk.awaited {
			return ok, fmt.Sprintf("%s was never accepted (%s accepted %d connections); %s", sk.name, lk.name, lk.naccept, detail)
		}
		return ok, detail
	}, nil
}

// expectAbout is expectSubject once the subject is read.
func (in *interp) expectAbout(st stmt, subj subject, rest []token) (func() (bool, string), error) {
	if subj.host != nil && (subj.local.IsValid() || subj.remote.IsValid()) {
		in.pending = func() string {
			if len(in.history(subj)) == 0 {
				return fmt.Sprintf("no endpoint of %s ever had the tuple %s: want addresses of this run's connections (see states)", subj.host.Name(), strings.TrimPrefix(subj.desc(), subj.host.Name()+" "))
			}
			return ""
		}
	}
	now := in.w.Now()
	if len(rest) == 0 {
		return nil, in.errEnd(st, "expect %s what? want a state, error ERRNO or received \"...\"", subj.desc())
	}
	if subj.host != nil && strings.HasPrefix(rest[0].text, "Tcp") {
		return in.expectCounter(st, subj.host, rest)
	}
	if subj.host != nil && rest[0].text == "log" {
		return in.expectLog(st, subj.host, rest)
	}
	switch rest[0].text {
	case "error":
		if subj.sock == nil || len(rest) != 2 {
			return nil, in.errAt(st, rest[0], "want expect SOCK error ERRNO (or none)")
		}
		want, sk := rest[1].text, subj.sock
		return func() (bool, string) {
			got := sim.Errno(sk.s.Err())
			if got == "" {
				got = "none"
			}
			return got == want, fmt.Sprintf("%s error: %s", sk.name, errText(sk.s.Err()))
		}, nil
	case "received":
		if subj.sock != nil && len(rest) == 3 && rest[2].text == "bytes" && !rest[1].quoted {
			n, err := in.count(st, rest[1], "received")
			if err != nil {
				return nil, err
			}
			sk := subj.sock
			return func() (bool, string) {
				got := len(sk.s.Received())
				return got == n, fmt.Sprintf("%s received %d bytes", sk.name, got)
			}, nil
		}
		if subj.sock == nil || len(rest) != 2 || !rest[1].quoted {
			return nil, in.errAt(st, rest[0], `want expect SOCK received "bytes", or expect SOCK received N bytes`)
		}
		want, sk := rest[1].text, subj.sock
		return func() (bool, string) {
			got := sk.s.Received()
			return string(got) == want, fmt.Sprintf("%s received %q", sk.name, got)
		}, nil
	}
	never := rest[0].text == "never"
	if never {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return nil, in.errEnd(st, "want a state after %s", subj.desc())
	}
	state, err := sim.ParseState(rest[0].text)
	if err != nil {
		return nil, in.errAt(st, rest[0], "%v", err)
	}
	if len(rest) == 1 || rest[1].text != "count" {
		// Every claim but a count reads the subject's transitions (a
		// count says below what it needs).
		if err := in.needRecords(st, rest[0], "expect"); err != nil {
			return nil, err
		}
	}
	rest = rest[1:]
	// A claim about now speaks of the instant before this statement: the
	// transitions observed so far, not those a later statement at the
	// same virtual time causes.
	mark := in.w.TransitionCount()
	if never {
		if len(rest) != 0 {
			return nil, in.errAt(st, rest[0], "expect ... never STATE takes nothing after the state")
		}
		return func() (bool, string) {
			h := in.historyTo(subj, mark)
			for _, sp := range spans(h, state) {
				if sp.in <= now {
					return false, fmt.Sprintf("%s entered %v at %s", subj.desc(), state, trace.Seconds(sp.in))
				}
			}
			return true, fmt.Sprintf("%s so far: %s", subj.desc(), describe(upTo(h, now)))
		}, nil
	}
	timeArg := func(i int) (timeExpr, error) {
		if i >= len(rest) {
			return timeExpr{}, in.errEnd(st, "want a time after %q", rest[i-1].text)
		}
		return in.parseTime(st, rest[i])
	}
	resolve := func(te timeExpr) (time.Duration, string) {
		t, err := in.evalTime(te, now)
		if err != nil {
			return 0, err.Error()
		}
		return t, ""
	}
	if len(rest) == 0 {
		return func() (bool, string) {
			h := in.historyTo(subj, mark)
			return hasState(stateAt(h, now), state), fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(now), statesText(stateAt(h, now)))
		}, nil
	}
	switch kw := rest[0].text; kw {
	case "at", "by", "until":
		te, err := timeArg(1)
		if err != nil {
			return nil, err
		}
		if len(rest) != 2 {
			return nil, in.errAt(st, rest[2], "unexpected %q after the time", rest[2].text)
		}
		return func() (bool, string) {
			t, bad := resolve(te)
			if bad != "" {
				return false, bad
			}
			h := in.history(subj)
			tol := in.tolerance(subj, state, te.timer)
			if t > in.w.Now()+tol {
				return false, fmt.Sprintf("the run ended at %s, before %s", trace.Seconds(in.w.Now()), trace.Seconds(t))
			}
			switch kw {
			case "at":
				got := stateAt(h, t)
				if !hasState(got, state) && tol > 0 {
					// Kernel mode: in the state at some instant within
					// the tolerance.
					for _, sp := range spans(h, state) {
						if sp.in <= t+tol && (sp.out < 0 || sp.out >= t-tol) {
							return true, fmt.Sprintf("%s %v %s, within %s of %s", subj.desc(), state, spanText(sp), tolText(tol), trace.Seconds(t))
						}
					}
				}
				return hasState(got, state), fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(t), statesText(got))
			case "by":
				// Reached by T: a stay in the state began at or before T.
				for _, sp := range spans(h, state) {
					if sp.in <= t+tol {
						return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spanText(sp))
					}
				}
				if state == sim.Closed && hasState(stateAt(h, t), state) {
					return true, fmt.Sprintf("%s at %s: %v", subj.desc(), trace.Seconds(t), statesText(stateAt(h, t)))
				}
				return false, fmt.Sprintf("%s: %s; want %v by %s", subj.desc(), describe(h), state, trace.Seconds(t))
			default: // until
				sps := spans(h, state)
				for _, sp := range sps {
					if sp.out >= 0 && near(sp.out, t, tol) {
						return true, fmt.Sprintf("%s %v %s%s", subj.desc(), state, spanText(sp), offText(sp.out, t, tol))
					}
				}
				return false, fmt.Sprintf("%s %v: %s; want it to end at %s%s", subj.desc(), state, spansText(sps), trace.Seconds(t), tolWant(tol))
			}
		}, nil
	case "from":
		te1, err := timeArg(1)
		if err != nil {
			return nil, err
		}
		if len(rest) < 3 || rest[2].text != "to" {
			return nil, in.errEnd(st, "want from T to T")
		}
		te2, err := timeArg(3)
		if err != nil {
			return nil, err
		}
		return func() (bool, string) {
			t1, bad := resolve(te1)
			t2, bad2 := resolve(te2)
			if bad+bad2 != "" {
				return false, bad + bad2
			}
			sps := spans(in.history(subj), state)
			tol1, tol2 := in.tolerance(subj, state, te1.timer), in.tolerance(subj, state, te2.timer)
			if !in.cfg.Kernel {
				tol1 = 0 // a packet starts a stay in the simulator: exact
			}
			for _, sp := range sps {
				if near(sp.in, t1, tol1) && sp.out >= 0 && near(sp.out, t2, tol2) {
					return true, fmt.Sprintf("%s %v %s%s", subj.desc(), state, spanText(sp), offText(sp.out, t2, tol2))
				}
			}
			return false, fmt.Sprintf("%s %v: %s; want from %s to %s%s", subj.desc(), state, spansText(sps), trace.Seconds(t1), trace.Seconds(t2), tolWant(tol2))
		}, nil
	case "for":
		if len(rest) != 2 {
			return nil, in.errEnd(st, "want for D, e.g. for 60s")
		}
		d, err := in.duration(st, rest[1], "for")
		if err != nil {
			return nil, err
		}
		return func() (bool, string) {
			sps := spans(in.history(subj), state)
			done := 0
			tol := in.tolerance(subj, state, d)
			for _, sp := range sps {
				if sp.out < 0 {
					continue
				}
				done++
				if !near(sp.out-sp.in, d, tol) {
					return false, fmt.Sprintf("%s %v %s; want every stay to last %v%s", subj.desc(), state, spanText(sp), d, tolWant(tol))
				}
			}
			if done == 0 {
				return false, fmt.Sprintf("%s %v: %s; want a finished stay of %v", subj.desc(), state, spansText(sps), d)
			}
			return true, fmt.Sprintf("%s %v %s", subj.desc(), state, spansText(sps))
		}, nil
	case "count":
		if len(rest) != 2 && (len(rest) != 4 || rest[2].text != "at") {
			return nil, in.errEnd(st, "want count N [at T]")
		}
		n, err := in.count(st, rest[1], "count")
		if err != nil {
			return nil, err
		}
		if in.noRecords {
			// records none: the host's endpoints in the state now, counted
			// live (the observer is up to date between statements).
			if subj.sock != nil || subj.local.IsValid() || subj.remote.IsValid() {
				return nil, in.errAt(st, rest[0], "count of %s needs the run's transitions, and records none keeps none: want a host alone (expect HOST STATE count N)", subj.desc())
			}
			if len(rest) == 4 {
				return nil, in.errAt(st, rest[2], "count at a time needs the run's transitions, and records none keeps none: want the count now (expect HOST STATE count N, after a run to that time)")
			}
			got, at := subj.host.StateCount(state), in.w.Now()
			return func() (bool, string) {
				return got == n, fmt.Sprintf("%d endpoints of %s in %v at %s", got, subj.desc(), state, trace.Seconds(at))
			}, nil
		}
		te := timeExpr{rel: true}
		if len(rest) == 4 {
			if te, err = in.parseTime(st, rest[3]); err != nil {
				return nil, err
			}
		}
		return func() (bool, string) {
			t, bad := resolve(te)
			if bad != "" {
				return false, bad
			}
			h := in.history(subj)
			if len(rest) == 2 { // no time: now, before the next statement
				h = in.historyTo(subj, mark)
			}
			got := 0
			for _, s := range stateAt(h, t) {
				if s == state {
					got++
				}
			}
			return got == n, fmt.Sprintf("%d endpoints of %s in %v at %s", got, subj.desc(), state, trace.Seconds(t))
		}, nil
	}
	return nil, in.errAt(st, rest[0], "unexpected %q: want at T, by T, from T to T, until T, for D or count N", rest[0].text)
}

// tolerance is how far from a stated time the run may be, when the time
// is the end of a timer of length timer (timeExpr.timer). A kernel (kernel
// mode) is judged within the latency of observing it plus the timer-wheel
// slack of such a timer (kernel.Tolerance). In the simulator a
// linux-profile host is judged within the slack alone where a wheel timer
// decides the time: a stay in TIME-WAIT or FIN-WAIT-2 (the timewait
// socket's timer, an orphan's keepalive timer), or entering CLOSED when
// one ends; its kernel timers fire on the wheel's tick as the kernel's do
// (timewait.TimerDue) and are observed exactly. Anything else is exact.
//
// An orphan whose tcp_fin_timeout passes TIME-WAIT's 60 s stays in
// FIN-WAIT-2 on two timers in turn, the keepalive timer and then the
// timewait socket's, each of tcp_fin_timeout − 60 s and each rounded by
// the wheel (docs/knobs.md): twice that slack.
func (in *interp) tolerance(subj subject, state sim.State, timer time.Duration) time.Duration {
	h := subj.hostOf()
	hz := timewait.HZ
	if in.cfg.Kernel {
		hz, _ = kernel.HZ()
	}
	timers := time.Duration(1)
	if h != nil && state == sim.FinWait2 {
		if tmo := h.Options().FinTimeout; tmo > timeWaitLen {
			timer, timers = tmo-timeWaitLen, 2
		}
	}
	slack := timers * kernel.TimerSlack(timer, hz)
	switch {
	case in.cfg.Kernel:
		return kernel.Latency + slack
	case h != nil && h.Options().Profile == sim.Linux && (state == sim.TimeWait || state == sim.FinWait2 || state == sim.Closed):
		return slack
	}
	return 0
}

// near reports whether got is within tol of want.
func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

func tolText(tol time.Duration) string { return "±" + trace.Seconds(tol) + "s" }

// tolWant says the tolerance after a wanted time, when there is one.
func tolWant(tol time.Duration) string {
	if tol == 0 {
		return ""
	}
	return " " + tolText(tol)
}

// offText says how far a time within the tolerance was from the wanted
// one.
func offText(got, want, tol time.Duration) string {
	if tol == 0 || got == want {
		return ""
	}
	return fmt.Sprintf(", %+.3fs from %s (tolerance %s)", (got - want).Seconds(), trace.Seconds(want), tolText(tol))
}
