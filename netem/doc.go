// Package netem models what a network does to packets: one-way delay, seeded
// random loss, and targeted rules that drop, delay, duplicate or hold chosen
// packets ("the client's first pure ACK after the server's FIN"). It also
// builds TCP/IPv4 segments (for injection) and decodes them.
//
// netem works on packet bytes only: a Link takes a packet and the time it
// entered and answers where each copy goes and when. It never touches a
// stack and never schedules anything, so every model is testable with bytes
// alone. Its randomness comes from Options.Seed; it never reads wall-clock
// time or a global random source.
package netem
