package geoip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/enrichers/network"
	"github.com/vigil-siem/vigil/event"
)

// Config is detect.enrich.geoip. The enricher is on when a database is set.
type Config struct {
	// CityDatabase is a GeoIP2/GeoLite2 City (or Country) .mmdb file.
	CityDatabase string `yaml:"city_database"`
	// ASNDatabase is a GeoLite2 ASN .mmdb file.
	ASNDatabase string `yaml:"asn_database"`
	// Language of country, city and region names (default en; falls back
	// to en when a name is missing in it).
	Language string `yaml:"language"`
	// CacheSize bounds the cache (entries; default 10000).
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long an answer is kept (default 1h).
	CacheTTL lookup.Duration `yaml:"cache_ttl"`
}

// Enabled says whether a database is configured.
func (c Config) Enabled() bool { return c.CityDatabase != "" || c.ASNDatabase != "" }

// Fields written per side, after the side's prefix (source. or destination.).
var suffixes = [nFields]string{
	"geo.city_name", "geo.continent_code", "geo.continent_name", "geo.country_iso_code",
	"geo.country_name", "geo.location", "geo.postal_code", "geo.region_iso_code",
	"geo.region_name", "geo.timezone", "as.number", "as.organization.name",
}

const (
	fCity = iota
	fContinentCode
	fContinentName
	fCountryISO
	fCountryName
	fLocation
	fPostal
	fRegionISO
	fRegionName
	fTimezone
	fASNumber
	fASOrg
	nFields
)

// sides are the address fields looked up and the names of what they get.
var sides = func() [2]struct {
	ip     string
	fields [nFields]string
} {
	var s [2]struct {
		ip     string
		fields [nFields]string
	}
	for i, prefix := range []string{"source.", "destination."} {
		s[i].ip = prefix + "ip"
		for j, suf := range suffixes {
			s[i].fields[j] = prefix + suf
		}
	}
	return s
}()

// Geo is the answer for one address: the values of the fields, nil where
// the databases know nothing. Values are shared between events and must
// not be modified.
type Geo struct {
	values [nFields]any
}

// Get returns the value of a field named without its side prefix
// (geo.country_iso_code, as.number), or nil.
func (g *Geo) Get(suffix string) any {
	if g == nil {
		return nil
	}
	for i, s := range suffixes {
		if s == suffix {
			return g.values[i]
		}
	}
	return nil
}

// dbs are the databases in use, swapped whole on reload.
type dbs struct {
	city, asn *maxminddb.Reader
}

// Enricher looks addresses up in the databases.
type Enricher struct {
	cfg      Config
	lang     string
	current  atomic.Pointer[dbs]
	cache    *lookup.Cache[netip.Addr, *Geo]
	mu       sync.Mutex // serialises Reload
	watched  *lookup.Watched
	lookups  atomic.Uint64
	errors   atomic.Uint64
	reloads  atomic.Uint64
	rlErrors atomic.Uint64
	lastErr  atomic.Pointer[string]
}

// New opens the databases; a missing or corrupt file is an error naming it.
func New(cfg Config) (*Enricher, error) {
	if !cfg.Enabled() {
		return nil, errors.New("geoip: set city_database or asn_database")
	}
	e := &Enricher{
		cfg:   cfg,
		lang:  cfg.Language,
		cache: lookup.NewCache[netip.Addr, *Geo](cfg.CacheSize, cfg.CacheTTL.Or(time.Hour)),
	}
	if e.lang == "" {
		e.lang = "en"
	}
	d, err := load(cfg)
	if err != nil {
		return nil, err
	}
	e.current.Store(d)
	var paths []string
	for _, p := range []string{cfg.CityDatabase, cfg.ASNDatabase} {
		if p != "" {
			paths = append(paths, p)
		}
	}
	if e.watched, err = lookup.Watch(paths); err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	return e, nil
}

func load(cfg Config) (*dbs, error) {
	var d dbs
	var err error
	if cfg.CityDatabase != "" {
		if d.city, err = open(cfg.CityDatabase, "geoip.city_database"); err != nil {
			return nil, err
		}
	}
	if cfg.ASNDatabase != "" {
		if d.asn, err = open(cfg.ASNDatabase, "geoip.asn_database"); err != nil {
			return nil, err
		}
	}
	return &d, nil
}

// open reads the whole file into memory rather than mapping it, so a file
// replaced or truncated on disk can never fault a reader still in use.
func open(path, option string) (*maxminddb.Reader, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", option, err)
	}
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not a MaxMind DB file: %w", option, path, err)
	}
	return r, nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "geoip" }

// Reload loads the databases again when a file changed on disk and says
// whether it did. When the new file is bad the old databases stay in use
// and the error says why.
func (e *Enricher) Reload() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.watched.Check() {
		return false, nil
	}
	d, err := load(e.cfg)
	if err != nil {
		e.rlErrors.Add(1)
		msg := err.Error()
		e.lastErr.Store(&msg)
		return false, fmt.Errorf("geoip reload: %w", err)
	}
	e.current.Store(d)
	e.cache.Purge()
	e.reloads.Add(1)
	return true, nil
}

// Enrich adds geo and AS fields for source.ip and destination.ip. An
// address that does not parse is left to the network enricher to report;
// a database error is returned and the other side is still enriched.
func (e *Enricher) Enrich(_ context.Context, ev event.Event) error {
	var firstErr error
	for i := range sides {
		side := &sides[i]
		s, _ := ev[side.ip].(string)
		if s == "" {
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || network.Classify(a).Local() {
			continue
		}
		g, err := e.Lookup(a)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s %s: %w", side.ip, s, err)
			}
			continue
		}
		if g == nil {
			continue
		}
		for j, v := range g.values {
			if v != nil {
				if _, has := ev[side.fields[j]]; !has {
					ev[side.fields[j]] = v
				}
			}
		}
	}
	if firstErr != nil {
		e.errors.Add(1)
	}
	return firstErr
}

// Lookup returns what the databases say about an address, nil when they
// know nothing of it.
func (e *Enricher) Lookup(a netip.Addr) (*Geo, error) {
	a = a.Unmap()
	e.lookups.Add(1)
	if g, ok := e.cache.Get(a); ok {
		return g, nil
	}
	d := e.current.Load()
	var g Geo
	found := false
	if d.city != nil {
		ok, err := e.city(d.city, a, &g)
		if err != nil {
			return nil, err
		}
		found = found || ok
	}
	if d.asn != nil {
		ok, err := asn(d.asn, a, &g)
		if err != nil {
			return nil, err
		}
		found = found || ok
	}
	var out *Geo
	if found {
		out = &g
	}
	e.cache.Add(a, out)
	return out, nil
}

// names is a MaxMind localized-names map.
type names map[string]string

type cityRecord struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Code  string `maxminddb:"code"`
		Names names  `maxminddb:"names"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
		TimeZone  string   `maxminddb:"time_zone"`
	} `maxminddb:"location"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
}

type asnRecord struct {
	Number       uint32 `maxminddb:"autonomous_system_number"`
	Organization string `maxminddb:"autonomous_system_organization"`
}

func canLookup(r *maxminddb.Reader, a netip.Addr) bool {
	return a.Is4() || r.Metadata.IPVersion == 6
}

func (e *Enricher) city(r *maxminddb.Reader, a netip.Addr, g *Geo) (bool, error) {
	if !canLookup(r, a) {
		return false, nil
	}
	res := r.Lookup(a)
	if err := res.Err(); err != nil {
		return false, fmt.Errorf("city database: %w", err)
	}
	if !res.Found() {
		return false, nil
	}
	var rec cityRecord
	if err := res.Decode(&rec); err != nil {
		return false, fmt.Errorf("city database: %w", err)
	}
	set := func(i int, s string) {
		if s != "" {
			g.values[i] = s
		}
	}
	set(fCity, e.name(rec.City.Names))
	set(fContinentCode, rec.Continent.Code)
	set(fContinentName, e.name(rec.Continent.Names))
	set(fCountryISO, rec.Country.ISOCode)
	set(fCountryName, e.name(rec.Country.Names))
	set(fPostal, rec.Postal.Code)
	set(fTimezone, rec.Location.TimeZone)
	if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
		g.values[fLocation] = map[string]any{"lat": *rec.Location.Latitude, "lon": *rec.Location.Longitude}
	}
	// As Elasticsearch's geoip processor: the most specific subdivision,
	// its code prefixed with the country's (GB-ENG).
	if n := len(rec.Subdivisions); n > 0 {
		sub := rec.Subdivisions[n-1]
		if sub.ISOCode != "" && rec.Country.ISOCode != "" {
			g.values[fRegionISO] = rec.Country.ISOCode + "-" + sub.ISOCode
		}
		set(fRegionName, e.name(sub.Names))
	}
	return true, nil
}

func asn(r *maxminddb.Reader, a netip.Addr, g *Geo) (bool, error) {
	if !canLookup(r, a) {
		return false, nil
	}
	res := r.Lookup(a)
	if err := res.Err(); err != nil {
		return false, fmt.Errorf("ASN database: %w", err)
	}
	if !res.Found() {
		return false, nil
	}
	var rec asnRecord
	if err := res.Decode(&rec); err != nil {
		return false, fmt.Errorf("ASN database: %w", err)
	}
	if rec.Number != 0 {
		g.values[fASNumber] = int64(rec.Number)
	}
	if rec.Organization != "" {
		g.values[fASOrg] = rec.Organization
	}
	return rec.Number != 0 || rec.Organization != "", nil
}

func (e *Enricher) name(n names) string {
	if s := n[e.lang]; s != "" {
		return s
	}
	return n["en"]
}

// Stats returns the enricher's counters.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{
		Lookups:      e.lookups.Load(),
		Errors:       e.errors.Load(),
		Reloads:      e.reloads.Load(),
		ReloadErrors: e.rlErrors.Load(),
	}
	if p := e.lastErr.Load(); p != nil {
		st.LastReloadError = *p
	}
	e.cache.AddTo(&st)
	return st
}

// Close drops the databases; they live in memory, so nothing is unmapped
// under a lookup still running.
func (e *Enricher) Close() error { return nil }

// Fields calls fn with each field Enrich sets from this answer for an
// address in ipField (source.ip or destination.ip), by its full name
// (source.geo.city_name). Enrich sets each only when the event lacks it.
// Values are shared and must not be modified.
func (g *Geo) Fields(ipField string, fn func(field string, value any)) {
	if g == nil {
		return
	}
	for i := range sides {
		if sides[i].ip != ipField {
			continue
		}
		for j, v := range g.values {
			if v != nil {
				fn(sides[i].fields[j], v)
			}
		}
	}
}
