// Package diagram draws a run as pictures: a ladder (sequence) diagram as
// SVG or as a Mermaid sequence diagram, a timeline of each socket's states,
// and plots of a host's sockets by state over time.
//
// It owns layout and drawing only: it reads a trace (trace.Row) and the
// transitions a World recorded (sim.Transition) and writes bytes that are
// the same on every machine for the same input (no map order, no clock,
// fixed number formats). Every text it writes is escaped for its format.
// It never runs a World and never decides what a run means.
package diagram
