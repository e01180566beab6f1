package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// maxPercent bounds the GC percentage Start sets: with a nearly empty
// heap the formula would ask for millions.
const maxPercent = 50_000

// minHeap is the runtime's smallest heap goal at GOGC=100; it scales with
// GOGC (4 MiB × GOGC/100), so a percentage above floor/minHeap × 100
// would put the goal above the floor however small the heap.
const minHeap = 4 << 20

// pollInterval is how often the tuner looks for a finished collection.
// The runtime has no hook for the end of a collection (a finalizer runs
// only when the sweeper reaches its span, which may be seconds later), and
// reading four metrics a hundred times a second costs next to nothing.
const pollInterval = 10 * time.Millisecond

// The metrics the heap goal is made of: the heap the previous collection
// found live, and the goroutine stacks and globals, which GOGC scales
// too: heap goal = live + (live + stacks + globals) × GOGC/100. The
// collection count says when they changed.
var goalMetrics = []string{"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes", "/gc/cycles/total:gc-cycles"}

// Start keeps the heap goal at least floor bytes, with a GC percentage of
// at least minPercent, until stop is called; stop puts back the
// percentage that was set before. A floor of 0 changes nothing.
//
// Call it once per process, and not when the user set GOGC: it owns the
// GC percentage while it runs.
func Start(floor uint64, minPercent int) (stop func()) {
	if floor == 0 {
		return func() {}
	}
	t := &tuner{floor: floor, min: minPercent}
	for _, name := range goalMetrics {
		t.sample = append(t.sample, metrics.Sample{Name: name})
	}
	if t.read(); t.live == 0 {
		// No collection yet, so no live heap to go by: a collection of
		// the start-up heap costs little and gives one.
		runtime.GC()
		t.read()
	}
	prev := debug.SetGCPercent(t.percent())
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t.watch(done)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-exited
			debug.SetGCPercent(prev)
		})
	}
}

type tuner struct {
	floor uint64
	min   int

	sample []metrics.Sample
	// From the last read: the live heap, what GOGC scales (the live
	// heap, stacks and globals), and the collections so far.
	live, scaled, cycles uint64
}

// watch sets the percentage anew after every collection until done is
// closed.
func (t *tuner) watch(done <-chan struct{}) {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			seen := t.cycles
			if t.read(); t.cycles != seen {
				debug.SetGCPercent(t.percent())
			}
		}
	}
}

func (t *tuner) read() {
	metrics.Read(t.sample)
	value := func(i int) uint64 {
		if t.sample[i].Value.Kind() != metrics.KindUint64 {
			return 0 // not this runtime's metric
		}
		return t.sample[i].Value.Uint64()
	}
	t.live = value(0)
	t.scaled = value(0) + value(1) + value(2)
	t.cycles = value(3)
}

// percent is the GC percentage whose heap goal is the floor for the last
// read, within [min, maxPercent] and its smallest goal at most the floor.
func (t *tuner) percent() int {
	return percentFor(t.floor, t.live, t.scaled, t.min)
}

// percentFor solves floor = live + scaled × p/100 for p, the percentage
// GOGC would need, and keeps it at least minPercent and at most
// maxPercent and floor/minHeap × 100 (unless minPercent is higher).
func percentFor(floor, live, scaled uint64, minPercent int) int {
	p := int(min(maxPercent, floor*100/minHeap))
	if scaled > 0 && (floor-min(floor, live))/scaled < uint64(p)/100 {
		p = int((floor - min(floor, live)) * 100 / scaled)
	}
	return max(p, minPercent)
}
