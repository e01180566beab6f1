package lookup

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
)

// DefaultCacheSize is the number of entries a cache holds when the config
// leaves cache_size at zero.
const DefaultCacheSize = 10000

// Cache is an LRU cache bounded by entry count whose entries expire after a
// TTL, counting hits and misses. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	lru    store[K, V]
	hits   atomic.Uint64
	misses atomic.Uint64
}

// store is what Cache needs of golang-lru's caches.
type store[K comparable, V any] interface {
	Get(key K) (V, bool)
	Add(key K, value V) bool
	Purge()
	Len() int
}

// NewCache returns a cache of at most size entries (DefaultCacheSize when
// size <= 0) that expire ttl after they were added (never when ttl <= 0:
// then it is golang-lru's plain LRU, which answers without reading the
// clock; the expirable one reads it on every Get).
func NewCache[K comparable, V any](size int, ttl time.Duration) *Cache[K, V] {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if ttl <= 0 {
		c, err := lru.New[K, V](size)
		if err != nil {
			panic("lookup: " + err.Error()) // size > 0 cannot fail
		}
		return &Cache[K, V]{lru: c}
	}
	return &Cache[K, V]{lru: expirable.NewLRU[K, V](size, nil, ttl)}
}

// Get returns the cached value of key and counts a hit or a miss.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	v, ok := c.lru.Get(key)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// Add stores value under key, evicting the least recently used entry when full.
func (c *Cache[K, V]) Add(key K, value V) { c.lru.Add(key, value) }

// Purge empties the cache, after the data behind it changed.
func (c *Cache[K, V]) Purge() { c.lru.Purge() }

// Len is the number of entries held.
func (c *Cache[K, V]) Len() int { return c.lru.Len() }

// AddTo adds this cache's counters and size to st.
func (c *Cache[K, V]) AddTo(st *Stats) {
	st.CacheHits += c.hits.Load()
	st.CacheMisses += c.misses.Load()
	st.CacheSize += c.lru.Len()
}
