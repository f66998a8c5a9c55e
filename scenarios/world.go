package scenarios

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

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

// hostOptions are the options a host statement takes besides its knobs.
var hostOptions = []string{"msl", "profile"}

// knobOptions lists every sysctl name, in full and short, as options.
func knobOptions() []string {
	var out []string
	for _, n := range sim.SysctlNames() {
		out = append(out, n, strings.TrimPrefix(n, "net.ipv4."))
	}
	return out
}

// cmdHost: host NAME IP [msl=D] [profile=gvisor|linux] [KNOB=VALUE ...].
func (in *interp) cmdHost(st stmt, args []token) error {
	o, err := in.options(st, args, append(hostOptions, knobOptions()...)...)
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "host takes a name and an IPv4 address: host NAME IP [msl=D] [profile=gvisor|linux] [tcp_tw_reuse=N ...]")
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
	if t, ok := o.kv["profile"]; ok {
		if ho.Profile, err = sim.ParseProfile(t.text); err != nil {
			return in.errAt(st, t, "%v", err)
		}
	}
	for _, p := range in.cfg.Profiles {
		if host, prof, _ := strings.Cut(p, ":"); host == name.text {
			if ho.Profile, err = sim.ParseProfile(prof); err != nil {
				return in.errAt(st, name, "--profile %s: %v", p, err)
			}
		}
	}
	h, err := in.w.AddHost(ho)
	if err != nil {
		return in.errAt(st, name, "%v", err)
	}
	in.hosts[name.text] = h
	for _, k := range o.order {
		if sim.IsSysctl(k) {
			if err := h.SetSysctl(k, o.kv[k].text); err != nil {
				return in.errAt(st, o.kv[k], "%v", err)
			}
		}
	}
	for _, kv := range in.cfg.Sysctls {
		host, setting, _ := strings.Cut(kv, ":")
		if host != name.text {
			continue
		}
		k, v, ok := strings.Cut(setting, "=")
		if !ok {
			return in.errAt(st, name, "--sysctl %s: want HOST:NAME=VALUE", kv)
		}
		if err := h.SetSysctl(k, v); err != nil {
			return in.errAt(st, name, "--sysctl %s: %v", kv, err)
		}
	}
	return nil
}

// cmdSysctl: sysctl HOST NAME=VALUE ... sets knobs; sysctl HOST NAME
// prints one.
func (in *interp) cmdSysctl(st stmt, args []token) error {
	if len(args) < 2 {
		return in.errEnd(st, "sysctl takes a host and NAME=VALUE (or NAME), e.g. sysctl server net.ipv4.tcp_tw_recycle=1")
	}
	h, err := in.host(st, args[0])
	if err != nil {
		return err
	}
	for _, t := range args[1:] {
		name, value, set := strings.Cut(t.text, "=")
		if set {
			if err := h.SetSysctl(name, value); err != nil {
				return in.errAt(st, t, "%v", err)
			}
		}
		v, err := h.Sysctl(name)
		if err != nil {
			return in.errAt(st, t, "%v", err)
		}
		in.printf("%s$ sysctl %s\n%s = %s\n", h.Name(), name, sysctlName(name), v)
	}
	return nil
}

func sysctlName(n string) string {
	if strings.HasPrefix(n, "net.") {
		return n
	}
	return "net.ipv4." + n
}

// cmdNAT: nat HOST... to HOST as IP [mapping=endpoint|connection]
// [ports=preserve|sequential|random] [port_range=A-B]
// [filtering=endpoint|address|address-port] [established=D] [transitory=D]
// [timestamps=keep|strip|offset] [hairpin=on|off].
func (in *interp) cmdNAT(st stmt, all []token) error {
	o, err := in.options(st, all, "mapping", "ports", "port_range", "filtering", "established", "transitory", "timestamps", "hairpin")
	if err != nil {
		return err
	}
	args := o.words
	var inside []*sim.Host
	i := 0
	for ; i < len(args) && args[i].text != "to"; i++ {
		h, err := in.host(st, args[i])
		if err != nil {
			return err
		}
		inside = append(inside, h)
	}
	if len(inside) == 0 || i+4 != len(args) || args[i+2].text != "as" {
		return in.errEnd(st, "nat takes inside hosts, the outside host and the NAT's address: nat c1 c2 to server as 10.0.1.1 [mapping=...] [ports=...]")
	}
	outside, err := in.host(st, args[i+1])
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(args[i+3].text)
	if err != nil || !addr.Is4() {
		return in.errAt(st, args[i+3], "address %q: want an IPv4 address", args[i+3].text)
	}
	nopts := netem.NATOptions{Addr: addr}
	choice := func(key string, dst *uint8, values ...string) error {
		t, ok := o.kv[key]
		if !ok {
			return nil
		}
		for k, v := range values {
			if t.text == v {
				*dst = uint8(k)
				return nil
			}
		}
		return in.errAt(st, t, "%s %q: want %s", key, t.text, strings.Join(values, ", "))
	}
	var mapping, ports, filtering, ts, hair uint8
	for _, c := range []struct {
		key    string
		dst    *uint8
		values []string
	}{
		{"mapping", &mapping, []string{"endpoint", "connection"}},
		{"ports", &ports, []string{"preserve", "sequential", "random"}},
		{"filtering", &filtering, []string{"endpoint", "address", "address-port"}},
		{"timestamps", &ts, []string{"keep", "strip", "offset"}},
		{"hairpin", &hair, []string{"on", "off"}},
	} {
		if err := choice(c.key, c.dst, c.values...); err != nil {
			return err
		}
	}
	nopts.Mapping, nopts.Ports, nopts.Filtering = netem.MappingBehavior(mapping), netem.PortPolicy(ports), netem.Filtering(filtering)
	nopts.Timestamps, nopts.NoHairpin = netem.TSRewrite(ts), hair == 1
	for _, k := range []struct {
		key string
		dst *time.Duration
	}{{"established", &nopts.Established}, {"transitory", &nopts.Transitory}} {
		if t, ok := o.kv[k.key]; ok {
			if *k.dst, err = in.duration(st, t, k.key); err != nil {
				return err
			}
		}
	}
	if t, ok := o.kv["port_range"]; ok {
		a, b, cut := strings.Cut(t.text, "-")
		first, last, ok := sim.ParsePortRange(a, b)
		if !cut || !ok {
			return in.errAt(st, t, "port_range %q: want FIRST-LAST with 1 <= FIRST <= LAST <= 65535", t.text)
		}
		nopts.FirstPort, nopts.LastPort = first, last
	}
	if _, err := in.w.AddNAT(nopts, outside, inside...); err != nil {
		return in.errAt(st, args[0], "%v", err)
	}
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
