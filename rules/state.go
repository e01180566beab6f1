package rules

import (
	"container/heap"
	"strings"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// keyCache is the bounded per-key state of one stateful rule: at most
// max keys, the least recently used evicted (and counted) beyond that.
//
// It remembers the most recently used key and its state: an event reads
// the same key several times (once per stage of a sequence rule) and
// consecutive events often share it (a burst of failures from one
// address), and a get of the most recently used key changes nothing in
// the LRU order, so it is answered without hashing the key. Every change
// of the LRU (a new key, a removal, an eviction) goes through add or
// remove, which keep the memo true.
type keyCache[V any] struct {
	lru      *simplelru.LRU[string, V]
	evicted  int64
	removing bool
	mruKey   string // the most recently used key, when mruOK
	mru      V      // its state
	mruOK    bool
}

func newKeyCache[V any](max int) *keyCache[V] {
	kc := &keyCache[V]{}
	kc.lru, _ = simplelru.NewLRU[string, V](max, func(string, V) { // max is always positive
		if !kc.removing {
			kc.evicted++
		}
	})
	return kc
}

// get returns a key's state and makes it the most recently used.
func (kc *keyCache[V]) get(key string) (V, bool) {
	if kc.mruOK && key == kc.mruKey {
		return kc.mru, true
	}
	v, ok := kc.lru.Get(key)
	if ok {
		kc.mruKey, kc.mru, kc.mruOK = key, v, true
	}
	return v, ok
}

// add stores a key's state. A new key is copied: it is often a substring
// of a decoded event's document, which it would otherwise keep alive.
func (kc *keyCache[V]) add(key string, v V) {
	if !kc.lru.Contains(key) {
		key = strings.Clone(key)
	}
	kc.lru.Add(key, v)
	kc.mruKey, kc.mru, kc.mruOK = key, v, true
}

// peek returns a key's state without making it the most recently used.
func (kc *keyCache[V]) peek(key string) (V, bool) { return kc.lru.Peek(key) }

// len is how many keys are held.
func (kc *keyCache[V]) len() int { return kc.lru.Len() }
func (kc *keyCache[V]) remove(key string) {
	if kc.mruOK && key == kc.mruKey {
		var zero V
		kc.mruKey, kc.mru, kc.mruOK = "", zero, false
	}
	kc.removing = true
	kc.lru.Remove(key)
	kc.removing = false
}

// Timers: windows that close in event time (threshold lt/eq windows,
// suppression windows) wait in one heap ordered by their end; the engine
// pops those the watermark has passed.

type timerKind int

const (
	timerThreshold timerKind = iota
	timerSuppress
	timerSequence // a sequence waiting at a last missing step
)

type timer struct {
	at   time.Time
	rule *Compiled
	key  string
	gen  uint64
	kind timerKind
}

type timerHeap []timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if h[i].rule.Rule.ID != h[j].rule.Rule.ID {
		return h[i].rule.Rule.ID < h[j].rule.Rule.ID
	}
	return h[i].key < h[j].key
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)   { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

func (h *timerHeap) push(t timer) { heap.Push(h, t) }

// due pops the timers whose end the watermark has passed, or every timer
// when all is set (the end of the input).
func (h *timerHeap) due(watermark time.Time, all bool) []timer {
	var out []timer
	for h.Len() > 0 && (all || (*h)[0].at.Before(watermark)) {
		out = append(out, heap.Pop(h).(timer))
	}
	return out
}
