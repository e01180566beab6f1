package rdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/enrichers/network"
	"github.com/vigil-siem/vigil/event"
)

// Resolver is the part of *net.Resolver rdns uses.
type Resolver interface {
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Config is detect.enrich.rdns.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Timeout of one lookup (default 200ms).
	Timeout lookup.Duration `yaml:"timeout"`
	// CacheSize bounds each of the answer and failure caches (default 10000).
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long a name is kept (default 1h).
	CacheTTL lookup.Duration `yaml:"cache_ttl"`
	// NegativeTTL is how long a failure or an address without a name is
	// remembered (default 5m).
	NegativeTTL lookup.Duration `yaml:"negative_ttl"`
	// Resolver answers the lookups; nil means the system resolver.
	Resolver Resolver `yaml:"-"`
}

var sides = [...]struct{ ip, domain string }{
	{"source.ip", "source.domain"},
	{"destination.ip", "destination.domain"},
}

// Enricher resolves addresses to names.
type Enricher struct {
	resolver Resolver
	timeout  time.Duration
	names    *lookup.Cache[netip.Addr, string]
	negative *lookup.Cache[netip.Addr, struct{}]
	lookups  atomic.Uint64
	queries  atomic.Uint64
	errors   atomic.Uint64
}

// New builds the enricher.
func New(cfg Config) (*Enricher, error) {
	e := &Enricher{
		resolver: cfg.Resolver,
		timeout:  cfg.Timeout.Or(200 * time.Millisecond),
		names:    lookup.NewCache[netip.Addr, string](cfg.CacheSize, cfg.CacheTTL.Or(time.Hour)),
		negative: lookup.NewCache[netip.Addr, struct{}](cfg.CacheSize, cfg.NegativeTTL.Or(5*time.Minute)),
	}
	if e.timeout < 0 {
		return nil, fmt.Errorf("rdns.timeout: must be positive")
	}
	if e.resolver == nil {
		e.resolver = net.DefaultResolver
	}
	return e, nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "rdns" }

// Enrich sets source.domain and destination.domain when they are absent
// and the address has a name. A timeout or a resolver failure is
// returned (the event is flagged) and remembered for negative_ttl.
func (e *Enricher) Enrich(ctx context.Context, ev event.Event) error {
	var firstErr error
	for _, s := range sides {
		if _, has := ev[s.domain]; has {
			continue
		}
		ip := ev.String(s.ip)
		if ip == "" {
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		name, err := e.Lookup(ctx, a)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s %s: %w", s.ip, ip, err)
		}
		if name != "" {
			ev[s.domain] = name
		}
	}
	if firstErr != nil {
		e.errors.Add(1)
	}
	return firstErr
}

// Lookup returns the name of an address, "" when it has none or the
// lookup failed (the error says why).
func (e *Enricher) Lookup(ctx context.Context, a netip.Addr) (string, error) {
	a = a.Unmap()
	switch network.Classify(a) {
	case network.Loopback, network.LinkLocal, network.Multicast, network.Unspecified:
		return "", nil
	}
	e.lookups.Add(1)
	if name, ok := e.names.Get(a); ok {
		return name, nil
	}
	if _, ok := e.negative.Get(a); ok {
		return "", nil
	}
	e.queries.Add(1)
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	names, err := e.resolver.LookupAddr(ctx, a.String())
	if err != nil {
		e.negative.Add(a, struct{}{})
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return "", nil
		}
		if ctx.Err() != nil {
			return "", fmt.Errorf("no answer within %s", e.timeout)
		}
		return "", err
	}
	if len(names) == 0 || names[0] == "" {
		e.negative.Add(a, struct{}{})
		return "", nil
	}
	name := strings.TrimSuffix(names[0], ".")
	e.names.Add(a, name)
	return name, nil
}

// Stats returns the enricher's counters: cache counts add up both caches.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{Lookups: e.lookups.Load(), Errors: e.errors.Load()}
	e.names.AddTo(&st)
	e.negative.AddTo(&st)
	return st
}

// Queries is the number of questions sent to the resolver.
func (e *Enricher) Queries() uint64 { return e.queries.Load() }

// Close releases nothing; it is here so every enricher closes alike.
func (e *Enricher) Close() error { return nil }
