package triage

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// DefaultCacheSize is the cache size NewCached uses when given size <= 0.
const DefaultCacheSize = 1024

// NewCached returns an engine that answers an incident whose Fingerprint
// it has seen within ttl from memory (at most size answers; ttl <= 0
// keeps them until evicted). Concurrent calls for the same fingerprint
// share one call to e. Errors and fallback answers (FlagLLMFailed) are not
// stored, so the next identical incident gets another chance at e.
func NewCached(e Engine, size int, ttl time.Duration) Engine {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &cachedEngine{
		engine:   e,
		lru:      expirable.NewLRU[string, Triage](size, nil, ttl),
		inflight: make(map[string]*cacheCall),
	}
}

type cachedEngine struct {
	engine Engine
	lru    *expirable.LRU[string, Triage]

	mu       sync.Mutex
	inflight map[string]*cacheCall
}

// cacheCall is one call to the engine that identical requests wait for.
type cacheCall struct {
	done    chan struct{}
	waiters int // guarded by cachedEngine.mu
	t       Triage
	err     error
	// ctxErr: err came from the leader's own context ending, which says
	// nothing about the waiters' requests.
	ctxErr bool
}

// Name is the wrapped engine's name.
func (c *cachedEngine) Name() string { return c.engine.Name() }

// Triage answers from the cache, from an identical call in flight, or by
// asking the engine.
func (c *cachedEngine) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	start := time.Now()
	key := Fingerprint(inc)
	for {
		if t, ok := c.lru.Get(key); ok {
			return cacheHit(t, start), nil
		}
		c.mu.Lock()
		if call, ok := c.inflight[key]; ok {
			call.waiters++
			c.mu.Unlock()
			select {
			case <-ctx.Done():
				return Triage{}, fmt.Errorf("triage: waiting for the identical incident's triage (fingerprint %s): %w", key, ctx.Err())
			case <-call.done:
			}
			if call.err == nil {
				return cacheHit(call.t, start), nil
			}
			if call.ctxErr {
				continue // the leader gave up; try ourselves
			}
			return Triage{}, call.err
		}
		call := &cacheCall{done: make(chan struct{})}
		c.inflight[key] = call
		c.mu.Unlock()

		call.t, call.err = c.engine.Triage(ctx, inc)
		call.ctxErr = call.err != nil && ctx.Err() != nil
		if call.err == nil && !slices.Contains(call.t.Flags, FlagLLMFailed) {
			c.lru.Add(key, cacheCloneTriage(call.t))
		}
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(call.done)
		return call.t, call.err
	}
}

// cacheHit is a stored answer as a cache hit reports it.
func cacheHit(t Triage, start time.Time) Triage {
	t = cacheCloneTriage(t)
	t.Cached = true
	t.Tokens = Tokens{}
	t.LatencyMS = time.Since(start).Milliseconds()
	return t
}

// cacheCloneTriage copies the slices, so no caller can change a stored answer.
func cacheCloneTriage(t Triage) Triage {
	t.Attack = slices.Clone(t.Attack)
	t.RecommendedActions = slices.Clone(t.RecommendedActions)
	t.Flags = slices.Clone(t.Flags)
	return t
}

// Fingerprint identifies what an incident is about, for caching its
// verdict: the entity, the rules with their alert counts (suppressed
// alerts included) in buckets (1, 2-4, 5-9, 10-99, 100+), the related users and hosts, and the
// severity. Timestamps and alert ids are left out, so a replay or a
// recurring identical pattern has the same fingerprint.
func Fingerprint(inc *Incident) string {
	if inc == nil {
		return ""
	}
	h := sha256.New()
	put := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(strconv.Itoa(len(p))))
			h.Write([]byte{':'})
			h.Write([]byte(p))
		}
		h.Write([]byte{'\n'})
	}
	put("entity", inc.Entity.Field, inc.Entity.Value)
	put("severity", inc.Severity)
	for _, r := range fingerprintRules(inc) {
		put("rule", r.ID, fingerprintBucket(r.Count))
	}
	for _, u := range fingerprintSorted(inc.Users) {
		put("user", u)
	}
	for _, host := range fingerprintSorted(inc.Hosts) {
		put("host", host)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// fingerprintRules lists rule ids with alert counts, sorted by id, from
// inc.Rules or, when that is empty, from the alerts themselves.
func fingerprintRules(inc *Incident) []RuleSummary {
	counts := make(map[string]int)
	for _, r := range inc.Rules {
		counts[r.ID] += r.Represented() // suppressed alerts make a bigger incident
	}
	if len(inc.Rules) == 0 {
		for i := range inc.Alerts {
			counts[inc.Alerts[i].Rule.ID]++
		}
	}
	out := make([]RuleSummary, 0, len(counts))
	for id, n := range counts {
		out = append(out, RuleSummary{ID: id, Count: n})
	}
	slices.SortFunc(out, func(a, b RuleSummary) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func fingerprintBucket(n int) string {
	switch {
	case n <= 0:
		return "0"
	case n == 1:
		return "1"
	case n < 5:
		return "2-4"
	case n < 10:
		return "5-9"
	case n < 100:
		return "10-99"
	}
	return "100+"
}

func fingerprintSorted(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
