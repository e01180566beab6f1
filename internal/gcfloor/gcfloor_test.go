package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPercentFor(t *testing.T) {
	for _, c := range []struct {
		floor, live, scaled uint64 // scaled: live + stacks + globals
		min, want           int
	}{
		{floor: 256 * mib, live: 16 * mib, scaled: 16 * mib, min: 100, want: 1500}, // 16 + 16 × 15 = 256
		{floor: 256 * mib, live: 16 * mib, scaled: 24 * mib, min: 100, want: 1000}, // 16 + 24 × 10 = 256
		{floor: 256 * mib, live: 128 * mib, scaled: 128 * mib, min: 100, want: 100},
		{floor: 256 * mib, live: 128 * mib, scaled: 128 * mib, min: 50, want: 100},
		{floor: 256 * mib, live: 512 * mib, scaled: 513 * mib, min: 100, want: 100}, // above the floor: GOGC's own
		{floor: 256 * mib, live: 512 * mib, scaled: 513 * mib, min: 400, want: 400},
		// A nearly empty heap: the runtime's smallest goal, 4 MiB × p/100,
		// must stay within the floor.
		{floor: 256 * mib, live: 1, scaled: 1, min: 100, want: 6400},
		{floor: 256 * mib, live: 0, scaled: 0, min: 100, want: 6400},
		{floor: 64 * mib, live: 1 * mib, scaled: 2 * mib, min: 100, want: 1600}, // not 3150
		{floor: 64 * mib, live: 1 * mib, scaled: 2 * mib, min: 2000, want: 2000},
		{floor: 1 << 40, live: 1, scaled: 1, min: 100, want: maxPercent},
	} {
		if got := percentFor(c.floor, c.live, c.scaled, c.min); got != c.want {
			t.Errorf("percentFor(floor %d MiB, live %d B, scaled %d B, min %d) = %d, want %d",
				c.floor/mib, c.live, c.scaled, c.min, got, c.want)
		}
	}
}

var sink []byte

// churn allocates n bytes of garbage in 4 KiB pieces and returns how many
// collections ran meanwhile.
func churn(n int) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n / 4096 {
		sink = make([]byte, 4096)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// settle runs a collection and waits (at most a second) until the heap
// goal is at least goal: the tuner sets the percentage within a poll
// interval of a collection, and a churn that started before would run at
// the old one.
func settle(goal uint64) {
	settleUntil(func(next uint64) bool { return next >= goal })
}

// settleBelow is settle for a goal that the collection should bring down
// to at most goal.
func settleBelow(goal uint64) {
	settleUntil(func(next uint64) bool { return next <= goal })
}

func settleUntil(reached func(nextGC uint64) bool) {
	runtime.GC()
	var ms runtime.MemStats
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(pollInterval) {
		if runtime.ReadMemStats(&ms); reached(ms.NextGC) {
			return
		}
	}
}

func TestFloorSpacesCollectionsOnASmallHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	runtime.GC()
	plain := churn(512 * mib)

	stop := Start(128*mib, 100)
	settle(96 * mib)
	floored := churn(512 * mib)
	stop()
	t.Logf("collections for 512 MiB of garbage: %d without the floor, %d with it", plain, floored)

	// With GOGC=100 and a live heap of a few MiB a collection comes every
	// few MiB; with a 128 MiB floor, every ~128 MiB: 4. A collection that
	// runs while garbage is being allocated counts what was allocated
	// during its mark as live, so the next goal may come earlier, once in
	// a while; twice the ideal count allows for that.
	if floored > 8 {
		t.Errorf("%d collections for 512 MiB of garbage with a 128 MiB floor, want at most 8 (without: %d)", floored, plain)
	}
	// Without it, ~128 at a 4 MiB goal; fewer when other processes keep
	// the collector from running while the churn allocates.
	if plain <= floored {
		t.Errorf("without the floor %d collections, with it %d: the floor made no difference", plain, floored)
	}
}

var live [][]byte

func TestLargeLiveHeapIsCollectedAsGOGCWould(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	live = make([][]byte, 96)
	for i := range live {
		live[i] = make([]byte, mib)
	}
	defer func() { live = nil }()
	runtime.GC()
	plain := churn(512 * mib)

	stop := Start(32*mib, 100)
	defer stop()
	// Start saw the heap of the last collection, perhaps before the 96
	// MiB were allocated, and may have set a high percentage; the tuner
	// lowers it within a poll interval of the next collection (later on
	// a loaded machine), and a churn that started before would run at
	// the old one.
	settleBelow(256 * mib)
	floored := churn(512 * mib)
	t.Logf("collections for 512 MiB of garbage over a 96 MiB live heap: %d at GOGC=100, %d with a 32 MiB floor", plain, floored)

	// The live heap (96 MiB) is above the floor: the goal is GOGC=100's,
	// about 192 MiB, so 512 MiB of garbage takes several collections
	// (3–5; fewer when other processes slow the collector down, as they
	// do the plain run's). A percentage set for the floor over a small
	// heap (800 for 32 MiB over 4) would put the goal near 900 MiB: none.
	if floored == 0 || floored < plain/2 {
		t.Errorf("%d collections with the floor, %d at GOGC=100: the floor held the goal above GOGC's", floored, plain)
	}
}

func TestStopRestoresThePercentage(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	stop := Start(64*mib, 100)
	runtime.GC()
	runtime.GC()
	stop()
	stop()       // twice is harmless
	runtime.GC() // a cleanup armed before stop must not set it again
	runtime.GC()
	if got := debug.SetGCPercent(77); got != 77 {
		t.Errorf("GC percent after stop = %d, want the 77 set before Start", got)
	}
}

func TestZeroFloorChangesNothing(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(42))
	stop := Start(0, 100)
	runtime.GC()
	if got := debug.SetGCPercent(42); got != 42 {
		t.Errorf("GC percent with a zero floor = %d, want 42", got)
	}
	stop()
}
