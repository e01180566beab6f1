package lookup

import (
	"fmt"
	"time"
)

// Stats are one enricher's counters since it started.
type Stats struct {
	// Lookups counts the values looked up (an event with a source and a
	// destination address is two lookups for geoip).
	Lookups uint64
	// CacheHits and CacheMisses count cache answers; CacheSize is the
	// number of entries held now.
	CacheHits   uint64
	CacheMisses uint64
	CacheSize   int
	// Errors counts lookups that failed and flagged their event.
	Errors uint64
	// Entries is the number of records loaded (indicators, assets, users).
	Entries int
	// Reloads counts data files reloaded after they changed on disk;
	// ReloadErrors the reloads that failed (the previous data stays in use),
	// and LastReloadError says why the last one failed.
	Reloads         uint64
	ReloadErrors    uint64
	LastReloadError string
}

// Duration is a time.Duration written as "30s", "10m", "1h" in YAML and
// in VIGIL_* environment variables.
type Duration time.Duration

// UnmarshalText parses "30s", "10m", "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (write e.g. 30s, 10m, 1h)", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText renders the duration as "1m30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}
