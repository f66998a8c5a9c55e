package sim

import "net/netip"

// Routing. Every node knows, for each destination address, the link one
// step closer to the node that owns it (a host, or a NAT by its outside
// address): fewest links first, ties going to the link added first. Hosts
// do not forward. A NAT keeps its inside private: a node beyond its outside
// link has no route to an address inside, only to the NAT's own address.
//
// Routes are computed per destination when first needed and forgotten when
// the topology changes. The maps are only looked up, never iterated.

// nextLink returns the link a packet at node n takes toward dst, or nil.
// Requires ln.mu (or the run loop with no stack running).
func (ln *lane) nextLink(n Node, dst netip.Addr) *Link {
	if ln.routes == nil {
		ln.routes = map[netip.Addr]map[Node]*Link{}
	}
	next, ok := ln.routes[dst]
	if !ok {
		next = ln.w.computeRoutes(dst)
		ln.routes[dst] = next
	}
	return next[n]
}

// forgetRoutesLocked drops every lane's routes: the topology changed.
// Requires every lane's mu (lockAll).
func (w *World) forgetRoutesLocked() {
	for _, ln := range w.lanes {
		ln.routes = nil
	}
}

// computeRoutes runs a breadth-first search out from dst's owner over the
// links in the order they were added.
func (w *World) computeRoutes(dst netip.Addr) map[Node]*Link {
	next := map[Node]*Link{}
	owner := w.owner(dst)
	if owner == nil {
		return next
	}
	seen := map[Node]bool{owner: true}
	queue := []Node{owner}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var barred *Link
		if n != owner {
			hop, ok := n.(*Hop)
			if !ok {
				continue // a host does not forward
			}
			if out := hop.outside; out != nil && next[n] != out {
				// dst lies inside this NAT: nothing outside may reach it.
				barred = out
			}
		}
		for _, l := range w.links {
			var m Node
			switch n {
			case l.a:
				m = l.b
			case l.b:
				m = l.a
			default:
				continue
			}
			if l == barred || seen[m] {
				continue
			}
			seen[m] = true
			next[m] = l
			queue = append(queue, m)
		}
	}
	return next
}

// Route returns the nodes a packet sent from n to address dst passes through,
// n first and dst's owner last, or nil when there is no route. It follows
// routing only: a NAT on the way may still refuse the packet.
func (w *World) Route(n Node, dst netip.Addr) []Node {
	ln := w.lanes[0]
	ln.mu.Lock()
	defer ln.mu.Unlock()
	path := []Node{n}
	for range len(w.hosts) + len(w.hops) {
		l := ln.nextLink(n, dst)
		if l == nil {
			break
		}
		n = l.other(n)
		path = append(path, n)
	}
	if last := path[len(path)-1]; len(path) == 1 || last != w.owner(dst) {
		return nil
	}
	return path
}

// Path returns the nodes between a and b (both included), as a packet from
// a addressed to b travels, or nil when b is unreachable from a. For a host
// b the address is b's; for a NAT it is the NAT's outside address; a router
// has no address, so the path to it is the one to any host beyond it that
// it lies on, or nil.
func (w *World) Path(a, b Node) []Node {
	switch b := b.(type) {
	case *Host:
		return w.Route(a, b.addr)
	case *Hop:
		if b.nat != nil {
			return w.Route(a, b.nat.Addr())
		}
		for _, h := range w.hosts {
			p := w.Route(a, h.addr)
			for i, n := range p {
				if n == Node(b) {
					return p[:i+1]
				}
			}
		}
	}
	return nil
}

// NodeNames returns the names of nodes, in order.
func NodeNames(ns []Node) []string {
	out := make([]string, 0, len(ns))
	for _, n := range ns {
		out = append(out, n.Name())
	}
	return out
}
