// Package report renders a notebook's run as one self-contained HTML page
// (and an index of several), for a teacher to open offline: the prose,
// each cell with its output, every ladder as SVG, the expectations as a
// checklist, each socket's states, and plots of each host's sockets by
// state.
//
// It owns the page: its layout, its style, and escaping every text it
// writes. It never runs a notebook (package scenarios does) and never
// draws a diagram itself (package diagram does); the page holds no script
// and fetches nothing.
package report
