package sim

import (
	"fmt"
	"net/netip"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// State is a TCP connection state, named as RFC 9293 names it.
type State uint8

// The RFC 9293 states. Closed stands for every gVisor state in which no
// connection exists (initial, bound, connecting, error, closed).
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	CloseWait
	Closing
	LastAck
	TimeWait
	numStates
)

var stateNames = [numStates]string{
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState reads an RFC 9293 state name (TIME-WAIT, TIME_WAIT and time-wait
// are all accepted).
func ParseState(name string) (State, error) {
	norm := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		norm = append(norm, c)
	}
	for i, n := range stateNames {
		if n == string(norm) || (n == "SYN-RECEIVED" && string(norm) == "SYN-RECV") {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("unknown TCP state %q: want one of CLOSED, LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT", name)
}

// stateOf maps a gVisor endpoint state to its RFC 9293 name.
func stateOf(s tcp.EndpointState) State {
	switch s {
	case tcp.StateListen:
		return Listen
	case tcp.StateSynSent:
		return SynSent
	case tcp.StateSynRecv:
		return SynReceived
	case tcp.StateEstablished:
		return Established
	case tcp.StateFinWait1:
		return FinWait1
	case tcp.StateFinWait2:
		return FinWait2
	case tcp.StateCloseWait:
		return CloseWait
	case tcp.StateClosing:
		return Closing
	case tcp.StateLastAck:
		return LastAck
	case tcp.StateTimeWait:
		return TimeWait
	}
	return Closed
}

// edges are the transitions gVisor's TCP makes in one step (the call sites
// of setEndpointState in pkg/tcpip/transport/tcp). Note FIN-WAIT-1 ->
// TIME-WAIT: on a FIN that also acknowledges our FIN, gVisor skips
// FIN-WAIT-2, where RFC 9293 and Linux pass through it.
var edges = [numStates][]State{
	Closed:      {SynSent, SynReceived, Listen, Established},
	Listen:      {Closed},
	SynSent:     {Established, SynReceived, Closed},
	SynReceived: {Established, Closed},
	Established: {FinWait1, CloseWait, Closed},
	FinWait1:    {FinWait2, Closing, TimeWait, Closed},
	FinWait2:    {TimeWait, Closed},
	CloseWait:   {LastAck, Closed},
	Closing:     {TimeWait, Closed},
	LastAck:     {Closed},
	TimeWait:    {Closed},
}

// path returns the states strictly between from and to on the shortest path
// of gVisor's state graph, or nil when to is one step from from.
func path(from, to State) []State {
	var prev [numStates]State
	var seen [numStates]bool
	seen[from] = true
	queue := []State{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, n := range edges[s] {
			if seen[n] {
				continue
			}
			seen[n], prev[n] = true, s
			if n == to {
				var mid []State
				for p := prev[to]; p != from; p = prev[p] {
					mid = append([]State{p}, mid...)
				}
				return mid
			}
			queue = append(queue, n)
		}
	}
	return nil
}

// EndpointKey names an endpoint of a run: its host and its number there
// (Transition.Endpoint).
type EndpointKey struct {
	Host     string
	Endpoint int
}

// Transition is one change of state of one endpoint.
type Transition struct {
	At   time.Duration
	Host string
	// Endpoint numbers the host's endpoints from 1 in the order they were
	// first seen; it tells incarnations of one tuple apart.
	Endpoint int
	// Local and Remote are the endpoint's addresses when the transition was
	// observed (Remote is invalid for a listener).
	Local, Remote netip.AddrPort
	From, To      State
	// Inferred marks a state that one event passed through without the
	// stack resting in it (e.g. SYN-RECEIVED -> ESTABLISHED -> CLOSE-WAIT on
	// one segment): it is placed from gVisor's state graph.
	Inferred bool
	// Cause says what ended or skipped a state when it was not the stack's
	// own doing: a linux-profile rule ("linux tcp_rfc1337=0: ..."), or what
	// closed a TIME-WAIT early ("reused by a new connection"). Empty when
	// the stack did it (a TIME-WAIT timer, a segment).
	Cause string
	// Order places the transition among packets and transitions in the
	// order the World recorded them.
	Order int64
}

// TimeWaitRestart is a TIME-WAIT whose timer restarted without the state
// changing: the host re-ACKed a retransmitted FIN (RFC 9293 3.10.7.4: the
// peer's FIN came again because the final ACK was lost) or, on a
// linux-profile host, any segment tcp_timewait_state_process restarts the
// timer for. It is not a Transition: the endpoint stays in TIME-WAIT.
type TimeWaitRestart struct {
	At       time.Duration
	Host     string
	Endpoint int // as Transition.Endpoint
	// Local and Remote are the endpoint's addresses.
	Local, Remote netip.AddrPort
	// Until is when the restarted timer fires: TIME-WAIT ends then unless
	// something ends or restarts it again.
	Until time.Duration
	// Cause says what restarted it, as the trace of the segment does
	// ("retransmitted FIN: ACK, timer restarted").
	Cause string
	// Order places the restart among packets and transitions (as
	// Transition.Order).
	Order int64
}

func (t Transition) String() string {
	inf := ""
	if t.Inferred {
		inf = " (inferred)"
	}
	return fmt.Sprintf("%v %s %v %v: %v -> %v%s", t.At, t.Host, t.Local, t.Remote, t.From, t.To, inf)
}
