package enrichers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/enrichers/assets"
	"github.com/vigil-siem/vigil/enrichers/geoip"
	"github.com/vigil-siem/vigil/enrichers/identity"
	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/enrichers/network"
	"github.com/vigil-siem/vigil/enrichers/rdns"
	"github.com/vigil-siem/vigil/enrichers/threatintel"
	"github.com/vigil-siem/vigil/event"
)

// FieldErrors lists "enricher: reason" for each enricher that failed on
// an event.
const FieldErrors = "vigil.enrichment_errors"

// Config is detect.enrich.
type Config struct {
	// ReloadInterval is how often data files are checked for changes
	// (default 30s; negative: never).
	ReloadInterval lookup.Duration `yaml:"reload_interval"`
	// CacheSize bounds each of the Set's caches of what the enrichers
	// write for one address, host name or user name (entries; default
	// 10000). The enrichers' own caches sit behind them. Entries do not
	// expire: they are dropped when a data file is reloaded.
	CacheSize   int                `yaml:"cache_size"`
	Network     network.Config     `yaml:"network"`
	GeoIP       geoip.Config       `yaml:"geoip"`
	ThreatIntel threatintel.Config `yaml:"threatintel"`
	Assets      assets.Config      `yaml:"assets"`
	Identity    identity.Config    `yaml:"identity"`
	RDNS        rdns.Config        `yaml:"rdns"`
}

// DefaultConfig is the configuration used when detect.enrich is not
// written: address classification and direction on, everything that
// needs a data file off until one is configured.
func DefaultConfig() Config {
	return Config{
		ReloadInterval: lookup.Duration(30 * time.Second),
		Network:        network.Config{Enabled: true},
	}
}

// Stats are one enricher's counters.
type Stats = lookup.Stats

// enricher is what the Set needs of each enricher.
type enricher interface {
	Name() string
	Enrich(ctx context.Context, ev event.Event) error
	Stats() lookup.Stats
	Close() error
}

// reloader is an enricher backed by files.
type reloader interface {
	Reload() (bool, error)
}

// Set is the configured enrichers, in the order they run.
type Set struct {
	list    []enricher
	network *network.Enricher
	geo     *geoip.Enricher
	intel   *threatintel.Enricher
	assets  *assets.Enricher
	users   *identity.Enricher
	dns     *rdns.Enricher
	// plans answer network, geoip, threatintel, assets and identity in
	// one step per value (plan.go); rest are the enrichers run after them
	// one by one (rdns). planned is false when the list was changed.
	plans   *plans
	addrOn  bool
	planned bool
	rest    []enricher
	stop    chan struct{}
	done    sync.WaitGroup
	once    sync.Once
}

// New builds the enrichers the config turns on. A database or feed that
// cannot be read is an error naming the option and the file.
func New(cfg Config) (*Set, error) {
	s := &Set{stop: make(chan struct{})}
	var err error
	if cfg.Network.Enabled {
		if s.network, err = network.New(cfg.Network); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		s.list = append(s.list, s.network)
	}
	if cfg.GeoIP.Enabled() {
		if s.geo, err = geoip.New(cfg.GeoIP); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		s.list = append(s.list, s.geo)
	}
	if len(cfg.ThreatIntel.Feeds) > 0 {
		if s.intel, err = threatintel.New(cfg.ThreatIntel); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		s.list = append(s.list, s.intel)
	}
	if len(cfg.Assets.Files) > 0 {
		if s.assets, err = assets.New(cfg.Assets); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		s.list = append(s.list, s.assets)
	}
	if len(cfg.Identity.Files) > 0 {
		if s.users, err = identity.New(cfg.Identity); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		s.list = append(s.list, s.users)
	}
	if cfg.RDNS.Enabled {
		if s.dns, err = rdns.New(cfg.RDNS); err != nil {
			return nil, fmt.Errorf("detect.enrich.%w", err)
		}
		// After threatintel, so a name found here is not matched: a
		// PTR record is the address owner's claim, not an observation.
		s.list = append(s.list, s.dns)
		s.rest = append(s.rest, s.dns)
	}
	s.plans = newPlans(cfg.CacheSize)
	s.addrOn = s.network != nil || s.geo != nil || s.intel != nil || s.assets != nil
	s.planned = true
	interval := cfg.ReloadInterval.Or(30 * time.Second)
	if interval > 0 && s.hasReloaders() {
		s.done.Add(1)
		go s.poll(interval)
	}
	return s, nil
}

func (s *Set) hasReloaders() bool {
	for _, e := range s.list {
		if _, ok := e.(reloader); ok {
			return true
		}
	}
	return false
}

// poll reloads changed files until Close. A failed reload keeps the old
// data and is counted in Stats (ReloadErrors, LastReloadError).
func (s *Set) poll(interval time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Reload()
		}
	}
}

// Reload checks every data file now and reloads those that changed,
// returning the reload errors (the previous data stays in use).
func (s *Set) Reload() error {
	var errs []error
	changed := false
	for _, e := range s.list {
		if r, ok := e.(reloader); ok {
			ok, err := r.Reload()
			if err != nil {
				errs = append(errs, err)
			}
			changed = changed || ok
		}
	}
	if changed {
		s.plans.purge()
	}
	return errors.Join(errs...)
}

// Enrich runs every enricher on ev, in place. It never fails: an enricher
// that returns an error or panics adds "name: reason" to
// vigil.enrichment_errors and the next one runs.
func (s *Set) Enrich(ctx context.Context, ev event.Event) {
	if s.planned && s.enrichPlanned(ev) {
		for _, e := range s.rest {
			if err := safeEnrich(ctx, e, ev); err != nil {
				flag(ev, e.Name()+": "+err.Error())
			}
		}
		return
	}
	s.enrichEach(ctx, ev)
}

// enrichEach runs the enrichers one by one.
func (s *Set) enrichEach(ctx context.Context, ev event.Event) {
	for _, e := range s.list {
		if err := safeEnrich(ctx, e, ev); err != nil {
			flag(ev, e.Name()+": "+err.Error())
		}
	}
}

func safeEnrich(ctx context.Context, e enricher, ev event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return e.Enrich(ctx, ev)
}

func flag(ev event.Event, msg string) {
	prev, _ := ev[FieldErrors].([]any)
	ev[FieldErrors] = append(prev, msg)
}

// Names lists the enrichers that are on, in the order they run.
func (s *Set) Names() []string {
	out := make([]string, len(s.list))
	for i, e := range s.list {
		out[i] = e.Name()
	}
	return out
}

// Stats returns each enricher's counters by name, and under CacheName the
// Set's own caches in front of them (an event answered from those does not
// reach the enrichers' caches).
func (s *Set) Stats() map[string]Stats {
	out := make(map[string]Stats, len(s.list)+1)
	for _, e := range s.list {
		out[e.Name()] = e.Stats()
	}
	out[CacheName] = s.plans.stats()
	return out
}

// Close stops the reload poller and releases the enrichers.
func (s *Set) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.done.Wait()
	var errs []error
	for _, e := range s.list {
		if err := e.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}
