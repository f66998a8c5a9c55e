// Package kernel is tcpsim's second backend: the running Linux kernel. A
// host is a network namespace of its own with a TUN device carrying its
// address, its sockets are the kernel's, its knobs the namespace's sysctls,
// its states come from sock_diag and its counters from the namespace's
// /proc/net/netstat and /proc/net/snmp.
//
// The package owns the kernel side of that: creating and tearing down
// namespaces and TUN devices, opening sockets inside a namespace, reading
// sock_diag and the counters, writing sysctls. It never models anything:
// links, hops, rules and NATs stay package netem's, driven by whoever moves
// packets between the TUN devices.
//
// This is the one package of tcpsim that reads wall-clock time and depends
// on the machine it runs on: the kernel's timers run on real time, and what
// it does is the answer, not a prediction. Namespaces are anonymous (held by
// file descriptors, never named under /var/run/netns), so nothing outlives
// the process, whatever way it ends. Everything needs CAP_NET_ADMIN;
// without it New returns ErrPrivilege.
package kernel
