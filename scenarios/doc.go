// Package scenarios runs tcpsim notebooks: Markdown files whose fenced
// tcpsim cells are statements run top to bottom on one sim.World, and whose
// tcpsim-output blocks hold each cell's captured output.
//
// A notebook states a claim about TCP and checks it:
//
//	host client 10.0.0.1 msl=30s
//	host server 10.0.0.2 msl=30s
//	link client server delay=10ms
//	drop client>server pure-ack after server>client FIN
//	listen server 80
//	connect client server:80 as c
//	+0.1 close c
//	run
//	expect 1 packet server>client FIN retransmitted
//	expect c TIME-WAIT until #8.arrived+60s
//
// RunFile, RunText and Run (a built-in, by name) return a Result: the
// World, each expectation's verdict (Checks, Failures), the rewritten
// notebook (Rendered) and a unified diff against the file (Diff). A
// malformed statement is an error naming FILE:LINE:COL and what was
// expected. docs/notebooks.md is the language reference.
//
// The files, one job each: notebook.go (Markdown cells and rendering),
// lexer.go (a line into tokens), args.go (durations, times, options,
// addresses), interp.go (dispatch and time prefixes), world.go (seed, host,
// link, nat, sysctl), ranges.go (host ranges NAME[A-B]), records.go
// (records all|none, and needRecords, which every reader of the records
// calls where it is parsed), parallel.go (parallel: the notebook's hosts
// in lanes that run at once), http.go (counting HTTP responses),
// sample.go (sample), params.go (param), rules.go (link rules, netem, release), apps.go (listen, connect, send,
// close, shutdown, the workload statement), workload.go (a workload's
// connections and tallies, lane by lane), inject.go (crafted segments), views.go (trace,
// ladder, states, ss, netstat, nstat, slabtop, dmesg, conntrack), expect.go (the
// expect statement and state expectations), subject.go (what a state
// expectation is about and its history), expect_packets.go and
// expect_host.go (the other expectations), run.go (running a notebook,
// built-ins), diff.go (unified diffs). The shipped notebooks are
// in notebooks/ and embedded in the binary.
//
// Every verdict is computed from the run's records (under records none,
// from the counts the World keeps), never from the configuration, and the interpreter iterates no map into output, so a
// notebook's outputs are byte-identical on every rerun.
package scenarios
