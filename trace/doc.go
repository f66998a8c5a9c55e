// Package trace renders what a sim.World observed: the packet trace in a
// tcpdump-like text form, a two-column ladder diagram with each side's state
// changes beside the packets, a pcap file that Wireshark and tshark read, and
// the JSON document described in docs/json.md.
//
// Everything trace writes is a pure function of the World's records: it
// reads no clock and iterates no map, so the same run gives the same bytes.
package trace
