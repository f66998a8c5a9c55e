package scenarios

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/trace"
)

// This file holds references to packets of the trace: by number (#7), by
// name (#probe), and by match (packet fin2 = last server>client FIN), and
// the packet matches that expectations count.

// pktRef is a reference to one packet: #N or #NAME.
type pktRef struct {
	src  string // as written, with its #
	id   int    // #N
	name string // #NAME
}

// pktName is what a packet name stands for: one packet (inject ... as
// NAME), the first packet a rule of that name acted on, or a pick among the
// packets a match selects (packet NAME = first|last|Nth MATCH).
type pktName struct {
	id    int
	rule  string
	match *pktMatch
	pick  int // 1-based; -1 is the last
	what  string
}

var pktNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// definePacket names a packet; names are words, defined once.
func (in *interp) definePacket(st stmt, t token, pn *pktName) error {
	if !pktNameRE.MatchString(t.text) {
		return in.errAt(st, t, "packet name %q: want a word of letters, digits, - and _ that starts with a letter", t.text)
	}
	if old := in.pktNames[t.text]; old != nil {
		return in.errAt(st, t, "packet name %q is taken: it is %s", t.text, old.what)
	}
	if in.pktNames == nil {
		in.pktNames = map[string]*pktName{}
	}
	in.pktNames[t.text] = pn
	return nil
}

// parseRef reads #N or #NAME (s is the reference without any .FIELD).
func (in *interp) parseRef(st stmt, t token, s string) (pktRef, error) {
	ref := pktRef{src: s}
	if err := in.needRecords(st, t, st.verb().text); err != nil {
		return ref, err
	}
	body := strings.TrimPrefix(s, "#")
	if n, err := strconv.Atoi(body); err == nil && n >= 1 {
		ref.id = n
		return ref, nil
	}
	if in.pktNames[body] == nil {
		return ref, in.errAt(st, t, "packet %q: want #N (a packet number) or #NAME of a named packet (%s)", s, in.packetNames())
	}
	ref.name = body
	return ref, nil
}

func (in *interp) packetNames() string {
	var n []string
	for k := range in.pktNames {
		n = append(n, "#"+k)
	}
	slices.Sort(n)
	if len(n) == 0 {
		return "none named yet: inject ... as NAME, a rule's name=NAME, or packet NAME = first MATCH"
	}
	return strings.Join(n, ", ")
}

// rows returns the trace decoded. While the notebook runs it is decoded
// afresh (a release changes a packet's arrival without an event); once
// the run is over (judging), once for every expectation.
func (in *interp) rows() []trace.Row {
	if !in.judging {
		return trace.Rows(in.w.Packets())
	}
	if in.rowCache == nil {
		in.rowCache = trace.Rows(in.w.Packets())
	}
	return in.rowCache
}

// resolve finds the packet a reference stands for. A number or a fixed
// name is one packet of the whole run; a pick among the packets a match
// selects (first, last, Nth) is made among the first upto packets, those
// sent before the statement that used it.
func (in *interp) resolve(ref pktRef, upto int) (trace.Row, error) {
	rows := in.rows()
	if ref.id > 0 {
		if ref.id > len(rows) {
			return trace.Row{}, fmt.Errorf("packet #%d was never sent (the run sent %d)", ref.id, len(rows))
		}
		return rows[ref.id-1], nil
	}
	pn := in.pktNames[ref.name]
	switch {
	case pn.id > 0:
		return in.resolve(pktRef{id: pn.id}, upto)
	case pn.rule != "":
		for _, r := range rows {
			if r.Rule == pn.rule {
				return r, nil
			}
		}
		return trace.Row{}, fmt.Errorf("%s: rule %q acted on no packet", ref.src, pn.rule)
	}
	got, err := in.matchRows(pn.match, upto)
	if err != nil {
		return trace.Row{}, err
	}
	i := pn.pick - 1
	if pn.pick < 0 {
		i = len(got) - 1
	}
	if i < 0 || i >= len(got) {
		return trace.Row{}, fmt.Errorf("%s: %d packets match %s, so there is no %s", ref.src, len(got), pn.match.src, pickText(pn.pick))
	}
	return got[i], nil
}

func pickText(n int) string {
	switch {
	case n < 0:
		return "last"
	case n == 1:
		return "first"
	case n%10 == 2 && n%100 != 12:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3 && n%100 != 13:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

// cmdPacket: packet NAME = first|last|Nth MATCH names the packet a match
// picks, resolved where the name is used (among the packets sent before
// that statement).
func (in *interp) cmdPacket(st stmt, args []token) error {
	if err := in.needRecords(st, st.verb(), "packet"); err != nil {
		return err
	}
	if len(args) < 4 || args[1].text != "=" {
		return in.errEnd(st, "want packet NAME = first|last|Nth MATCH, e.g. packet fin2 = last server>client FIN")
	}
	pick, ok := parsePick(args[2].text)
	if !ok {
		return in.errAt(st, args[2], "%q: want first, last or Nth (2nd, 3rd, 10th)", args[2].text)
	}
	m, err := in.parseMatch(st, args[3:])
	if err != nil {
		return err
	}
	return in.definePacket(st, args[0], &pktName{match: m, pick: pick, what: fmt.Sprintf("the %s packet matching %s", pickText(pick), m.src)})
}

func parsePick(s string) (int, bool) {
	switch s {
	case "first":
		return 1, true
	case "last":
		return -1, true
	}
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		if n, err := strconv.Atoi(strings.TrimSuffix(s, suf)); err == nil && strings.HasSuffix(s, suf) && n >= 1 && pickText(n) == s {
			return n, true
		}
	}
	return 0, false
}

// pktMatch selects packets of the trace on one link and direction:
// FROM[:PORT]>TO[:PORT] [FLAG...] [exact] [pure-ack|data|no-data]
// [delivered|dropped|held|duplicated|injected] [discarded] [retransmitted]
// [contains="..."] [since T].
type pktMatch struct {
	src          string
	from, to     string
	sport, dport uint16
	flags        netem.Flags
	exact        bool
	payload      netem.Payload
	fate         string
	retrans      bool
	discarded    bool
	contains     string
	since        timeExpr
	hasSince     bool
	now          time.Duration // the time of the statement, for since +D
}

// parseMatch reads a packet match.
func (in *interp) parseMatch(st stmt, toks []token) (*pktMatch, error) {
	o, err := in.options(st, toks, "contains")
	if err != nil {
		return nil, err
	}
	toks = o.words
	m := &pktMatch{payload: netem.AnyPayload, now: in.w.Now()}
	var texts []string
	for _, t := range toks {
		texts = append(texts, t.text)
	}
	if t, ok := o.kv["contains"]; ok {
		m.contains = t.text
		texts = append(texts, "contains="+strconv.Quote(t.text))
	}
	m.src = strings.Join(texts, " ")
	if len(toks) == 0 {
		return nil, in.errEnd(st, "a packet match needs a direction, e.g. client>server FIN or client:40000>server:80")
	}
	if k := len(toks); k >= 2 && toks[k-2].text == "since" {
		if m.since, err = in.parseTime(st, toks[k-1]); err != nil {
			return nil, err
		}
		m.hasSince = true
		toks = toks[:k-2]
		if len(toks) == 0 {
			return nil, in.errEnd(st, "a packet match needs a direction before since, e.g. client>server FIN since 6s")
		}
	}
	if m.from, m.sport, m.to, m.dport, err = in.tupleDir(st, toks[0]); err != nil {
		return nil, err
	}
	for _, t := range toks[1:] {
		switch t.text {
		case "pure-ack":
			m.flags, m.exact, m.payload = netem.ACK, true, netem.NoPayload
		case "exact":
			m.exact = true
		case "data":
			m.payload = netem.WithPayload
		case "no-data":
			m.payload = netem.NoPayload
		case "delivered", "dropped", "held", "duplicated", "injected":
			m.fate = t.text
		case "retransmitted":
			m.retrans = true
		case "discarded":
			m.discarded = true
		default:
			f, err := netem.ParseFlags(t.text)
			if err != nil {
				return nil, in.errAt(st, t, "%v, or exact, pure-ack, data, no-data, a fate (delivered, dropped, held, duplicated, injected), discarded, retransmitted, contains=\"...\" or since T", err)
			}
			m.flags |= f
		}
	}
	return m, nil
}

// tupleDir reads FROM[:PORT]>TO[:PORT]: a link's direction, optionally
// narrowed to source and destination ports.
func (in *interp) tupleDir(st stmt, t token) (from string, sport uint16, to string, dport uint16, err error) {
	a, b, ok := strings.Cut(t.text, ">")
	if !ok {
		return "", 0, "", 0, in.errAt(st, t, "direction %q: want FROM>TO, e.g. client>server, or client:40000>server:80", t.text)
	}
	port := func(s string) (string, uint16, error) {
		name, p, ok := strings.Cut(s, ":")
		if !ok {
			return s, 0, nil
		}
		n, perr := strconv.ParseUint(p, 10, 16)
		if perr != nil || n == 0 {
			return "", 0, in.errAt(st, t, "direction %q: port %q: want a number from 1 to 65535", t.text, p)
		}
		return name, uint16(n), nil
	}
	var an, bn string
	if an, sport, err = port(a); err != nil {
		return
	}
	if bn, dport, err = port(b); err != nil {
		return
	}
	_, fromNode, toNode, err := in.linkDir(st, token{text: an + ">" + bn, col: t.col})
	if err != nil {
		return
	}
	return fromNode.Name(), sport, toNode.Name(), dport, nil
}

// matchRows returns the packets among the first upto that m selects.
func (in *interp) matchRows(m *pktMatch, upto int) ([]trace.Row, error) {
	var from0 time.Duration
	if m.hasSince {
		var err error
		if from0, err = in.evalTime(m.since, m.now); err != nil {
			return nil, err
		}
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
	var out []trace.Row
	for _, r := range in.rows() {
		if r.ID > upto {
			break
		}
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
		if r.From != m.from || r.To != m.to || r.H.Flags&m.flags != m.flags || (m.exact && r.H.Flags != m.flags) {
			continue
		}
		if (m.sport != 0 && r.H.Src.Port() != m.sport) || (m.dport != 0 && r.H.Dst.Port() != m.dport) {
			continue
		}
		if (m.payload == netem.NoPayload && r.H.PayloadLen > 0) || (m.payload == netem.WithPayload && r.H.PayloadLen == 0) {
			continue
		}
		if (m.fate != "" && r.Fate.String() != m.fate) || (m.retrans && !again) || r.Sent < from0 || (m.discarded && r.Discarded == "") {
			continue
		}
		if m.contains != "" && !strings.Contains(string(r.Data[r.H.PayloadOff:r.H.PayloadOff+r.H.PayloadLen]), m.contains) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// The kinds of packet fields: how they compare and print.
const (
	kindNumber = iota
	kindSeq    // 32-bit sequence space: compared modulo 2^32 (RFC 9293 3.4)
	kindAddr
	kindFlags
	kindTime
)

// fieldKinds lists the fields of #REF.FIELD.
var fieldKinds = map[string]int{ // lookups only
	"seq": kindSeq, "ack": kindSeq, "tsval": kindSeq, "tsecr": kindSeq,
	"len": kindNumber, "win": kindNumber, "sport": kindNumber, "dport": kindNumber, "ttl": kindNumber,
	"src": kindAddr, "dst": kindAddr, "flags": kindFlags, "sent": kindTime, "arrived": kindTime,
}

const fieldList = "seq, ack, tsval, tsecr, len, win, sport, dport, ttl, src, dst, flags, sent or arrived"

// fieldRef is #REF.FIELD.
type fieldRef struct {
	ref   pktRef
	field string
	kind  int
	src   string
}

// parseField reads #REF.FIELD.
func (in *interp) parseField(st stmt, t token) (fieldRef, error) {
	refText, field, ok := strings.Cut(t.text, ".")
	kind, known := fieldKinds[field]
	if !ok || !known || !strings.HasPrefix(refText, "#") {
		return fieldRef{}, in.errAt(st, t, "packet field %q: want #N.FIELD or #NAME.FIELD with FIELD one of %s", t.text, fieldList)
	}
	ref, err := in.parseRef(st, t, refText)
	if err != nil {
		return fieldRef{}, err
	}
	return fieldRef{ref: ref, field: field, kind: kind, src: t.text}, nil
}

// fieldValue reads a field of the packet a reference resolves to among
// the first upto packets.
func (in *interp) fieldValue(f fieldRef, upto int) (uint64, error) {
	r, err := in.resolve(f.ref, upto)
	if err != nil {
		return 0, err
	}
	switch f.field {
	case "sent":
		return uint64(r.Sent), nil
	case "arrived":
		if r.Delivered < 0 {
			return 0, fmt.Errorf("%s (#%d) never arrived (%s)", f.ref.src, r.ID, r.Fate)
		}
		return uint64(r.Delivered), nil
	}
	if !r.TCP {
		return 0, fmt.Errorf("%s (#%d) is not a TCP segment", f.ref.src, r.ID)
	}
	h := r.H
	switch f.field {
	case "src":
		return uint64(addrNum(h.Src.Addr())), nil
	case "dst":
		return uint64(addrNum(h.Dst.Addr())), nil
	case "sport":
		return uint64(h.Src.Port()), nil
	case "dport":
		return uint64(h.Dst.Port()), nil
	case "ttl":
		return uint64(r.Data[8]), nil
	case "seq":
		return uint64(h.Seq), nil
	case "ack":
		return uint64(h.Ack), nil
	case "len":
		return uint64(h.PayloadLen), nil
	case "win":
		return uint64(h.Window), nil
	case "flags":
		return uint64(h.Flags), nil
	}
	if !h.HasTS {
		return 0, fmt.Errorf("%s (#%d) has no timestamp option", f.ref.src, r.ID)
	}
	if f.field == "tsval" {
		return uint64(h.TS.Val), nil
	}
	return uint64(h.TS.Ecr), nil
}

func addrNum(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// valueText prints a field's value as its kind reads.
func valueText(kind int, v uint64) string {
	switch kind {
	case kindAddr:
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
	case kindFlags:
		return "[" + netem.Flags(v).String() + "]"
	case kindTime:
		return trace.Seconds(time.Duration(v))
	}
	return strconv.FormatUint(v, 10)
}

// parseFlagsValue reads flags as tcpdump prints them ([S.], [R], [F.])
// or as names (SYN|ACK, RST).
func parseFlagsValue(s string) (netem.Flags, error) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		var f netem.Flags
		for _, c := range s[1 : len(s)-1] {
			g, ok := netem.FlagOfChar(byte(c))
			if !ok {
				return 0, fmt.Errorf("flags %q: %q is none of S F R P . U E W", s, c)
			}
			f |= g
		}
		return f, nil
	}
	return netem.ParseFlags(s)
}
