// Package conformance compares two runs of one notebook by structure: the
// linux profile's (the model) and the kernel backend's (the truth). It owns
// what "the same" means across backends: per socket the states it rested
// in and how long it stayed in each (within a tolerance), per connection
// on each link the segments (direction, flags, length, sequence and
// acknowledgement numbers relative to each side's ISN, what the timestamp
// echoes, what the link did with it), and the counters both backends keep.
//
// It never runs anything and never looks at ephemeral ports, ISNs,
// timestamp values or packet numbers, which a kernel chooses differently
// on every run; sockets and connections are named by their hosts and
// their fixed ports (a port some host listens on), and told apart by the
// order they appeared in.
package conformance
