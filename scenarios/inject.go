package scenarios

import (
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/trace"
)

func (in *interp) cmdInject(st stmt, args []token) error {
	o, err := in.options(st, args, "seq", "ack", "win", "ts", "payload")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "inject takes a socket and flags: inject SOCK RST [seq=next|+N] [ack=next|+N] [win=N] [ts=VAL/ECR] [payload=\"...\"]")
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
	// What the socket's host expects next from its peer, and what it sent.
	var rcvNxt, sndNxt, peerISN, isn, peerTS uint32
	for _, r := range trace.Rows(in.w.Packets()) {
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
				peerTS = r.H.TS.Val
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
		v, e, ok2 := strings.Cut(t.text, "/")
		var val uint64
		var e1 error
		if rest, ok3 := strings.CutPrefix(v, "last-"); ok3 {
			val, e1 = strconv.ParseUint(rest, 10, 32)
			val = uint64(peerTS - uint32(val))
		} else {
			val, e1 = strconv.ParseUint(v, 10, 32)
		}
		ecr, e2 := strconv.ParseUint(e, 10, 32)
		if !ok2 || e1 != nil || e2 != nil {
			return in.errAt(st, t, "ts %q: want VAL/ECR, e.g. ts=1000/2000, or last-N/ECR (N below the peer's last TSval)", t.text)
		}
		seg.TS = &netem.Timestamp{Val: uint32(val), Ecr: uint32(ecr)}
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
	in.printf("injected #%d %s > %s [%v] seq %d ack %d\n", id, remote, local, flags, seg.Seq, seg.Ack)
	return nil
}
