package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tcpsim/tcpsim/sim"
)

// The views in this file print a host's state in the formats of the Linux
// tools the TIME-WAIT literature uses (ss, netstat, nstat, dmesg), so that
// the articles' one-liners work on them unchanged, e.g.
//
//	netstat -n | awk '/^tcp/ {++S[$NF]} END {for(a in S) print a, S[a]}'
//
// Queue columns (Recv-Q, Send-Q) are always 0: tcpsim does not sample them.

var ssNames = map[sim.State]string{ // lookups only
	sim.Listen: "LISTEN", sim.SynSent: "SYN-SENT", sim.SynReceived: "SYN-RECV",
	sim.Established: "ESTAB", sim.FinWait1: "FIN-WAIT-1", sim.FinWait2: "FIN-WAIT-2",
	sim.CloseWait: "CLOSE-WAIT", sim.Closing: "CLOSING", sim.LastAck: "LAST-ACK",
	sim.TimeWait: "TIME-WAIT", sim.Closed: "UNCONN",
}

var netstatNames = map[sim.State]string{ // lookups only
	sim.Listen: "LISTEN", sim.SynSent: "SYN_SENT", sim.SynReceived: "SYN_RECV",
	sim.Established: "ESTABLISHED", sim.FinWait1: "FIN_WAIT1", sim.FinWait2: "FIN_WAIT2",
	sim.CloseWait: "CLOSE_WAIT", sim.Closing: "CLOSING", sim.LastAck: "LAST_ACK",
	sim.TimeWait: "TIME_WAIT", sim.Closed: "CLOSE",
}

func peer(e sim.Endpoint, wildcard string) string {
	if e.Remote.IsValid() {
		return e.Remote.String()
	}
	return wildcard
}

// WriteSS prints the host's TCP sockets as `ss -tan` does.
func WriteSS(out io.Writer, h *sim.Host) error { return writeSS(out, h, false) }

// WriteSSTimers prints the host's TCP sockets as `ss -tano` does: the timer
// column shows how long each timewait socket (linux profile: TIME-WAIT and
// orphaned FIN-WAIT-2) has left, "timer:(timewait,59sec,0)". tcpsim shows
// no other timer.
func WriteSSTimers(out io.Writer, h *sim.Host) error { return writeSS(out, h, true) }

func writeSS(out io.Writer, h *sim.Host, timers bool) error {
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "State      Recv-Q Send-Q Local Address:Port    Peer Address:Port")
	for _, e := range h.Endpoints() {
		line := fmt.Sprintf("%-10s %-6d %-6d %-21s %-21s", ssNames[e.State], 0, 0, e.Local, peer(e, "*:*"))
		if timers && e.TimeWaitSocket {
			line += fmt.Sprintf(" timer:(timewait,%s,0)", msTimer(e.Expires))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	return w.Flush()
}

// msTimer formats a timer as ss's print_ms_timer does: "59sec", "1min",
// "2.788ms" (which ss prints for 2.788 s), "500ms".
func msTimer(d time.Duration) string {
	timeout := max(int64(d/time.Millisecond), 0)
	secs, msecs := timeout/1000, timeout%1000
	minutes := secs / 60
	secs %= 60
	var b strings.Builder
	if minutes > 0 {
		msecs = 0
		fmt.Fprintf(&b, "%dmin", minutes)
		if minutes > 9 {
			secs = 0
		}
	}
	if secs > 0 {
		if secs > 9 {
			msecs = 0
		}
		sep := "sec"
		if msecs > 0 {
			sep = "."
		}
		fmt.Fprintf(&b, "%d%s", secs, sep)
	}
	if msecs > 0 {
		fmt.Fprintf(&b, "%03dms", msecs)
	}
	return b.String()
}

// WriteSSSummary prints `ss -s` for the host (TCP only).
func WriteSSSummary(out io.Writer, h *sim.Host) error {
	var total, estab, orphan, tw int
	for _, e := range h.Endpoints() {
		total++
		switch {
		case e.State == sim.Established:
			estab++
		case e.State == sim.TimeWait:
			tw++
		}
		if e.Orphan && e.State != sim.TimeWait && e.State != sim.Listen {
			orphan++
		}
	}
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "Total: %d\n", total)
	fmt.Fprintf(w, "TCP:   %d (estab %d, closed 0, orphaned %d, timewait %d)\n\n", total, estab, orphan, tw)
	fmt.Fprintf(w, "Transport Total     IP        IPv6\n")
	fmt.Fprintf(w, "RAW       0         0         0\n")
	fmt.Fprintf(w, "UDP       0         0         0\n")
	fmt.Fprintf(w, "TCP       %-9d %-9d 0\n", total-tw, total-tw)
	fmt.Fprintf(w, "INET      %-9d %-9d 0\n", total-tw, total-tw)
	fmt.Fprintf(w, "FRAG      0         0         0\n")
	return w.Flush()
}

// WriteNetstat prints the host's TCP sockets as `netstat -ant` does.
func WriteNetstat(out io.Writer, h *sim.Host) error {
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "Active Internet connections (servers and established)")
	fmt.Fprintln(w, "Proto Recv-Q Send-Q Local Address           Foreign Address         State")
	for _, e := range h.Endpoints() {
		line := fmt.Sprintf("%-5s %6d %6d %-23s %-23s %-11s", "tcp", 0, 0, e.Local, peer(e, "0.0.0.0:*"), netstatNames[e.State])
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	return w.Flush()
}

// WriteNstat prints the host's counters as `nstat -az` does (the rate
// column is 0.0: tcpsim keeps no history).
func WriteNstat(out io.Writer, h *sim.Host) error {
	w := bufio.NewWriter(out)
	fmt.Fprintln(w, "#kernel")
	for _, c := range h.Counters() {
		fmt.Fprintf(w, "%-32s%-16d%6.1f\n", c.Name, c.Value, 0.0)
	}
	return w.Flush()
}

// WriteDmesg prints the host's kernel log lines as `dmesg` does.
func WriteDmesg(out io.Writer, h *sim.Host) error {
	w := bufio.NewWriter(out)
	for _, l := range h.Log() {
		fmt.Fprintln(w, l)
	}
	return w.Flush()
}

// Linux 6.18's slab of timewait sockets, as /proc/slabinfo shows it on
// the project's machine: tw_sock_TCP objects of 256 bytes, 16 to a slab of
// one 4 KiB page (struct tcp_timewait_sock, net/ipv4/tcp_minisocks.c
// tcp_time_wait allocating it through inet_twsk_alloc).
const (
	twObjSize     = 256
	twObjsPerSlab = 16
	twSlabBytes   = 4096
)

// WriteSlabtop prints the line `slabtop -o` has for tw_sock_TCP: one
// object per timewait socket (TIME-WAIT and orphaned FIN-WAIT-2) the
// linux-profile host holds, packed into as few slabs as they fill (the
// kernel's partly filled slabs make its OBJS a little larger than ACTIVE,
// 95 % used in the articles' slabtop; tcpsim has no allocator history). A
// gvisor-profile host has no such slab: its TIME-WAITs are whole endpoints.
func WriteSlabtop(out io.Writer, h *sim.Host) error {
	w := bufio.NewWriter(out)
	if h.IsKernel() {
		fmt.Fprintf(w, "(a kernel-mode host: the slab is the machine's, shared by every namespace; read /proc/slabinfo)\n")
		return w.Flush()
	}
	if h.Options().Profile != sim.Linux {
		fmt.Fprintf(w, "(no tw_sock_TCP: a gvisor-profile host keeps each of its %d TIME-WAITs as a whole gVisor endpoint, about 7 KB of tcpsim's heap each; see docs/performance.md)\n", h.StateCount(sim.TimeWait))
		return w.Flush()
	}
	n := h.TimeWaitSockets()
	slabs := (n + twObjsPerSlab - 1) / twObjsPerSlab
	use := 0
	if slabs > 0 {
		use = 100 * n / (slabs * twObjsPerSlab)
	}
	fmt.Fprintf(w, "  OBJS ACTIVE  USE OBJ SIZE  SLABS OBJ/SLAB CACHE SIZE NAME\n")
	fmt.Fprintf(w, "%6d %6d %3d%%    %.2fK %6d %8d %9dK tw_sock_TCP\n", slabs*twObjsPerSlab, n, use, float64(twObjSize)/1024, slabs, twObjsPerSlab, slabs*twSlabBytes/1024)
	return w.Flush()
}
