// Package sim owns virtual time and runs real gVisor TCP stacks on it.
//
// A World runs heaps of events ordered by (virtual time, insertion
// sequence): gVisor timer callbacks, packet deliveries and scenario
// actions. It has one heap, in one lane (lane.go), unless Parallel split its
// nodes into lanes; then one runner per core takes the lanes of each
// window of virtual time, the windows shorter than the shortest delay of
// a link between two lanes, and what crosses between lanes is queued in a
// fixed order at each window's end (parallel.go), so the outputs do not
// depend on the cores.
// Each Host is a gVisor network stack (IPv4 and TCP) on a NIC of the World's
// own. Links (package netem) join hosts and middle hops (Hop: a router, or a
// NAT with netem's RFC 5382 model) and decide when, and whether, each packet
// arrives; a hop forwards a packet one link closer to its destination the
// instant it arrives, and the trace records the packet once per link it
// crosses. Sockets (Listen, Connect, Send, Shutdown,
// Close) are driven from the simulation goroutine, and every state change of
// every endpoint is recorded with RFC 9293 state names, including endpoints
// the application already closed.
//
// A host with the linux profile behaves as Linux (6.18, or 4.9) where
// TIME-WAIT is concerned: its TIME-WAIT and orphaned FIN-WAIT-2 become
// Linux's timewait sockets (timewait.go, with the state machine in package
// timewait; their timers fire on the kernel's timer wheel), connect()
// searches ports as Linux does (ports.go, portset.go), a connection that
// takes a TIME-WAIT tuple over is shifted onto Linux's sequence numbers
// (seqadj.go), and a policy layer applies Linux's rules to
// every packet in and out (linux.go, rto.go, knobs.go).
//
// Under either profile, connect() costs what it touches, not the size of
// the port range: a search known to fail fails at once (exhaust.go), and
// gVisor's search starts past the ports the host knows its connections
// hold (pick.go), each giving exactly the port and errno the whole search
// would.
//
// Host.HeapBytes accounts for the heap the World holds for a host's
// connections (account.go): counts of what it holds times measured sizes,
// not a reading of the runtime, so that samples are the same bytes on
// every run.
//
// Determinism is the point: one seed (Options.Seed) derives every random
// stream, the stacks see only the World's clock, a host's TCP processor is
// barriered after every packet it receives, and nothing that reaches output
// iterates a map. The same program and seed give the same packets, times and
// transitions on any machine and any GOMAXPROCS; docs/determinism.md explains
// how. Every run is bounded by Options.MaxTime, Options.MaxEvents and
// Options.MaxMemory, and its hosts (built outside any event) by
// Options.MaxHosts.
//
// sim never reads wall-clock time or a global random source, and nothing in
// it may: that would break the guarantee above.
package sim
