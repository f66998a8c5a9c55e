package scenarios

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/trace"
)

// This file holds the expectations about packets: counts and fields.

// expectPackets: N packet(s) DIR [FLAG...] [pure-ack|data|no-data]
// [delivered|dropped|held|duplicated|injected] [retransmitted].
func (in *interp) expectPackets(st stmt, args []token) (func() (bool, string), error) {
	n, _ := strconv.Atoi(args[0].text)
	if len(args) < 3 || (args[1].text != "packet" && args[1].text != "packets") {
		return nil, in.errEnd(st, "want expect N packets FROM>TO [FLAG...] [pure-ack|data|no-data] [FATE] [retransmitted]")
	}
	_, fromNode, toNode, err := in.linkDir(st, args[2])
	if err != nil {
		return nil, err
	}
	from, to := fromNode.Name(), toNode.Name()
	var flags netem.Flags
	exact, payload, fate, retrans, discarded := false, netem.AnyPayload, "", false, false
	since := timeExpr{}
	rest := args[3:]
	if k := len(rest); k >= 2 && rest[k-2].text == "since" {
		var err error
		if since, err = in.parseTime(st, rest[k-1]); err != nil {
			return nil, err
		}
		rest = rest[:k-2]
	}
	now, sent := in.w.Now(), in.w.PacketCount() // the packets before this statement
	for _, t := range rest {
		switch t.text {
		case "pure-ack":
			flags, exact, payload = netem.ACK, true, netem.NoPayload
		case "data":
			payload = netem.WithPayload
		case "no-data":
			payload = netem.NoPayload
		case "delivered", "dropped", "held", "duplicated", "injected":
			fate = t.text
		case "retransmitted":
			retrans = true
		case "discarded":
			discarded = true
		default:
			f, err := netem.ParseFlags(t.text)
			if err != nil {
				return nil, in.errAt(st, t, "%v, or pure-ack, data, no-data, a fate (delivered, dropped, held, duplicated, injected), discarded or retransmitted", err)
			}
			flags |= f
		}
	}
	return func() (bool, string) {
		from0, err := in.evalTime(since, now)
		if err != nil {
			return false, err.Error()
		}
		// A retransmission repeats a segment of the same incarnation of its
		// tuple. A new incarnation starts at a SYN that does not follow
		// another SYN on the tuple (its ISN may even equal the old one).
		type pair [2]netip.AddrPort
		type key struct {
			src, dst netip.AddrPort
			inc      int
			seq      uint32
			f        netem.Flags
			n        int
		}
		seen := map[key]bool{}     // membership only
		inc := map[pair]int{}      // lookups only
		lastSYN := map[pair]bool{} // lookups only
		var ids []string
		for _, r := range trace.Rows(in.w.Packets()) {
			if !r.TCP || r.Fate == netem.Duplicated {
				continue
			}
			t := pair{r.H.Src, r.H.Dst}
			if t[1].Compare(t[0]) < 0 {
				t[0], t[1] = t[1], t[0]
			}
			syn := r.H.Flags&netem.SYN != 0 && r.H.Flags&netem.ACK == 0
			if syn && !lastSYN[t] {
				inc[t]++
			}
			lastSYN[t] = syn
			k := key{r.H.Src, r.H.Dst, inc[t], r.H.Seq, r.H.Flags & (netem.SYN | netem.FIN | netem.RST), r.H.PayloadLen}
			again := seen[k] && (k.f != 0 || k.n > 0)
			seen[k] = true
			if r.From != from || r.To != to || r.H.Flags&flags != flags || (exact && r.H.Flags != flags) {
				continue
			}
			if (payload == netem.NoPayload && r.H.PayloadLen > 0) || (payload == netem.WithPayload && r.H.PayloadLen == 0) {
				continue
			}
			if (fate != "" && r.Fate.String() != fate) || (retrans && !again) || r.Sent < from0 || r.ID > sent || (discarded && r.Discarded == "") {
				continue
			}
			ids = append(ids, fmt.Sprintf("#%d", r.ID))
		}
		if len(ids) == 0 {
			return len(ids) == n, "none"
		}
		return len(ids) == n, fmt.Sprintf("%d: %s", len(ids), strings.Join(ids, " "))
	}, nil
}

// packetField reads #N.FIELD.
func (in *interp) packetField(st stmt, t token) (func() (uint64, error), error) {
	id, field, ok := strings.Cut(strings.TrimPrefix(t.text, "#"), ".")
	n, err := strconv.Atoi(id)
	fields := "seq, ack, len, win, tsval, tsecr, src, dst, sport, dport or ttl"
	if !ok || err != nil || n < 1 || !strings.Contains(fields, field) || field == "" || strings.ContainsAny(field, ", ") {
		return nil, in.errAt(st, t, "packet field %q: want #N.FIELD with FIELD one of %s", t.text, fields)
	}
	return func() (uint64, error) {
		rows := trace.Rows(in.w.Packets())
		if n > len(rows) || !rows[n-1].TCP {
			return 0, fmt.Errorf("no TCP packet #%d (the run sent %d)", n, len(rows))
		}
		h := rows[n-1].H
		switch field {
		case "src":
			return uint64(addrNum(h.Src.Addr())), nil
		case "dst":
			return uint64(addrNum(h.Dst.Addr())), nil
		case "sport":
			return uint64(h.Src.Port()), nil
		case "dport":
			return uint64(h.Dst.Port()), nil
		case "ttl":
			return uint64(rows[n-1].Data[8]), nil
		case "seq":
			return uint64(h.Seq), nil
		case "ack":
			return uint64(h.Ack), nil
		case "len":
			return uint64(h.PayloadLen), nil
		case "win":
			return uint64(h.Window), nil
		}
		if !h.HasTS {
			return 0, fmt.Errorf("packet #%d has no timestamp option", n)
		}
		if field == "tsval" {
			return uint64(h.TS.Val), nil
		}
		return uint64(h.TS.Ecr), nil
	}, nil
}

func addrNum(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// isAddrField reports whether #N.FIELD holds an address.
func isAddrField(t token) bool {
	return strings.HasSuffix(t.text, ".src") || strings.HasSuffix(t.text, ".dst")
}

// fieldText prints a field's value: an address for src and dst.
func fieldText(t token, v uint64) string {
	if isAddrField(t) {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
	}
	return strconv.FormatUint(v, 10)
}

// expectField: #N.FIELD = #M.FIELD|NUMBER|IP, or != in place of =; the
// right side may add or take off a number (#M.seq + 65537), modulo 2^32 for
// the 32-bit fields (seq, ack, tsval, tsecr).
func (in *interp) expectField(st stmt, args []token) (func() (bool, string), error) {
	var off int64
	if len(args) == 5 && (args[3].text == "+" || args[3].text == "-") && strings.HasPrefix(args[2].text, "#") {
		n, err := strconv.ParseInt(args[4].text, 10, 64)
		if err != nil || n < 0 || n > 1<<32 {
			return nil, in.errAt(st, args[4], "%q: want a number from 0 to 4294967296 after %s", args[4].text, args[3].text)
		}
		if args[3].text == "-" {
			n = -n
		}
		off, args = n, args[:3]
	}
	if len(args) != 3 || (args[1].text != "=" && args[1].text != "!=") {
		return nil, in.errEnd(st, "want expect #N.FIELD = #M.FIELD [+|- N] (or = NUMBER, or !=)")
	}
	a, err := in.packetField(st, args[0])
	if err != nil {
		return nil, err
	}
	var b func() (uint64, error)
	other := args[2].text
	v, perr := strconv.ParseUint(other, 10, 64)
	switch {
	case strings.HasPrefix(other, "#") || (!isAddrField(args[0]) && perr != nil):
		if b, err = in.packetField(st, args[2]); err != nil {
			return nil, err
		}
	case isAddrField(args[0]):
		ip, ok := in.addrOf(other)
		if !ok {
			return nil, in.errAt(st, args[2], "%q: want #M.src, #M.dst, an IPv4 address, or a host or NAT of this notebook (%s)", other, in.nodeNames())
		}
		b = func() (uint64, error) { return uint64(addrNum(ip)), nil }
	default:
		b = func() (uint64, error) { return v, nil }
	}
	neq := args[1].text == "!="
	right := args[2].text
	if off != 0 {
		right = fmt.Sprintf("%s %+d", right, off)
		right = strings.Replace(right, " +", " + ", 1)
		right = strings.Replace(right, " -", " - ", 1)
	}
	wraps := strings.HasSuffix(args[2].text, ".seq") || strings.HasSuffix(args[2].text, ".ack") || strings.HasSuffix(args[2].text, ".tsval") || strings.HasSuffix(args[2].text, ".tsecr")
	return func() (bool, string) {
		x, err1 := a()
		y, err2 := b()
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(errors.Join(err1, err2))
		}
		y = uint64(int64(y) + off)
		if wraps {
			y = uint64(uint32(y))
		}
		return (x == y) != neq, fmt.Sprintf("%s is %s, %s is %s", args[0].text, fieldText(args[0], x), right, fieldText(args[0], y))
	}, nil
}
