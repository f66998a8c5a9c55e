// Package sweep runs a notebook over a grid of parameter values: the
// points of the grid, a shard of them for one machine of many, the runs on
// every core (each World deterministic from the notebook's seed, whatever
// runs beside it), one CSV row per point, and the merge of shards' CSVs
// into the bytes one machine would have written.
//
// It owns the grid and the table. It never interprets a notebook (package
// scenarios does) and never reads a clock.
package sweep
