package scenarios

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// This file holds the expectations about calls, bytes, counters, logs and
// workloads.

// expectCallError: connect|listen error ERRNO, or connect|listen ok.
func (in *interp) expectCallError(st stmt, args []token) (func() (bool, string), error) {
	op := args[0].text
	if len(args) == 2 && args[1].text == "ok" {
		args = append(args[:1], token{text: "error"}, token{text: "none"})
	}
	if len(args) != 3 || args[1].text != "error" {
		return nil, in.errEnd(st, "want expect %s error ERRNO, or expect %s ok", op, op)
	}
	if in.last.op != op {
		return nil, in.errAt(st, args[0], "no %s before this expectation", op)
	}
	got, want := in.last.err, args[2].text
	return func() (bool, string) {
		name := sim.Errno(got)
		if name == "" {
			name = "none"
		}
		return name == want, fmt.Sprintf("last %s: %s", op, errText(got))
	}, nil
}

// expectBytesIn: bytes "..." in HOST stream.
func (in *interp) expectBytesIn(st stmt, args []token) (func() (bool, string), error) {
	if len(args) != 5 || !args[1].quoted || args[2].text != "in" || args[4].text != "stream" {
		return nil, in.errEnd(st, `want expect bytes "..." in HOST stream`)
	}
	h, err := in.host(st, args[3])
	if err != nil {
		return nil, err
	}
	if in.noRecords {
		return nil, in.errAt(st, args[4], "a stream expectation reads what every connection of %s received, and `records none` (line %d) lets go of accepted connections once their sockets are gone: remove records none, or expect bytes of a named socket", h.Name(), in.recordsAt)
	}
	want := []byte(args[1].text)
	return func() (bool, string) {
		var where []string
		for _, sk := range in.order {
			if sk.host == h && bytes.Contains(sk.s.Received(), want) {
				where = append(where, sk.name)
			}
		}
		if len(where) == 0 {
			return false, fmt.Sprintf("no socket of %s received %q", h.Name(), want)
		}
		return true, fmt.Sprintf("received by %s", strings.Join(where, ", "))
	}, nil
}

// compare reads OP N (=, !=, <, <=, >, >=) and returns the test.
func (in *interp) compare(st stmt, toks []token) (func(uint64) bool, string, error) {
	if len(toks) != 2 {
		return nil, "", in.errEnd(st, "want an operator and a number, e.g. = 3 or >= 1")
	}
	n, err := strconv.ParseUint(toks[1].text, 10, 64)
	if err != nil {
		return nil, "", in.errAt(st, toks[1], "%q: want a whole number >= 0", toks[1].text)
	}
	ops := map[string]func(uint64) bool{ // lookups only
		"=": func(v uint64) bool { return v == n }, "==": func(v uint64) bool { return v == n },
		"!=": func(v uint64) bool { return v != n }, "<": func(v uint64) bool { return v < n },
		"<=": func(v uint64) bool { return v <= n }, ">": func(v uint64) bool { return v > n },
		">=": func(v uint64) bool { return v >= n },
	}
	f, ok := ops[toks[0].text]
	if !ok {
		return nil, "", in.errAt(st, toks[0], "operator %q: want =, !=, <, <=, > or >=", toks[0].text)
	}
	return f, toks[0].text + " " + toks[1].text, nil
}

// expectCounter: HOST COUNTER OP N, judged on the counter's value now.
func (in *interp) expectCounter(st stmt, h *sim.Host, rest []token) (func() (bool, string), error) {
	v, ok := h.CounterValue(rest[0].text)
	if !ok {
		var names []string
		for _, c := range h.Counters() {
			names = append(names, c.Name)
		}
		return nil, in.errAt(st, rest[0], "unknown counter %q: want one of %s", rest[0].text, strings.Join(names, ", "))
	}
	test, _, err := in.compare(st, rest[1:])
	if err != nil {
		return nil, err
	}
	name, now := rest[0].text, in.w.Now()
	return func() (bool, string) {
		return test(v), fmt.Sprintf("%s %s = %d at %s", h.Name(), name, v, trace.Seconds(now))
	}, nil
}

// expectLog: HOST log "text" OP N counts kernel log lines with the text so
// far.
func (in *interp) expectLog(st stmt, h *sim.Host, rest []token) (func() (bool, string), error) {
	if len(rest) != 4 || !rest[1].quoted {
		return nil, in.errEnd(st, `want expect HOST log "text" OP N`)
	}
	test, _, err := in.compare(st, rest[2:])
	if err != nil {
		return nil, err
	}
	n := uint64(0)
	for _, l := range h.Log() {
		if strings.Contains(l.Text, rest[1].text) {
			n++
		}
	}
	text := rest[1].text
	return func() (bool, string) {
		return test(n), fmt.Sprintf("%d lines of %s's log contain %q", n, h.Name(), text)
	}, nil
}

// expectWorkload: workload done OP N, or workload ERRNO OP N, about the
// last workload, as it stands now.
func (in *interp) expectWorkload(st stmt, args []token) (func() (bool, string), error) {
	if len(in.workloads) == 0 {
		return nil, in.errAt(st, args[0], "no workload before this expectation")
	}
	if len(args) != 4 {
		return nil, in.errEnd(st, "want expect workload done OP N, or expect workload ERRNO OP N")
	}
	test, _, err := in.compare(st, args[2:])
	if err != nil {
		return nil, err
	}
	wl, idx := in.workloads[len(in.workloads)-1], len(in.workloads)
	what := args[1].text
	var got uint64
	if what == "done" {
		got = uint64(wl.done())
	} else {
		got = uint64(wl.errs()[what])
	}
	return func() (bool, string) {
		if what == "done" {
			return test(got), fmt.Sprintf("workload %d: %d answered", idx, got)
		}
		return test(got), fmt.Sprintf("workload %d: %d %s", idx, got, what)
	}, nil
}

func errText(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
