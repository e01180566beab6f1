package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/event"
)

// Config is detect.enrich.network.
type Config struct {
	// Enabled turns the enricher on (on in the default configuration).
	Enabled bool `yaml:"enabled"`
	// HomeNetworks are the site's own networks, as CIDRs or the names
	// private (RFC 1918, RFC 6598, fc00::/7), loopback and link_local.
	// Empty means [private, loopback].
	HomeNetworks []string `yaml:"home_networks"`
	// CacheSize bounds the address cache (entries; default 10000).
	CacheSize int `yaml:"cache_size"`
}

// Fields the enricher writes.
const (
	FieldSourceClass      = "vigil.source.ip_class"
	FieldDestinationClass = "vigil.destination.ip_class"
	FieldDirection        = "network.direction"
)

var namedNetworks = map[string][]netip.Prefix{
	"private": {
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	},
	"loopback":   {netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	"link_local": {netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")},
}

// info is the cached answer for one address.
type info struct {
	class Class
	home  bool
}

// Enricher classifies addresses and sets network.direction.
type Enricher struct {
	home    []netip.Prefix
	cache   *lookup.Cache[netip.Addr, info]
	lookups atomic.Uint64
	errors  atomic.Uint64
}

// New builds the enricher; an unparseable home network is an error naming it.
func New(cfg Config) (*Enricher, error) {
	names := cfg.HomeNetworks
	if len(names) == 0 {
		names = []string{"private", "loopback"}
	}
	e := &Enricher{cache: lookup.NewCache[netip.Addr, info](cfg.CacheSize, 0)}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if named, ok := namedNetworks[strings.ToLower(n)]; ok {
			e.home = append(e.home, named...)
			continue
		}
		p, err := netip.ParsePrefix(n)
		if err != nil {
			a, aerr := netip.ParseAddr(n)
			if aerr != nil {
				return nil, fmt.Errorf("network.home_networks: %q is not a CIDR, an address or one of private, loopback, link_local", n)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		e.home = append(e.home, p.Masked())
	}
	return e, nil
}

// Name is the enricher's name in errors and stats.
func (e *Enricher) Name() string { return "network" }

// Lookup returns the class of an address and whether it is in a home network.
func (e *Enricher) Lookup(a netip.Addr) (Class, bool) {
	a = a.Unmap()
	e.lookups.Add(1)
	if in, ok := e.cache.Get(a); ok {
		return in.class, in.home
	}
	in := info{class: Classify(a)}
	for _, p := range e.home {
		if p.Contains(a) {
			in.home = true
			break
		}
	}
	e.cache.Add(a, in)
	return in.class, in.home
}

// Enrich classifies source.ip and destination.ip and sets network.direction
// when the event has both and no direction yet. An address that does not
// parse is an error; the other side is still classified.
func (e *Enricher) Enrich(_ context.Context, ev event.Event) error {
	var err error
	src, srcOK, serr := e.side(ev, "source.ip", FieldSourceClass)
	if serr != nil {
		err = serr
	}
	dst, dstOK, derr := e.side(ev, "destination.ip", FieldDestinationClass)
	if derr != nil && err == nil {
		err = derr
	}
	if srcOK && dstOK {
		if _, has := ev[FieldDirection]; !has {
			ev[FieldDirection] = direction(src, dst)
		}
	}
	if err != nil {
		e.errors.Add(1)
	}
	return err
}

func (e *Enricher) side(ev event.Event, field, classField string) (home, ok bool, err error) {
	s := ev.String(field)
	if s == "" {
		return false, false, nil
	}
	a, perr := netip.ParseAddr(s)
	if perr != nil {
		return false, false, fmt.Errorf("%s %q is not an IP address", field, truncate(s))
	}
	class, home := e.Lookup(a)
	ev[classField] = classValues[class]
	return home, true, nil
}

// Values stored in events, boxed once: storing a string variable in an
// event's map would allocate on every event.
var (
	classValues = func() (out [len(classNames)]any) {
		for i, n := range classNames {
			out[i] = n
		}
		return out
	}()
	internal, outbound, inbound, external any = "internal", "outbound", "inbound", "external"
)

func direction(srcHome, dstHome bool) any {
	switch {
	case srcHome && dstHome:
		return internal
	case srcHome:
		return outbound
	case dstHome:
		return inbound
	}
	return external
}

// Stats returns the enricher's counters.
func (e *Enricher) Stats() lookup.Stats {
	st := lookup.Stats{Lookups: e.lookups.Load(), Errors: e.errors.Load()}
	e.cache.AddTo(&st)
	return st
}

// Close releases nothing; it is here so every enricher closes alike.
func (e *Enricher) Close() error { return nil }

// truncate shortens attacker-controlled values quoted in errors.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// ClassValue is the value Enrich writes to vigil.*.ip_class for a class,
// boxed once so callers storing it in events do not allocate.
func ClassValue(c Class) any {
	if int(c) < len(classValues) {
		return classValues[c]
	}
	return c.String()
}

// Direction is the network.direction value Enrich writes for a source and
// a destination that are (or are not) in the home networks.
func Direction(srcHome, dstHome bool) any { return direction(srcHome, dstHome) }
