package sim

// This file is the World's account of the Go heap it holds for a host's
// connections (sample's heap column).
//
// It is an account, not a reading: counts of what the host holds, each
// times the bytes one of them costs, as measured with heap profiles
// (docs/performance.md, "Memory per connection"). Reading the runtime's
// heap would give a different number on every run, and a series must be
// the same bytes on every run. TestHeapAccount measures the heap of five
// populations (gVisor TIME-WAITs, ESTABLISHED pairs under either profile,
// linux-profile TIME-WAITs, refused connects left open) and fails when the
// account is off by more than 15 %, as it would be after gVisor or Go
// changed their sizes.
const (
	// endpointHeap is a gVisor TCP endpoint and what comes with it, by
	// allocation site in a heap profile of 3,000 ESTABLISHED pairs: the
	// Endpoint (1,560 bytes, a 1,792-byte object), its sender, receiver
	// and SACK scoreboard (about 1,500), its registration in the
	// demultiplexer (about 470), its route (192), the handshake it keeps
	// (about 280), its timers (about 320), our record of it (about 150),
	// and its share of the maps that find it (about 100).
	endpointHeap = 4800
	// deadEndpointHeap is an endpoint that has ended while its socket is
	// open (the application has not closed it): the Endpoint object and
	// what it still points to, its registration, port and route gone
	// (2,416 bytes for a refused connect).
	deadEndpointHeap = 2400
	// ownPortHeap is gVisor's reservation of a port an endpoint holds
	// itself (connect's ephemeral port, a listener's port): the port
	// manager's nested maps, about 1,440 bytes. An accepted connection
	// shares its listener's port and has none.
	ownPortHeap = 1440
	// socketHeap is our Socket (a 512-byte object), its waiter queue and
	// entry.
	socketHeap = 570
	// lconnHeap is the linux profile's note of a live connection (lconn,
	// its map entry).
	lconnHeap = 250
	// timewaitHeap is a linux-profile timewait socket: its timewait.Sock,
	// the connection's record, the map entry by tuple, the heap slot and
	// the port bit (BenchmarkTimeWaitMemory/linux: 338-340 bytes).
	timewaitHeap = 340
)

// HeapBytes is the World's account of the heap it holds for the host's
// connections: its gVisor endpoints, its sockets and the bytes they
// received (kept for expectations), the linux profile's notes and
// timewait sockets. Bytes waiting in gVisor's send and receive queues are
// not in it. It is -1 for a kernel host, whose connections are the
// kernel's.
func (h *Host) HeapBytes() int64 {
	if h.kern != nil {
		return -1
	}
	o := &h.obs
	var eps, own int
	for s := range numStates {
		if State(s) != Closed {
			eps += o.current[s]
			own += o.ownPort[s]
		}
	}
	eps -= h.ntw // records whose endpoint became a timewait socket
	return int64(eps)*endpointHeap + int64(h.deadEPs)*deadEndpointHeap + int64(own)*ownPortHeap + int64(len(h.sockets))*socketHeap +
		int64(len(h.pol.conns))*lconnHeap + int64(h.ntw)*timewaitHeap + h.held
}

// holdsDead notes that s, which the application has not closed, holds an
// endpoint that has ended (CLOSED after a reset, a refusal or a timeout;
// a linux-profile TIME-WAIT's aborted endpoint): gVisor's objects stay
// until the socket is released.
func (h *Host) holdsDead(s *Socket) {
	if s != nil && s.ep != nil && !s.deadEP {
		s.deadEP = true
		h.deadEPs++
	}
}

// ownsPort notes that r's endpoint reserved a port of its own.
func (o *observer) ownsPort(r *epRec) {
	if r != nil && !r.ownPort {
		r.ownPort = true
		o.ownPort[r.state]++
	}
}

// portGone notes that r's endpoint no longer holds its port (it became
// a timewait socket, which keeps the port in the profile's own table).
func (o *observer) portGone(r *epRec) {
	if r.ownPort {
		r.ownPort = false
		o.ownPort[r.state]--
	}
}
