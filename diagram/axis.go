package diagram

import (
	"slices"
	"time"
)

// timeAxis maps virtual times to vertical positions: to scale while gaps
// are short, and with a labelled break for a gap that would not fit (a
// 2MSL wait, a packet held for minutes). Each distinct time gets room for
// the items that start at it, one under the other.
type timeAxis struct {
	times  []time.Duration // distinct, ascending
	ys     []float64       // y of each time's first item
	slots  []int           // items starting at each time
	used   []int           // items placed so far at each time
	breaks []axisBreak
	bottom float64
	// linear axes map t to left + t*scale (linearAxis).
	linear      bool
	left, scale float64
}

// axisBreak is a gap drawn shorter than its length.
type axisBreak struct {
	y0, y1 float64
	d      time.Duration
}

// Layout constants, in SVG user units (pixels at 100%).
const (
	rowHeight  = 22.0  // one item (an arrow's start, a state label)
	maxGap     = 140.0 // the tallest gap drawn to scale
	breakGap   = 56.0  // the height of a broken gap
	minScale   = 400.0 // pixels per second, at least
	maxScale   = 40000.0
	typicalGap = 40.0 // the height the median gap gets
)

// newTimeAxis lays times out from top. starts holds the time of each item
// that needs a row of its own; ends, the times that only need a position
// (arrivals).
func newTimeAxis(top float64, starts, ends []time.Duration) *timeAxis {
	all := append(slices.Clone(starts), ends...)
	slices.Sort(all)
	all = slices.Compact(all)
	a := &timeAxis{times: all, ys: make([]float64, len(all)), slots: make([]int, len(all)), used: make([]int, len(all))}
	for _, t := range starts {
		i, _ := slices.BinarySearch(all, t)
		a.slots[i]++
	}
	// The scale gives the median gap between neighbouring times a
	// readable height.
	var gaps []time.Duration
	for i := 1; i < len(all); i++ {
		gaps = append(gaps, all[i]-all[i-1])
	}
	scale := minScale
	if len(gaps) > 0 {
		slices.Sort(gaps)
		if med := gaps[len(gaps)/2].Seconds(); med > 0 {
			scale = min(max(typicalGap/med, minScale), maxScale)
		}
	}
	y := top
	for i, t := range all {
		if i > 0 {
			d := t - all[i-1]
			h := d.Seconds() * scale
			if h > maxGap {
				a.breaks = append(a.breaks, axisBreak{y0: y, y1: y + breakGap, d: d})
				h = breakGap
			}
			y += h
		}
		a.ys[i] = y
		y += rowHeight * float64(max(a.slots[i], 1))
	}
	a.bottom = y
	return a
}

// at returns the y of time t (the first row of its slot).
func (a *timeAxis) at(t time.Duration) float64 {
	if a.linear {
		return a.left + t.Seconds()*a.scale
	}
	i, ok := slices.BinarySearch(a.times, t)
	if !ok {
		// Not laid out: between its neighbours.
		if i == 0 {
			return a.ys[0]
		}
		if i == len(a.times) {
			return a.bottom
		}
		return a.ys[i-1]
	}
	return a.ys[i]
}

// next returns the y of the next free row at time t.
func (a *timeAxis) next(t time.Duration) float64 {
	i, ok := slices.BinarySearch(a.times, t)
	if !ok {
		return a.at(t)
	}
	y := a.ys[i] + rowHeight*float64(a.used[i])
	a.used[i]++
	return y
}

// linearAxis maps [0, end] onto [left, left+width] at one scale, with a
// labelled time every tenth of the way and no breaks.
func linearAxis(left, width float64, end time.Duration) *timeAxis {
	if end <= 0 {
		end = time.Second
	}
	a := &timeAxis{linear: true, left: left, scale: width / end.Seconds(), bottom: left + width}
	for i := 0; i <= 10; i++ {
		t := end * time.Duration(i) / 10
		a.times = append(a.times, t)
		a.ys = append(a.ys, a.at(t))
		a.slots, a.used = append(a.slots, 0), append(a.used, 0)
	}
	return a
}
