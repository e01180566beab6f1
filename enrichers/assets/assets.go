package assets

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/event"
)

// Config is detect.enrich.assets. The enricher is on when a file is set.
type Config struct {
	// Files are inventories, .csv (header: name, ip, criticality, owner,
	// environment, tags) or .yaml (a list of objects with those keys; ip
	// may be a list). Later files override earlier ones.
	Files []string `yaml:"files"`
	// CacheSize bounds the cache (entries; default 10000).
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long an answer is kept (default 10m).
	CacheTTL lookup.Duration `yaml:"cache_ttl"`
}

// Asset is one inventory entry.
type Asset struct {
	Name        string
	IPs         []netip.Addr
	Criticality string
	Owner       string
	Environment string
	Tags        []string
	// view is the map the asset() rule function returns, built once.
	view map[string]any
}

// Map is the asset as the asset() rule function returns it: criticality,
// owner, environment (strings) and tags (a list). It is shared: do not
// modify it.
func (a *Asset) Map() map[string]any {
	if a == nil {
		return emptyView
	}
	return a.view
}

var emptyView = map[string]any{}

type inventory struct {
	byName map[string]*Asset
	byIP   map[netip.Addr]*Asset
	count  int
}

type key struct {
	ip bool
	s  string
}

// Enricher looks hosts up in the inventory.
type Enricher struct {
	cfg     Config
	data    *lookup.Reloadable[inventory]
	cache   *lookup.Cache[key, *Asset]
	lookups atomic.Uint64
}

// New reads the inventory; a file that cannot be read or holds a bad
// value is an error naming file and line.
func New(cfg Config) (*Enricher, error) {
	if len(cfg.Files) == 0 {
		return nil, errors.New("assets: no files")
	}
	e := &Enricher{cfg: cfg, cache: lookup.NewCache[key, *Asset](cfg.CacheSize, cfg.CacheTTL.Or(10*time.Minute))}
	var err error
	if e.data, err = lookup.NewReloadable("assets", cfg.Files, load); err != nil {
		return nil, err
	}
	return e, nil
}

func load(files []string) (*inventory, error) {
	inv := &inventory{byName: map[string]*Asset{}, byIP: map[netip.Addr]*Asset{}}
	short := map[string]*Asset{}
	for _, f := range files {
		recs, err := lookup.ReadRecords(f)
		if err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		for _, r := range recs {
			a := &Asset{
				Name:        strings.ToLower(r.Text("name", "host", "hostname", "host.name")),
				Criticality: strings.ToLower(r.Text("criticality")),
				Owner:       r.Text("owner"),
				Environment: r.Text("environment", "env"),
				Tags:        r.List("tags"),
			}
			for _, s := range r.List("ip", "ips", "host.ip") {
				ip, err := netip.ParseAddr(s)
				if err != nil {
					return nil, fmt.Errorf("assets: %s: ip %q is not an IP address", r.Where, s)
				}
				a.IPs = append(a.IPs, ip.Unmap())
			}
			if a.Name == "" && len(a.IPs) == 0 {
				return nil, fmt.Errorf("assets: %s: an asset needs a name or an ip", r.Where)
			}
			tags := make([]any, len(a.Tags))
			for i, t := range a.Tags {
				tags[i] = t
			}
			a.view = map[string]any{"criticality": a.Criticality, "owner": a.Owner, "environment": a.Environment, "tags": tags}
			if a.Name != "" {
				inv.byName[a.Name] = a
				// web-01.example.com is also found as web-01, unless two
				// assets share that short name.
				if s, _, ok := strings.Cut(a.Name, "."); ok {
					if prev, dup := short[s]; dup && prev != a {
						short[s] = nil
					} else {
						short[s] = a
					}
				}
			}
			for _, ip := range a.IPs {
				inv.byIP[ip] = a
			}
			inv.count++
		}
	}
	for s, a := range short {
		if _, full := inv.byName[s]; !full && a != nil {
			inv.byName[s] = a
		}
	}
	return inv, nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "assets" }

// Reload reads the files again when one changed on disk and says whether
// it did. When a file is bad the previous inventory stays in use.
func (e *Enricher) Reload() (bool, error) {
	changed, err := e.data.Reload()
	if changed {
		e.cache.Purge()
	}
	return changed, err
}

// Host returns the asset of a host name (case-insensitive, FQDN or short
// name), or nil.
func (e *Enricher) Host(name string) *Asset {
	if name == "" {
		return nil
	}
	e.lookups.Add(1)
	k := key{s: name}
	if a, ok := e.cache.Get(k); ok {
		return a
	}
	a := e.data.Load().byName[strings.TrimSuffix(strings.ToLower(name), ".")]
	e.cache.Add(k, a)
	return a
}

// IP returns the asset with an address, or nil.
func (e *Enricher) IP(s string) *Asset {
	if s == "" {
		return nil
	}
	e.lookups.Add(1)
	k := key{ip: true, s: s}
	if a, ok := e.cache.Get(k); ok {
		return a
	}
	var a *Asset
	if ip, err := netip.ParseAddr(s); err == nil {
		a = e.data.Load().byIP[ip.Unmap().WithZone("")]
	}
	e.cache.Add(k, a)
	return a
}

// Resolve returns the asset of a host given by name or address.
func (e *Enricher) Resolve(s string) *Asset {
	if a := e.Host(s); a != nil {
		return a
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return e.IP(s)
	}
	return nil
}

var sides = [...]struct{ criticality, owner, environment, tags string }{
	{"vigil.host.asset.criticality", "vigil.host.asset.owner", "vigil.host.asset.environment", "vigil.host.asset.tags"},
	{"vigil.source.asset.criticality", "vigil.source.asset.owner", "vigil.source.asset.environment", "vigil.source.asset.tags"},
	{"vigil.destination.asset.criticality", "vigil.destination.asset.owner", "vigil.destination.asset.environment", "vigil.destination.asset.tags"},
}

// Enrich writes the asset details of the event's host, source and destination.
func (e *Enricher) Enrich(_ context.Context, ev event.Event) error {
	host := e.Host(ev.String("host.name"))
	if host == nil {
		if ip := hostIP(ev); ip != "" {
			host = e.IP(ip)
		}
	}
	put(ev, 0, host)
	put(ev, 1, e.IP(ev.String("source.ip")))
	put(ev, 2, e.IP(ev.String("destination.ip")))
	return nil
}

// hostIP is host.ip, which ECS allows to be a list.
func hostIP(ev event.Event) string {
	switch v := ev["host.ip"].(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

func put(ev event.Event, side int, a *Asset) {
	a.fields(side, func(field string, v any) { ev[field] = v })
}

// Side names the fields an asset is written to: vigil.<side>.asset.*.
const (
	SideHost        = "host"
	SideSource      = "source"
	SideDestination = "destination"
)

// Fields calls fn with each field Enrich writes for this asset as the
// event's host, source or destination (SideHost, SideSource,
// SideDestination), by its full name (vigil.host.asset.criticality).
// Values are shared and must not be modified.
func (a *Asset) Fields(side string, fn func(field string, value any)) {
	switch side {
	case SideHost:
		a.fields(0, fn)
	case SideSource:
		a.fields(1, fn)
	case SideDestination:
		a.fields(2, fn)
	}
}

func (a *Asset) fields(side int, fn func(field string, value any)) {
	if a == nil {
		return
	}
	f := &sides[side]
	// The view's values are boxed once; storing the strings themselves
	// would allocate on every event.
	for _, kv := range [...]struct{ field, key string }{
		{f.criticality, "criticality"}, {f.owner, "owner"}, {f.environment, "environment"},
	} {
		if v := a.view[kv.key]; v != "" {
			fn(kv.field, v)
		}
	}
	if tags := a.view["tags"]; len(tags.([]any)) > 0 {
		fn(f.tags, tags)
	}
}

// Stats returns the enricher's counters; Entries is the number of assets.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{
		Lookups: e.lookups.Load(),
		Entries: e.data.Load().count,
	}
	e.data.AddTo(&st)
	e.cache.AddTo(&st)
	return st
}

// Close releases nothing; it is here so every enricher closes alike.
func (e *Enricher) Close() error { return nil }
