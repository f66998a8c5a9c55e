package scenarios

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/kernel"
	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/timewait"
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
	if in.laneGroups != nil {
		return in.errAt(st, args[0], "seed must come before parallel (line %d)", in.parallelAt)
	}
	if in.cfg.Seed == nil {
		in.seed = n
		in.w = newWorld(in.cfg, n, in.noRecords)
	}
	return nil
}

// hostOptions are the options a host statement takes besides its knobs.
var hostOptions = []string{"msl", "profile", "kernel"}

// knobOptions lists every sysctl name, in full and short, as options.
func knobOptions() []string {
	var out []string
	for _, n := range sim.SysctlNames() {
		out = append(out, n, strings.TrimPrefix(n, "net.ipv4."))
	}
	return out
}

// roomForHosts says, at t, when n more hosts would take the notebook past
// its World's host limit.
func (in *interp) roomForHosts(st stmt, t token, n int) error {
	if max := in.w.MaxHosts(); len(in.hosts)+n > max {
		return in.errAt(st, t, "%s would make %d hosts, above the limit of %d (each is a whole gVisor stack; --max-hosts N raises it)", t.text, len(in.hosts)+n, max)
	}
	return nil
}

// cmdHost: host NAME IP [msl=D] [profile=gvisor|linux] [kernel=6.18|4.9]
// [KNOB=VALUE ...].
func (in *interp) cmdHost(st stmt, args []token) error {
	o, err := in.options(st, args, append(hostOptions, knobOptions()...)...)
	if err != nil {
		return err
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "host takes a name and an IPv4 address: host NAME IP [msl=D] [profile=gvisor|linux] [kernel=6.18|4.9] [tcp_tw_reuse=N ...]")
	}
	name, ipTok := o.words[0], o.words[1]
	if err := in.nodeName(st, name, "host"); err != nil {
		return err
	}
	addr, err := netip.ParseAddr(ipTok.text)
	if err != nil || !addr.Is4() {
		return in.errAt(st, ipTok, "address %q: want an IPv4 address such as 10.0.0.1", ipTok.text)
	}
	if err := sim.CheckHostAddr(addr); err != nil {
		return in.errAt(st, ipTok, "%v", err)
	}
	if err := in.roomForHosts(st, name, 1); err != nil {
		return err
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
		if host, prof, _ := strings.Cut(p, ":"); host == name.text || host == "*" {
			if ho.Profile, err = sim.ParseProfile(prof); err != nil {
				return in.errAt(st, name, "--profile %s: %v", p, err)
			}
		}
	}
	if t, ok := o.kv["kernel"]; ok {
		if ho.Profile != sim.Linux {
			return in.errAt(st, t, "kernel=%s: a kernel version needs profile=linux (a gvisor host is gVisor's netstack)", t.text)
		}
		if ho.Kernel, err = timewait.ParseKernel(t.text); err != nil {
			return in.errAt(st, t, "%v", err)
		}
	}
	var h *sim.Host
	if in.cfg.Kernel {
		h, err = kernel.AddHost(in.w, ho)
	} else {
		h, err = in.w.AddHost(ho)
	}
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

// nodeName checks the name of a new host or hop.
func (in *interp) nodeName(st stmt, name token, what string) error {
	if _, ok := commands[name.text]; ok || strings.ContainsAny(name.text, ":>/#.") || !printableWord(name.text) {
		return in.errAt(st, name, "%s name %q: want a word of printable characters that is not a command and has no : > / # .", what, name.text)
	}
	if in.w.Node(name.text) != nil {
		return in.errAt(st, name, "%s name %q: taken (hosts and hops so far: %s)", what, name.text, in.nodeNames())
	}
	if in.named(name.text) != nil {
		return in.errAt(st, name, "%s name %q: taken by a socket (sockets so far: %s)", what, name.text, in.sockNames())
	}
	return nil
}

// cmdRouter: router NAME adds a middle hop that forwards packets (a switch
// for a shared segment, or a router in a chain).
func (in *interp) cmdRouter(st stmt, args []token) error {
	if len(args) != 1 {
		return in.errEnd(st, "router takes a name: router NAME, then link it: link c1 NAME; link NAME server")
	}
	if err := in.nodeName(st, args[0], "router"); err != nil {
		return err
	}
	if _, err := in.w.AddHop(sim.HopOptions{Name: args[0].text}); err != nil {
		return in.errAt(st, args[0], "%v", err)
	}
	return nil
}

// natOptions are the options of the nat statement.
var natOptions = []string{"outside", "mapping", "ports", "port_range", "filtering", "established", "transitory", "timestamps", "hairpin"}

// cmdNAT: nat NAME IP outside=NODE [mapping=endpoint|connection]
// [ports=preserve|sequential|random] [port_range=A-B]
// [filtering=endpoint|address|address-port] [established=D] [transitory=D]
// [timestamps=keep|strip|offset] [hairpin=on|off] adds a NAT hop whose
// outside link is the one to NODE.
func (in *interp) cmdNAT(st stmt, all []token) error {
	o, err := in.options(st, all, natOptions...)
	if err != nil {
		return err
	}
	usage := "nat takes a name, its outside address and outside=NEIGHBOUR: nat gw 203.0.113.1 outside=server [mapping=...] [ports=...]; then link the inside hosts to it (link c1 gw) and it to its neighbour (link gw server)"
	for _, w := range o.words {
		if w.text == "to" || w.text == "as" {
			return in.errAt(st, w, "%s (the form nat HOSTS to HOST as IP is gone: a NAT is now a middle hop)", usage)
		}
	}
	if len(o.words) != 2 {
		return in.errEnd(st, "%s", usage)
	}
	name, ipTok := o.words[0], o.words[1]
	if err := in.nodeName(st, name, "nat"); err != nil {
		return err
	}
	addr, err := netip.ParseAddr(ipTok.text)
	if err != nil || !addr.Is4() {
		return in.errAt(st, ipTok, "address %q: want an IPv4 address", ipTok.text)
	}
	out, ok := o.kv["outside"]
	if !ok {
		return in.errEnd(st, "%s", usage)
	}
	nopts := netem.NATOptions{Addr: addr}
	for _, key := range []string{"mapping", "ports", "filtering", "timestamps", "hairpin"} {
		if t, ok := o.kv[key]; ok {
			if err := nopts.SetChoice(key, t.text); err != nil {
				return in.errAt(st, t, "%v", err)
			}
		}
	}
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
	if _, err := in.w.AddHop(sim.HopOptions{Name: name.text, NAT: &nopts, Outside: out.text}); err != nil {
		return in.errAt(st, name, "%v", err)
	}
	in.natStmts = append(in.natStmts, natStmt{st: st, name: name.text, outside: out})
	return nil
}

// checkNATs reports a NAT whose outside neighbour is not linked to it once
// a cell has run: its translations would have nowhere to go.
func (in *interp) checkNATs() error {
	for _, n := range in.natStmts {
		hop, nb := in.w.Hop(n.name), in.w.Node(n.outside.text)
		if nb == nil {
			return in.errAt(n.st, n.outside, "outside=%s: want a host or hop of this notebook (%s)", n.outside.text, in.nodeNames())
		}
		if in.w.Link(hop, nb) == nil {
			return in.errAt(n.st, n.outside, "outside=%s: %s has no link to %s (add link %s %s in the same cell)", n.outside.text, n.name, n.outside.text, n.name, n.outside.text)
		}
	}
	return nil
}

// node reads the name of a host or middle hop.
func (in *interp) node(st stmt, t token) (sim.Node, error) {
	if n := in.w.Node(t.text); n != nil {
		return n, nil
	}
	return nil, in.errAt(st, t, "unknown host or hop %q: want one of %s", t.text, in.nodeNames())
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
		return in.errEnd(st, "link takes two hosts or hops: link A B [delay=D] [back=D] [loss=P%%] [loss_back=P%%]")
	}
	a, err := in.node(st, o.words[0])
	if err != nil {
		return err
	}
	b, err := in.node(st, o.words[1])
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
