package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tcpsim/tcpsim/sim"
)

// This file is the notebook's names for sockets: the sockets it opened
// (connect, listen) and the connections its listeners accepted
// (LISTENER/N), in creation order.
//
// Under records none the notebook keeps an accepted connection by name
// only while its socket exists: once the application closed it and the
// World let go of it (sim.Socket.Released: its connection is gone, or,
// under the linux profile, it entered TIME-WAIT, where Linux frees the
// socket and keeps a timewait socket, which ss and the counts still
// show), LISTENER/N names nothing and saying it is an error. A server
// that accepts 600,000 connections would otherwise keep 600,000 sockets,
// 650 bytes each, that nothing asks about. A statement that named the
// connection before then follows it to its end.

// sweepMin is the fewest sockets record sweeps for forgotten ones.
const sweepMin = 1024

// maxNamesShown bounds the names an error lists.
const maxNamesShown = 20

// record names a socket the notebook opened or accepted.
func (in *interp) record(name string, h *sim.Host, s *sim.Socket, spec *listenSpec) *sock {
	return in.keep(&sock{name: name, host: h, s: s, created: h.Now(), listener: spec})
}

// accepted names a connection listener lk accepted, in an event of its
// host's lane. Under parallel the lanes run at once: each lane's go to a
// list of its own, which gather takes in, lane by lane, between windows.
func (in *interp) accepted(name string, h *sim.Host, s *sim.Socket, lk *sock) {
	sk := &sock{name: name, host: h, s: s, created: h.Now(), of: lk}
	if in.laneSocks == nil {
		in.keep(sk)
		return
	}
	i := in.w.LaneOf(h)
	in.laneSocks[i] = append(in.laneSocks[i], sk)
}

// gather keeps the connections the lanes accepted in the last window.
func (in *interp) gather() {
	for i, sks := range in.laneSocks {
		for j, sk := range sks {
			in.keep(sk)
			sks[j] = nil
		}
		in.laneSocks[i] = sks[:0]
	}
}

// keep adds sk to the notebook's sockets.
func (in *interp) keep(sk *sock) *sock {
	name := sk.name
	if ph := in.awaited[name]; ph != nil {
		*ph, sk = *sk, ph // expectations already hold the stand-in
		delete(in.awaited, name)
	}
	in.socks[name] = sk
	in.order = append(in.order, sk)
	if in.noRecords && len(in.order) >= max(in.sweepAt, sweepMin) {
		in.sweep()
	}
	return sk
}

// forgotten reports whether the notebook no longer names sk: under
// records none, an accepted connection whose socket is gone.
func (in *interp) forgotten(sk *sock) bool {
	return in.noRecords && sk.of != nil && sk.s.Released()
}

// sweep lets go of the forgotten sockets; it runs when the list has
// doubled since the last sweep, so its cost per socket is constant.
func (in *interp) sweep() {
	kept := in.order[:0]
	for _, sk := range in.order {
		if in.forgotten(sk) {
			delete(in.socks, sk.name)
			in.swept++
			continue
		}
		kept = append(kept, sk)
	}
	clear(in.order[len(kept):])
	in.order = kept
	in.sweepAt = 2 * len(kept)
}

// nforgotten is how many accepted connections the notebook has let go of.
func (in *interp) nforgotten() int {
	n := in.swept
	for _, sk := range in.order {
		if in.forgotten(sk) {
			n++
		}
	}
	return n
}

// named returns the socket the notebook calls name, or nil.
func (in *interp) named(name string) *sock {
	sk := in.socks[name]
	if sk == nil || in.forgotten(sk) {
		return nil
	}
	return sk
}

// sock returns the socket token t names, or a positioned error.
func (in *interp) sock(st stmt, t token) (*sock, error) {
	if sk := in.named(t.text); sk != nil {
		return sk, nil
	}
	if err := in.forgottenErr(st, t); err != nil {
		return nil, err
	}
	return nil, in.errAt(st, t, "unknown socket %q: want one of %s", t.text, in.sockNames())
}

// acceptedName splits LISTENER/N into the listener the notebook names and
// N; it returns nil when name is not of that form.
func (in *interp) acceptedName(name string) (*sock, int) {
	l, num, ok := strings.Cut(name, "/")
	if !ok {
		return nil, 0
	}
	lk := in.named(l)
	n, err := strconv.Atoi(num)
	if lk == nil || lk.listener == nil || err != nil || n < 1 || n > 1<<30 || strconv.Itoa(n) != num {
		return nil, 0 // LISTENER/01 or /+1 is no name record gives
	}
	return lk, n
}

// forgottenErr is the error for a token that names an accepted connection
// the notebook has let go of, or nil when it names none.
func (in *interp) forgottenErr(st stmt, t token) error {
	lk, n := in.acceptedName(t.text)
	if !in.noRecords || lk == nil || n > lk.naccept {
		return nil
	}
	return in.errAt(st, t, "%s was accepted and its socket is gone, and `records none` (line %d) keeps an accepted connection only while its socket exists: name it before it ends (an expectation written then follows it), or remove records none", t.text, in.recordsAt)
}

// sockNames lists the names of the notebook's sockets for an error: the
// first maxNamesShown in alphabetical order, and how many more there are.
func (in *interp) sockNames() string {
	var n []string
	for _, sk := range in.order {
		if !in.forgotten(sk) {
			n = append(n, sk.name)
		}
	}
	if len(n) == 0 {
		return "none opened yet"
	}
	slices.Sort(n)
	if len(n) > maxNamesShown {
		return fmt.Sprintf("%s and %d more", strings.Join(n[:maxNamesShown], ", "), len(n)-maxNamesShown)
	}
	return strings.Join(n, ", ")
}
