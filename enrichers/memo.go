package enrichers

import (
	"hash/maphash"
	"sync/atomic"
)

// A memo sits in front of each of the plans' LRU caches and answers most
// events without a lock: a fixed table of plans indexed by the hash of
// their key, each slot read with one atomic load. A plan carries its own
// key, so a slot answers only for the value it was filled for; a value
// whose slot holds another (a collision, or a value not seen yet) goes to
// the LRU cache, which fills the slot. The LRU has mutexes, moves every
// entry it answers to the front of a list and hashes a struct key; on the
// events of a busy scan that was most of enrichment's cost.
//
// Slots are filled under the plans' read lock and only when no reload
// happened since the plan was looked up (plans.gen), and a reload empties
// them all under the write lock, so a slot never holds a plan built from
// data older than the last reload. A memo holds at most as many plans as
// its LRU may (the table is no larger than the cache size).

// maxMemoSlots bounds a memo's table: 4096 pointers, 32 KiB.
const maxMemoSlots = 4096

// hitStripes spreads the memos' hit counters over cache lines, so that
// workers enriching different values do not contend on one counter.
const hitStripes = 8

// memo is a table of plans of type P by the hash of their key.
type memo[P any] struct {
	slots []atomic.Pointer[P]
}

// newMemo returns a memo with the largest power of two of slots that is
// at most size and maxMemoSlots (size <= 0: maxMemoSlots).
func newMemo[P any](size int) *memo[P] {
	if size <= 0 || size > maxMemoSlots {
		size = maxMemoSlots
	}
	n := 1
	for n*2 <= size {
		n *= 2
	}
	return &memo[P]{slots: make([]atomic.Pointer[P], n)}
}

// slot is where the plan of a key hashing to h is kept.
func (m *memo[P]) slot(h uint64) *atomic.Pointer[P] {
	return &m.slots[h&uint64(len(m.slots)-1)]
}

// clear empties every slot; the caller holds the plans' write lock.
func (m *memo[P]) clear() {
	for i := range m.slots {
		m.slots[i].Store(nil)
	}
}

// hitCounter is one stripe of the memos' hit count, alone on its cache line.
type hitCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// memoHits counts the answers of the memos.
type memoHits [hitStripes]hitCounter

// add counts one answer for a value hashing to h.
func (c *memoHits) add(h uint64) { c[(h>>32)%hitStripes].n.Add(1) }

// total is the number of answers counted.
func (c *memoHits) total() uint64 {
	var n uint64
	for i := range c {
		n += c[i].n.Load()
	}
	return n
}

// addrHash is the memo hash of an address on a side.
func addrHash(seed maphash.Seed, side int, ip string) uint64 {
	// The side moves the slot, so an address on both sides of one event
	// takes two slots instead of evicting itself.
	return maphash.String(seed, ip) + uint64(side)*0x9e3779b97f4a7c15
}
