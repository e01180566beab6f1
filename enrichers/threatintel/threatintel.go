package threatintel

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/event"
)

// FieldEnrichments is the ECS field matches are appended to.
const FieldEnrichments = "threat.enrichments"

// matchFields are the event fields looked up, and what they hold.
var matchFields = [...]struct {
	field string
	kind  Kind
}{
	{"source.ip", KindIP}, {"destination.ip", KindIP},
	{"source.domain", KindDomain}, {"destination.domain", KindDomain},
	{"url.domain", KindDomain}, {"dns.question.name", KindDomain},
	{"url.full", KindURL}, {"url.original", KindURL},
	{"file.hash.md5", KindMD5}, {"file.hash.sha1", KindSHA1}, {"file.hash.sha256", KindSHA256},
	{"process.hash.md5", KindMD5}, {"process.hash.sha1", KindSHA1}, {"process.hash.sha256", KindSHA256},
}

type cacheKey struct {
	kind  Kind
	value string
}

// Enricher matches events against the loaded feeds.
type Enricher struct {
	cfg      Config
	current  atomic.Pointer[index]
	cache    *lookup.Cache[cacheKey, *Indicator]
	mu       sync.Mutex // serialises Reload
	watched  *lookup.Watched
	lookups  atomic.Uint64
	errors   atomic.Uint64
	reloads  atomic.Uint64
	rlErrors atomic.Uint64
	lastErr  atomic.Pointer[string]
	skipped  atomic.Int64
	now      func() time.Time
}

// New loads every feed; a feed that cannot be read or parsed is an error
// naming it and the line or object at fault.
func New(cfg Config) (*Enricher, error) {
	if len(cfg.Feeds) == 0 {
		return nil, errors.New("threatintel: no feeds")
	}
	e := &Enricher{
		cfg:   cfg,
		cache: lookup.NewCache[cacheKey, *Indicator](cfg.CacheSize, cfg.CacheTTL.Or(10*time.Minute)),
		now:   cfg.Now,
	}
	if e.now == nil {
		e.now = time.Now
	}
	paths := make([]string, len(cfg.Feeds))
	for i, f := range cfg.Feeds {
		if f.Path == "" {
			return nil, fmt.Errorf("threatintel.feeds[%d]: path is missing", i)
		}
		paths[i] = f.Path
	}
	x, err := e.loadAll()
	if err != nil {
		return nil, err
	}
	e.current.Store(x)
	if e.watched, err = lookup.Watch(paths); err != nil {
		return nil, fmt.Errorf("threatintel: %w", err)
	}
	return e, nil
}

func (e *Enricher) loadAll() (*index, error) {
	var all []*Indicator
	skipped := 0
	for _, f := range e.cfg.Feeds {
		ins, sk, err := load(f)
		if err != nil {
			return nil, fmt.Errorf("threatintel: %w", err)
		}
		all = append(all, ins...)
		skipped += sk
	}
	e.skipped.Store(int64(skipped))
	return build(all, e.now()), nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "threatintel" }

// Reload reads the feeds again when a file changed on disk and says
// whether it did. When a feed is bad the previous indicators stay in use.
func (e *Enricher) Reload() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.watched.Check() {
		return false, nil
	}
	x, err := e.loadAll()
	if err != nil {
		e.rlErrors.Add(1)
		msg := err.Error()
		e.lastErr.Store(&msg)
		return false, fmt.Errorf("threatintel reload: %w", err)
	}
	e.current.Store(x)
	e.cache.Purge()
	e.reloads.Add(1)
	return true, nil
}

// Enrich appends a threat.enrichments entry for every field whose value
// matches an indicator.
func (e *Enricher) Enrich(_ context.Context, ev event.Event) error {
	e.enrichFrom(ev, 0, nil)
	return nil
}

// EnrichAfterAddresses is Enrich for a caller that looked source.ip and
// destination.ip up itself (LookupIP, Live, Entry): it matches the other
// fields and appends first (the address entries, in that order) and then
// their matches to threat.enrichments, as Enrich would.
func (e *Enricher) EnrichAfterAddresses(ev event.Event, first []any) {
	e.enrichFrom(ev, numAddressFields, first)
}

// numAddressFields: matchFields starts with source.ip and destination.ip.
const numAddressFields = 2

// LookupIP returns the indicator an address (as text) falls in, through
// the cache, or nil; it may have expired (see Live).
func (e *Enricher) LookupIP(s string) *Indicator {
	if s == "" {
		return nil
	}
	return e.match(KindIP, s)
}

// Live says whether in is still valid by the enricher's clock.
func (e *Enricher) Live(in *Indicator) bool { return in != nil && !in.Expired(e.now()) }

// Entry is the threat.enrichments entry Enrich writes when value, in
// field, matched in. Its indicator object is shared and must not be
// modified.
func Entry(in *Indicator, field, value string) map[string]any {
	return map[string]any{
		"indicator": in.ecs,
		"matched":   map[string]any{"atomic": value, "field": field, "type": "enrichment"},
	}
}

func (e *Enricher) enrichFrom(ev event.Event, start int, first []any) {
	matches := first
	var now time.Time
	x := e.current.Load()
	for i := start; i < len(matchFields); i++ {
		mf := &matchFields[i]
		if !x.has(mf.kind) {
			continue
		}
		s, _ := ev[mf.field].(string)
		if s == "" {
			continue
		}
		in := e.match(mf.kind, s)
		if in == nil {
			continue
		}
		if now.IsZero() {
			now = e.now()
		}
		if in.Expired(now) {
			continue
		}
		matches = append(matches, Entry(in, mf.field, s))
	}
	if len(matches) > 0 {
		prev, _ := ev[FieldEnrichments].([]any)
		ev[FieldEnrichments] = append(prev[:len(prev):len(prev)], matches...)
	}
}

// match looks a value of a kind up, through the cache.
func (e *Enricher) match(k Kind, s string) *Indicator {
	e.lookups.Add(1)
	key := cacheKey{k, s}
	if in, ok := e.cache.Get(key); ok {
		return in
	}
	x := e.current.Load()
	var in *Indicator
	if k == KindIP {
		if a, err := netip.ParseAddr(s); err == nil {
			in = x.ip(a)
		}
	} else if v := normalize(k, s); v != "" {
		in = x.value(k, v)
	}
	e.cache.Add(key, in)
	return in
}

// Match returns the indicator a value matches (an address, inside a CIDR
// too; a domain, URL or hash), or nil. It backs the in_intel() rule
// function.
func (e *Enricher) Match(v string) *Indicator {
	v = strings.TrimSpace(v)
	k, _, ok := guessKind(v)
	if !ok {
		return nil
	}
	if k == KindIP && strings.Contains(v, "/") {
		return nil // a CIDR is not one value
	}
	in := e.match(k, v)
	if in == nil || in.Expired(e.now()) {
		return nil
	}
	return in
}

// Stats returns the enricher's counters; Entries is the number of
// indicators in use.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{
		Lookups:      e.lookups.Load(),
		Errors:       e.errors.Load(),
		Entries:      e.current.Load().count,
		Reloads:      e.reloads.Load(),
		ReloadErrors: e.rlErrors.Load(),
	}
	if p := e.lastErr.Load(); p != nil {
		st.LastReloadError = *p
	}
	e.cache.AddTo(&st)
	return st
}

// Skipped is the number of feed entries of types Vigil cannot match.
func (e *Enricher) Skipped() int { return int(e.skipped.Load()) }

// Close releases nothing; it is here so every enricher closes alike.
func (e *Enricher) Close() error { return nil }
