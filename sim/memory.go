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

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// overMemory reports whether the live heap exceeds limit bytes. The heap's
// size counts garbage not yet collected, so when it is over, a collection
// tells what is live before the run is stopped.
func overMemory(limit int64) bool {
	metrics.Read(heapSample)
	if int64(heapSample[0].Value.Uint64()) <= limit {
		return false
	}
	runtime.GC()
	metrics.Read(heapSample)
	return int64(heapSample[0].Value.Uint64()) > limit
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
