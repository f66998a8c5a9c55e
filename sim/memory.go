package sim

import (
	"fmt"
	"runtime"
	"runtime/metrics"
)

// memoryCheckEvents is how often, in events, a World compares the heap
// with its memory budget: reading the heap's size costs about a
// microsecond, so a check every 1024 events costs nothing measurable, and
// an event allocates little enough that 1024 of them cannot overshoot the
// budget by much.
const memoryCheckEvents = 1024

// heapMetric is the runtime metric overMemory reads.
const heapMetric = "/memory/classes/heap/objects:bytes"

// overMemory reports whether the live heap exceeds limit bytes, reading it
// into sample (each lane has its own: lanes check at once). The heap's
// size counts garbage not yet collected, so when it is over, a collection
// tells what is live before the run is stopped.
func overMemory(sample []metrics.Sample, limit int64) bool {
	metrics.Read(sample)
	if int64(sample[0].Value.Uint64()) <= limit {
		return false
	}
	runtime.GC()
	metrics.Read(sample)
	return int64(sample[0].Value.Uint64()) > limit
}

// byteSize prints a byte count in the largest binary unit that divides it.
func byteSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
