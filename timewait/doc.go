// Package timewait models Linux's TIME-WAIT minisocket: the small
// inet_timewait_sock (slab tw_sock_TCP, 256 bytes) that tcp_time_wait()
// (net/ipv4/tcp_minisocks.c) puts in place of a full socket when a
// connection enters TIME-WAIT, or when a socket the application closed has
// its FIN acknowledged (the FIN-WAIT-2 substate).
//
// A Sock keeps the fields Linux keeps (tw_rcv_nxt, tw_snd_nxt, tw_rcv_wnd,
// tw_ts_recent, tw_ts_recent_stamp, tw_ts_offset, tw_entry_stamp,
// tw_last_oow_ack_time, the substate). Process decides what happens to a
// segment that reaches it, branch by branch as tcp_timewait_state_process()
// does; Reusable is tcp_twsk_unique(), which decides whether a new outgoing
// connection may take the tuple over; ACK gives the fields of the segment
// tcp_v4_timewait_ack() sends.
//
// WheelFire and TimerDue say when a kernel timer fires: at the end of the
// timer wheel bucket calc_wheel_index (kernel/time/timer.c) files it in,
// up to a bucket's span after its expiry (2.048 s for a 60 s timer at
// HZ=250), which is when a timewait socket's TIME-WAIT really ends.
//
// PAWSCheck, PAWSReject and OOWRateLimited are the timestamp and rate-limit
// rules the timewait socket applies; they are exported because Linux
// applies the same ones to a full socket (tcp_validate_incoming), which is
// where package sim uses them too.
//
// The package owns those decisions and nothing else: it never touches a
// stack, builds or sends a packet, schedules a timer or reads a clock. The
// caller (package sim, under the linux profile) passes the host's monotonic
// time in, carries out the verdict and keeps the timer. Which kernel's rules
// apply (6.18 by default, or 4.9 as the TIME-WAIT articles knew it) comes in
// through Rules.
package timewait
