package scenarios

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
)

func (in *interp) cmdInject(st stmt, args []token) error {
	o, err := in.options(st, args, "seq", "ack", "win", "ts", "payload", "as")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "inject takes a socket and flags: inject SOCK RST [seq=next|+N] [ack=next|+N] [win=N] [ts=VAL/ECR] [payload=\"...\"] [as NAME]")
	}
	sk, err := in.sock(st, o.words[0])
	if err != nil {
		return err
	}
	flags, err := netem.ParseFlags(o.words[1].text)
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	local, remote := sk.s.Local(), sk.s.Remote()
	if !remote.IsValid() {
		return in.errAt(st, o.words[0], "%s has no peer yet: inject needs a connection's tuple", sk.name)
	}
	// What the socket's host expects next from its peer, and what it
	// sent, read from the trace.
	if err := in.needRecords(st, st.verb(), "inject"); err != nil {
		return err
	}
	var rcvNxt, sndNxt, peerISN, isn, peerTS, ownTS uint32
	var peerTSAt time.Duration
	for _, r := range in.rows() {
		if !r.TCP {
			continue
		}
		if r.H.Src == local && r.H.Dst == remote && r.From != "" {
			if r.H.Flags&netem.SYN != 0 {
				isn = r.H.Seq
			}
			if r.H.Flags&netem.ACK != 0 {
				rcvNxt = r.H.Ack
			}
			if r.H.HasTS {
				ownTS = r.H.TS.Val
			}
			end := r.H.Seq + uint32(r.H.PayloadLen)
			if r.H.Flags&(netem.SYN|netem.FIN) != 0 {
				end++
			}
			if end-sndNxt < 1<<31 || sndNxt == 0 {
				sndNxt = end
			}
		}
		if r.H.Src == remote && r.H.Dst == local {
			if r.H.Flags&netem.SYN != 0 {
				peerISN = r.H.Seq
			}
			if r.H.HasTS && r.From != "" {
				peerTS, peerTSAt = r.H.TS.Val, r.Sent
			}
		}
	}
	seg := netem.Segment{Src: remote, Dst: local, Flags: flags, Seq: rcvNxt, Ack: sndNxt, Window: 65535}
	rel := func(key string, next, base uint32, dst *uint32) error {
		t, ok := o.kv[key]
		if !ok || t.text == "next" {
			*dst = next
			return nil
		}
		s := t.text
		var off int64
		var err error
		switch {
		case strings.HasPrefix(s, "next+") || strings.HasPrefix(s, "next-"):
			off, err = strconv.ParseInt(s[4:], 10, 64)
			*dst = next + uint32(off)
		case strings.HasPrefix(s, "+"):
			off, err = strconv.ParseInt(s[1:], 10, 64)
			*dst = base + uint32(off)
		default:
			var v uint64
			v, err = strconv.ParseUint(s, 10, 32)
			*dst = uint32(v)
		}
		if err != nil {
			return in.errAt(st, t, "%s %q: want next, next+N, next-N, +N (from the ISN) or an absolute number", key, s)
		}
		return nil
	}
	if err := rel("seq", rcvNxt, peerISN, &seg.Seq); err != nil {
		return err
	}
	if err := rel("ack", sndNxt, isn, &seg.Ack); err != nil {
		return err
	}
	if t, ok := o.kv["win"]; ok {
		n, err := strconv.ParseUint(t.text, 10, 16)
		if err != nil {
			return in.errAt(st, t, "win %q: want 0 to 65535", t.text)
		}
		seg.Window = uint16(n)
	}
	if t, ok := o.kv["ts"]; ok {
		// The echo defaults to what the peer would echo: the host's last
		// TSval, or 0 in a segment without ACK (RFC 7323 section 3.2).
		ecr := ownTS
		if flags&netem.ACK == 0 {
			ecr = 0
		}
		val, err := tsValue(t.text, peerTS, peerTSAt, in.w.Now(), &ecr)
		if err != nil {
			return in.errAt(st, t, "ts %q: want VAL[/ECR], e.g. ts=1000/2000; last+N or last-N (N above or below the peer's last TSval); or fresh (the peer's clock now)", t.text)
		}
		seg.TS = &netem.Timestamp{Val: val, Ecr: ecr}
	}
	if t, ok := o.kv["payload"]; ok {
		seg.Payload = []byte(t.text)
	}
	data, err := seg.Marshal()
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	id, err := in.w.Inject(sk.host, in.w.Now(), data)
	if err != nil {
		return in.errAt(st, o.words[1], "%v", err)
	}
	if t, ok := o.kv["as"]; ok {
		if err := in.definePacket(st, t, &pktName{id: id, what: fmt.Sprintf("packet #%d, injected", id)}); err != nil {
			return err
		}
	}
	in.printf("injected #%d %s > %s [%v] seq %d ack %d\n", id, remote, local, flags, seg.Seq, seg.Ack)
	return nil
}

// tsValue reads inject's ts= value: VAL, last+N, last-N or fresh, with an
// optional /ECR that replaces *ecr. last is the peer's last TSval, sent at
// lastAt; fresh is the peer's timestamp clock (milliseconds) at now.
func tsValue(s string, last uint32, lastAt, now time.Duration, ecr *uint32) (uint32, error) {
	v, e, hasEcr := strings.Cut(s, "/")
	if hasEcr {
		n, err := strconv.ParseUint(e, 10, 32)
		if err != nil {
			return 0, err
		}
		*ecr = uint32(n)
	}
	switch {
	case v == "fresh":
		return last + uint32((now-lastAt)/time.Millisecond), nil
	case strings.HasPrefix(v, "last+"), strings.HasPrefix(v, "last-"):
		n, err := strconv.ParseUint(v[5:], 10, 32)
		if v[4] == '-' {
			n = -n
		}
		return last + uint32(n), err
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return uint32(n), err
}
