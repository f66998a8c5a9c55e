package scenarios

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
)

func (in *interp) cmdSeed(st stmt, args []token) error {
	if len(args) != 1 {
		return in.errEnd(st, "seed takes one number")
	}
	if len(in.w.Hosts()) > 0 {
		return in.errAt(st, args[0], "seed must come before the first host")
	}
	n, err := strconv.ParseUint(args[0].text, 10, 64)
	if err != nil {
		return in.errAt(st, args[0], "seed %q: want a whole number from 0 to 18446744073709551615", args[0].text)
	}
	if in.cfg.Seed == nil {
		in.seed = n
		in.w = newWorld(in.cfg, n)
	}
	return nil
}

func (in *interp) cmdHost(st stmt, args []token) error {
	o, err := in.options(st, args, "msl", "ports", "tw_reuse", "fin_timeout")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "host takes a name and an IPv4 address: host NAME IP [msl=D] [ports=A-B] [tw_reuse=off|global|loopback] [fin_timeout=D]")
	}
	name, ipTok := o.words[0], o.words[1]
	if _, ok := commands[name.text]; ok || strings.ContainsAny(name.text, ":>/#.") {
		return in.errAt(st, name, "host name %q: want a word that is not a command and has no : > / # .", name.text)
	}
	addr, err := netip.ParseAddr(ipTok.text)
	if err != nil || !addr.Is4() {
		return in.errAt(st, ipTok, "address %q: want an IPv4 address such as 10.0.0.1", ipTok.text)
	}
	ho := sim.HostOptions{Name: name.text, Addr: addr, MSL: in.cfg.MSL}
	if t, ok := o.kv["msl"]; ok {
		if ho.MSL, err = in.duration(st, t, "msl"); err != nil {
			return err
		}
		if ho.MSL == 0 {
			return in.errAt(st, t, "msl 0: want a positive duration")
		}
	}
	if t, ok := o.kv["fin_timeout"]; ok {
		if ho.FinTimeout, err = in.duration(st, t, "fin_timeout"); err != nil {
			return err
		}
	}
	if t, ok := o.kv["ports"]; ok {
		a, b, ok2 := strings.Cut(t.text, "-")
		first, e1 := strconv.Atoi(a)
		last, e2 := strconv.Atoi(b)
		if !ok2 || e1 != nil || e2 != nil || first < 1 || last > 65535 || first > last {
			return in.errAt(st, t, "ports %q: want FIRST-LAST with 1 <= FIRST <= LAST <= 65535", t.text)
		}
		ho.FirstPort, ho.LastPort = uint16(first), uint16(last)
	}
	if t, ok := o.kv["tw_reuse"]; ok {
		switch t.text {
		case "off":
			ho.TWReuse = sim.TWReuseOff
		case "global":
			ho.TWReuse = sim.TWReuseGlobal
		case "loopback":
			ho.TWReuse = sim.TWReuseLoopback
		default:
			return in.errAt(st, t, "tw_reuse %q: want off, global or loopback", t.text)
		}
	}
	h, err := in.w.AddHost(ho)
	if err != nil {
		return in.errAt(st, name, "%v", err)
	}
	in.hosts[name.text] = h
	return nil
}

func (in *interp) host(st stmt, t token) (*sim.Host, error) {
	if h := in.hosts[t.text]; h != nil {
		return h, nil
	}
	return nil, in.errAt(st, t, "unknown host %q: want one of %s", t.text, in.hostNames())
}

func (in *interp) cmdLink(st stmt, args []token) error {
	o, err := in.options(st, args, "delay", "back", "loss", "loss_back")
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "link takes two hosts: link A B [delay=D] [back=D] [loss=P%%] [loss_back=P%%]")
	}
	a, err := in.host(st, o.words[0])
	if err != nil {
		return err
	}
	b, err := in.host(st, o.words[1])
	if err != nil {
		return err
	}
	var opts netem.Options
	if t, ok := o.kv["delay"]; ok {
		if opts.AtoB.Delay, err = in.duration(st, t, "delay"); err != nil {
			return err
		}
	}
	opts.BtoA.Delay = opts.AtoB.Delay
	if t, ok := o.kv["back"]; ok {
		if opts.BtoA.Delay, err = in.duration(st, t, "back"); err != nil {
			return err
		}
	}
	if t, ok := o.kv["loss"]; ok {
		if opts.AtoB.Loss, err = in.probability(st, t); err != nil {
			return err
		}
	}
	opts.BtoA.Loss = opts.AtoB.Loss
	if t, ok := o.kv["loss_back"]; ok {
		if opts.BtoA.Loss, err = in.probability(st, t); err != nil {
			return err
		}
	}
	l, err := in.w.AddLink(a, b, opts)
	if err != nil {
		return in.errAt(st, o.words[0], "%v", err)
	}
	in.links = append(in.links, l)
	return nil
}
