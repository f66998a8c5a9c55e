package scenarios

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file holds the expectations about packets: counts and fields.

// expectPackets: N packet(s) MATCH (see pktMatch), among the packets sent
// before the statement.
func (in *interp) expectPackets(st stmt, args []token) (func() (bool, string), error) {
	if err := in.needRecords(st, args[0], "expect"); err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(args[0].text)
	if len(args) < 3 || (args[1].text != "packet" && args[1].text != "packets") {
		return nil, in.errEnd(st, "want expect N packets FROM>TO [FLAG...] [exact] [pure-ack|data|no-data] [FATE] [retransmitted] [since T]")
	}
	m, err := in.parseMatch(st, args[2:])
	if err != nil {
		return nil, err
	}
	upto := in.w.PacketCount() // the packets before this statement
	return func() (bool, string) {
		rows, err := in.matchRows(m, upto)
		if err != nil {
			return false, err.Error()
		}
		if len(rows) == 0 {
			return n == 0, "none"
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, fmt.Sprintf("#%d", r.ID))
		}
		return len(rows) == n, fmt.Sprintf("%d: %s", len(rows), strings.Join(ids, " "))
	}, nil
}

// compareOps are the comparisons of expect #REF.FIELD OP VALUE.
var compareOps = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true} // lookups only

// expectField: #REF.FIELD OP RIGHT [+|- N], where OP is = != < <= > >=
// and RIGHT is #REF.FIELD, a number, an address or a host (src, dst),
// flags ([R.] or RST|ACK) or a time (sent, arrived). seq, ack, tsval and
// tsecr are compared in sequence space, with arithmetic modulo 2^32;
// flags only with = and !=, exactly.
func (in *interp) expectField(st stmt, args []token) (func() (bool, string), error) {
	usage := "want expect #N.FIELD OP #M.FIELD [+|- N], or OP a value (OP: = != < <= > >=)"
	if len(args) != 3 && len(args) != 5 {
		return nil, in.errEnd(st, "%s", usage)
	}
	left, err := in.parseField(st, args[0])
	if err != nil {
		return nil, err
	}
	op := args[1].text
	if !compareOps[op] {
		return nil, in.errAt(st, args[1], "operator %q: %s", op, usage)
	}
	if left.kind == kindFlags || left.kind == kindAddr {
		if op != "=" && op != "!=" {
			return nil, in.errAt(st, args[1], "%s compares only with = or !=", left.field)
		}
	}
	var off int64 // added to the right side: a number, or nanoseconds
	right := args[2]
	rightText := right.text
	if len(args) == 5 {
		sign := args[3].text
		if sign != "+" && sign != "-" {
			return nil, in.errAt(st, args[3], "%q: want + or - and an offset", sign)
		}
		if left.kind == kindTime {
			d, err := in.duration(st, args[4], "offset")
			if err != nil {
				return nil, err
			}
			off = int64(d)
		} else {
			n, err := strconv.ParseInt(args[4].text, 10, 64)
			if err != nil || n < 0 || n > 1<<32 {
				return nil, in.errAt(st, args[4], "%q: want a number from 0 to 4294967296 after %s", args[4].text, sign)
			}
			off = n
		}
		if left.kind == kindFlags || left.kind == kindAddr {
			return nil, in.errAt(st, args[3], "%s takes no arithmetic", left.field)
		}
		if sign == "-" {
			off = -off
		}
		rightText += " " + sign + " " + args[4].text
	}
	upto := in.w.PacketCount()
	var b func() (uint64, error)
	if strings.HasPrefix(right.text, "#") {
		rf, err := in.parseField(st, right)
		if err != nil {
			return nil, err
		}
		if rf.kind != left.kind {
			return nil, in.errAt(st, right, "%s and %s are different kinds of field", left.src, rf.src)
		}
		b = func() (uint64, error) { return in.fieldValue(rf, upto) }
	} else {
		v, err := in.fieldConst(st, left, right)
		if err != nil {
			return nil, err
		}
		b = func() (uint64, error) { return v, nil }
	}
	return func() (bool, string) {
		x, err1 := in.fieldValue(left, upto)
		y, err2 := b()
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(errors.Join(err1, err2))
		}
		y = uint64(int64(y) + off)
		if left.kind == kindSeq {
			y = uint64(uint32(y))
		}
		ok := compareField(left.kind, op, x, y)
		return ok, fmt.Sprintf("%s is %s, %s is %s", left.src, valueText(left.kind, x), rightText, valueText(left.kind, y))
	}, nil
}

// fieldConst reads the constant a field is compared with.
func (in *interp) fieldConst(st stmt, left fieldRef, t token) (uint64, error) {
	switch left.kind {
	case kindAddr:
		ip, ok := in.addrOf(t.text)
		if !ok {
			return 0, in.errAt(st, t, "%q: want #M.src, #M.dst, an IPv4 address, or a host or NAT of this notebook (%s)", t.text, in.nodeNames())
		}
		return uint64(addrNum(ip)), nil
	case kindFlags:
		f, err := parseFlagsValue(t.text)
		if err != nil {
			return 0, in.errAt(st, t, "%v: want flags as tcpdump prints them ([S.], [R], [F.]) or names (RST|ACK)", err)
		}
		return uint64(f), nil
	case kindTime:
		te, err := in.parseTime(st, t)
		if err != nil {
			return 0, err
		}
		if te.rel || te.ref.src != "" {
			return 0, in.errAt(st, t, "%q: want a time from the start (1.5s) or #M.sent / #M.arrived", t.text)
		}
		return uint64(te.off), nil
	}
	v, err := strconv.ParseUint(t.text, 10, 64)
	if err != nil || (left.kind == kindSeq && v > 1<<32-1) {
		return 0, in.errAt(st, t, "%q: want #M.FIELD or a whole number", t.text)
	}
	return v, nil
}

// compareField applies op; seq-space values compare as RFC 9293's
// modular arithmetic has it (a < b when b is less than 2^31 ahead of a).
func compareField(kind int, op string, x, y uint64) bool {
	c := 0
	switch {
	case kind == kindSeq:
		d := int32(uint32(x) - uint32(y))
		if d < 0 {
			c = -1
		} else if d > 0 {
			c = 1
		}
	case x < y:
		c = -1
	case x > y:
		c = 1
	}
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0
}
