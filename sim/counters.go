package sim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tcpsim/tcpsim/timewait"
)

// This file is the host's counters as nstat names them: the Tcp* ones from
// gVisor's statistics, the TcpExt* ones tcpsim counts where the modelled
// kernel counts them, for hosts of both profiles.

// counter numbers the counters the host keeps itself.
type counter int

const (
	cTW counter = iota
	cTWRecycled
	cTWKilled
	cTimeWaitOverflow
	cPAWSPassive
	cPAWSEstab
	cPAWSTimewait
	cACKSkippedTimeWait
	cACKSkippedFinWait2
	cListenDrops
	cAbortOnData
	cAbortOnClose
	cAbortOnLinger
	cPAWSOldAck
	cACKSkippedPAWS
	numCounters
)

var counterNames = [numCounters]string{
	"TcpExtTW", "TcpExtTWRecycled", "TcpExtTWKilled", "TcpExtTCPTimeWaitOverflow",
	"TcpExtPAWSPassive", "TcpExtPAWSEstab", "TcpExtPAWSTimewait", "TcpExtTCPACKSkippedTimeWait",
	"TcpExtTCPACKSkippedFinWait2", "TcpExtListenDrops", "TcpExtTCPAbortOnData",
	"TcpExtTCPAbortOnClose", "TcpExtTCPAbortOnLinger", "TcpExtPAWSOldAck", "TcpExtTCPACKSkippedPAWS",
}

// hasCounter reports whether the host's kernel has counter c: 6.18 has no
// PAWSPassive (tcp_tw_recycle is gone), 4.9 no PAWSTimewait (added in
// 6.16) and no PAWSOldAck (6.14). A gVisor host shows 6.18's names.
func (h *Host) hasCounter(c counter) bool {
	old := h.opts.Profile == Linux && h.opts.Kernel == timewait.Linux49
	switch c {
	case cPAWSPassive:
		return old
	case cPAWSTimewait, cPAWSOldAck:
		return !old
	}
	return true
}

func (h *Host) count(c counter) { h.counters[c]++ }

// Counter is one of a host's counters, named as Linux's nstat names it.
type Counter struct {
	Name  string
	Value uint64
}

// Counters returns the host's counters with nstat's names: the Tcp* ones
// from gVisor's statistics (plus what the host's timewait sockets received
// and sent), the TcpExt* ones counted by tcpsim where the kernel counts
// them, sorted by name.
func (h *Host) Counters() []Counter {
	if h.kern != nil {
		c, err := h.kern.k.Counters()
		if err != nil && h.kern.err == nil {
			h.kern.err = fmt.Errorf("host %s: %w", h.name, err)
		}
		return c
	}
	s := h.stack.Stats().TCP
	estab, outSegs := s.CurrentEstablished.Value(), s.SegmentsSent.Value()-h.swallowed+h.ownOut
	if h.opts.Profile == Linux {
		// tcp_set_state counts CLOSE-WAIT as established; __tcp_transmit_skb
		// counts a segment in OUTSEGS only when it sends new sequence space
		// or none, so retransmissions are left out.
		estab = uint64(h.obs.current[Established] + h.obs.current[CloseWait])
		outSegs -= s.Retransmits.Value()
	}
	out := []Counter{
		{"TcpActiveOpens", s.ActiveConnectionOpenings.Value()},
		{"TcpPassiveOpens", s.PassiveConnectionOpenings.Value()},
		{"TcpEstabResets", s.EstablishedResets.Value()},
		{"TcpCurrEstab", estab},
		{"TcpInSegs", s.ValidSegmentsReceived.Value() + h.ownIn},
		{"TcpOutSegs", outSegs},
		{"TcpRetransSegs", s.Retransmits.Value()},
		{"TcpOutRsts", s.ResetsSent.Value() - h.swallowedRST + h.ownRST},
	}
	for i, n := range counterNames {
		if h.hasCounter(counter(i)) {
			out = append(out, Counter{n, h.counters[i]})
		}
	}
	slices.SortFunc(out, func(a, b Counter) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CounterValue returns one counter by its nstat name.
func (h *Host) CounterValue(name string) (uint64, bool) { return CounterOf(h.Counters(), name) }

// CounterOf returns the value of the counter named name among cs.
func CounterOf(cs []Counter, name string) (uint64, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c.Value, true
		}
	}
	return 0, false
}
