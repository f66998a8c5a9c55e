package scenarios

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/netem"
	"github.com/tcpsim/tcpsim/sim"
	"github.com/tcpsim/tcpsim/trace"
)

// Config is what a user may change about a built-in scenario. The zero
// value runs it as designed: seed 0, MSL 30 s (Linux's 60 s TIME-WAIT).
type Config struct {
	Seed uint64
	// MSL sets both hosts' maximum segment lifetime; zero means 30 s.
	MSL time.Duration
	// MaxTime and MaxEvents bound the run; zero means the World's defaults.
	MaxTime   time.Duration
	MaxEvents int64
}

// Scenario is a built-in scenario.
type Scenario struct {
	Name  string
	Title string
	// Claim is the paragraph of the TIME-WAIT literature the scenario
	// replays.
	Claim string
	run   func(e *env) error
}

// Result is a finished scenario run. Close releases its World.
type Result struct {
	trace.Report
	// Client and Server are the two hosts every built-in has.
	Client, Server *sim.Host
}

// Close releases the World's stacks.
func (r *Result) Close() { r.World.Close() }

var builtins = []Scenario{normalClose, simultaneousClose, lostFinalACK, oldDuplicate}

// List returns the built-in scenarios in a fixed order.
func List() []Scenario { return slices.Clone(builtins) }

// Names returns the built-in scenario names.
func Names() []string {
	var n []string
	for _, s := range builtins {
		n = append(n, s.Name)
	}
	return n
}

// Lookup finds a built-in scenario by name.
func Lookup(name string) (Scenario, error) {
	for _, s := range builtins {
		if s.Name == name {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("unknown scenario %q: want one of %s", name, strings.Join(Names(), ", "))
}

// Run runs a built-in scenario by name.
func Run(name string, cfg Config) (*Result, error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return s.Run(cfg)
}

// Addresses and port of the two hosts every built-in has.
var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
	serverPort = uint16(80)
	serverAP   = netip.AddrPortFrom(serverAddr, serverPort)
)

// oneWay is the built-ins' one-way delay in each direction.
const oneWay = 10 * time.Millisecond

// env is what a scenario's run function builds on.
type env struct {
	cfg            Config
	w              *sim.World
	client, server *sim.Host
	checks         []trace.Check
	notes          []string
}

// Run runs the scenario. The caller must Close the result.
func (s Scenario) Run(cfg Config) (*Result, error) {
	if cfg.MSL == 0 {
		cfg.MSL = sim.DefaultMSL
	}
	if cfg.MSL < 0 {
		return nil, fmt.Errorf("scenario %s: MSL %v: want a positive duration", s.Name, cfg.MSL)
	}
	w := sim.New(sim.Options{Seed: cfg.Seed, MaxTime: cfg.MaxTime, MaxEvents: cfg.MaxEvents})
	e := &env{cfg: cfg, w: w}
	var err error
	if e.client, err = w.AddHost(sim.HostOptions{Name: "client", Addr: clientAddr, MSL: cfg.MSL}); err != nil {
		w.Close()
		return nil, err
	}
	if e.server, err = w.AddHost(sim.HostOptions{Name: "server", Addr: serverAddr, MSL: cfg.MSL}); err != nil {
		w.Close()
		return nil, err
	}
	if err := s.run(e); err != nil {
		w.Close()
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return &Result{
		Report: trace.Report{Scenario: s.Name, Title: s.Title, World: w, Checks: e.checks, Notes: e.notes},
		Client: e.client, Server: e.server,
	}, nil
}

// link joins client and server with the built-ins' 10 ms each way and the
// scenario's rules.
func (e *env) link(rules ...netem.Rule) error {
	_, err := e.w.AddLink(e.client, e.server, netem.Options{
		AtoB:  netem.Path{Delay: oneWay},
		BtoA:  netem.Path{Delay: oneWay},
		Rules: rules,
	})
	return err
}

// echoServer listens on the server port; each accepted connection replies
// reply to the first chunk it reads (if reply is not empty) and closes when
// the peer's FIN has been read.
func (e *env) echoServer(reply string) (*sim.Socket, error) {
	l, err := e.server.Listen(serverPort, sim.SocketOptions{})
	if err != nil {
		return nil, err
	}
	l.OnAccept = func(c *sim.Socket) {
		replied := false
		c.OnData = func(c *sim.Socket, _ []byte) {
			if reply != "" && !replied {
				replied = true
				_, _ = c.Send([]byte(reply))
			}
		}
		c.OnEOF = func(c *sim.Socket) { _ = c.Close() }
	}
	return l, nil
}

func (e *env) check(ok bool, text, detail string, args ...any) {
	e.checks = append(e.checks, trace.Check{Text: text, OK: ok, Detail: fmt.Sprintf(detail, args...)})
}

func (e *env) note(format string, args ...any) {
	e.notes = append(e.notes, fmt.Sprintf(format, args...))
}
