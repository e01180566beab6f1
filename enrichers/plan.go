package enrichers

import (
	"context"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/vigil-siem/vigil/enrichers/assets"
	"github.com/vigil-siem/vigil/enrichers/lookup"
	"github.com/vigil-siem/vigil/enrichers/network"
	"github.com/vigil-siem/vigil/enrichers/threatintel"
	"github.com/vigil-siem/vigil/event"
)

// The Set answers most events from plans: for each address, host name and
// user name it has seen, the fields every enricher would write, looked up
// once through the enrichers' own caches and kept in an LRU of the Set's
// (Stats()["cache"]), with the most recent in a lock-free memo in front
// of it (memo.go). An event then costs one memo read per value and one
// map write per field, whatever the number of enrichers. Plans are
// dropped whenever a data file is reloaded. An event the plans cannot
// answer exactly (an address that does not parse, a database error) goes
// through the enrichers one by one, which report the failure.

// CacheName is the key of the Set's own cache in Stats.
const CacheName = "cache"

// Fields Lookup answers for.
const (
	FieldSourceIP      = "source.ip"
	FieldDestinationIP = "destination.ip"
	FieldHostName      = "host.name"
	FieldHostIP        = "host.ip"
	FieldUserName      = "user.name"
)

// pair is one field a plan writes.
type pair struct {
	field    string
	value    any
	ifAbsent bool // written only when the event lacks the field
}

// Which address an addrKey describes.
const (
	sideSource = iota
	sideDestination
	sideHost // host.ip, for the asset inventory only
)

var sideFields = [...]string{FieldSourceIP, FieldDestinationIP, FieldHostIP}
var sideClassFields = [...]string{network.FieldSourceClass, network.FieldDestinationClass}
var sideAssets = [...]string{assets.SideSource, assets.SideDestination, assets.SideHost}

type addrKey struct {
	side uint8
	ip   string
}

// addrPlan is what the enrichers write for one address on one side.
type addrPlan struct {
	side  uint8  // its key, for the memo (memo.go)
	ip    string // its key, for the memo
	bad   bool   // the address does not parse: the event takes the slow path
	home  bool   // in a home network, for network.direction
	pairs []pair
	intel *threatintel.Indicator // may expire: checked per event
	entry any                    // its threat.enrichments entry
}

// namePlan is what the enrichers write for one host or user name.
type namePlan struct {
	name  string // its key, for the memo (memo.go)
	found bool
	pairs []pair
}

// plans are the Set's caches of plans, each behind a memo (memo.go).
type plans struct {
	addrs *lookup.Cache[addrKey, *addrPlan]
	hosts *lookup.Cache[string, *namePlan]
	users *lookup.Cache[string, *namePlan]

	seed     maphash.Seed
	addrMemo *memo[addrPlan]
	hostMemo *memo[namePlan]
	userMemo *memo[namePlan]
	memoHits memoHits
	// mu orders adding plans against dropping them on reload: a plan
	// built from data older than gen is not added.
	mu  sync.RWMutex
	gen uint64
}

// newPlans makes caches of size entries each. Plans do not expire: what
// they are built from changes only on reload, which drops them all, and
// an indicator's end of validity is checked on every event.
func newPlans(size int) *plans {
	return &plans{
		addrs:    lookup.NewCache[addrKey, *addrPlan](size, 0),
		hosts:    lookup.NewCache[string, *namePlan](size, 0),
		users:    lookup.NewCache[string, *namePlan](size, 0),
		seed:     maphash.MakeSeed(),
		addrMemo: newMemo[addrPlan](size),
		hostMemo: newMemo[namePlan](size),
		userMemo: newMemo[namePlan](size),
	}
}

func (p *plans) generation() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.gen
}

// keep stores plan v in its memo slot and, unless it came from there
// (cached), in the LRU cache c, unless the data changed since gen.
func keep[K comparable, V any](p *plans, c *lookup.Cache[K, *V], gen uint64, k K, v *V, cached bool, slot *atomic.Pointer[V]) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.gen == gen {
		if !cached {
			c.Add(k, v)
		}
		slot.Store(v)
	}
}

// purge drops every plan, after a data file changed.
func (p *plans) purge() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.addrs.Purge()
	p.hosts.Purge()
	p.users.Purge()
	p.addrMemo.clear()
	p.hostMemo.clear()
	p.userMemo.clear()
}

func (p *plans) stats() Stats {
	var st Stats
	p.addrs.AddTo(&st)
	p.hosts.AddTo(&st)
	p.users.AddTo(&st)
	st.CacheHits += p.memoHits.total()
	st.Lookups = st.CacheHits + st.CacheMisses
	return st
}

// addr returns the plan of an address on a side; nil means it cannot be
// planned (a database error) and must not be cached.
func (s *Set) addr(side int, ip string) *addrPlan {
	h := addrHash(s.plans.seed, side, ip)
	slot := s.plans.addrMemo.slot(h)
	if p := slot.Load(); p != nil && p.ip == ip && p.side == uint8(side) {
		s.plans.memoHits.add(h)
		return p
	}
	gen := s.plans.generation()
	k := addrKey{uint8(side), ip}
	p, cached := s.plans.addrs.Get(k)
	if !cached {
		if p = s.buildAddr(side, ip); p == nil {
			return nil
		}
		p.side, p.ip = uint8(side), ip
	}
	keep(s.plans, s.plans.addrs, gen, k, p, cached, slot)
	return p
}

func (s *Set) buildAddr(side int, ip string) *addrPlan {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return &addrPlan{bad: true}
	}
	// Room for a class, the geo fields and an asset's four: one allocation.
	room := 4
	if side != sideHost {
		room++
		if s.geo != nil {
			room += 12
		}
	}
	p := &addrPlan{pairs: make([]pair, 0, room)}
	put := func(field string, v any) { p.pairs = append(p.pairs, pair{field: field, value: v}) }
	if side != sideHost {
		if s.network != nil {
			class, home := s.network.Lookup(a)
			p.home = home
			put(sideClassFields[side], network.ClassValue(class))
		}
		if s.geo != nil && !network.Classify(a).Local() {
			g, err := s.geo.Lookup(a)
			if err != nil {
				return nil
			}
			g.Fields(sideFields[side], func(field string, v any) {
				p.pairs = append(p.pairs, pair{field: field, value: v, ifAbsent: true})
			})
		}
		if s.intel != nil {
			if in := s.intel.LookupIP(ip); in != nil {
				p.intel, p.entry = in, threatintel.Entry(in, sideFields[side], ip)
			}
		}
	}
	if s.assets != nil {
		s.assets.IP(ip).Fields(sideAssets[side], put)
	}
	return p
}

// host returns the plan of a host name: its asset's fields.
func (s *Set) host(name string) *namePlan {
	return s.name(s.plans.hosts, s.plans.hostMemo, name, func(p *namePlan) {
		if a := s.assets.Host(name); a != nil {
			p.found = true
			p.pairs = make([]pair, 0, 4)
			a.Fields(assets.SideHost, func(field string, v any) { p.pairs = append(p.pairs, pair{field: field, value: v}) })
		}
	})
}

// user returns the plan of a user name: its directory entry's fields.
func (s *Set) user(name string) *namePlan {
	return s.name(s.plans.users, s.plans.userMemo, name, func(p *namePlan) {
		if u := s.users.User(name); u != nil {
			p.found = true
			p.pairs = make([]pair, 0, 6)
			u.Fields(func(field string, v any, ifAbsent bool) {
				p.pairs = append(p.pairs, pair{field: field, value: v, ifAbsent: ifAbsent})
			})
		}
	})
}

// name returns the plan of a name from memo m, cache c, or build.
func (s *Set) name(c *lookup.Cache[string, *namePlan], m *memo[namePlan], name string, build func(*namePlan)) *namePlan {
	h := maphash.String(s.plans.seed, name)
	slot := m.slot(h)
	if p := slot.Load(); p != nil && p.name == name {
		s.plans.memoHits.add(h)
		return p
	}
	gen := s.plans.generation()
	p, cached := c.Get(name)
	if !cached {
		p = &namePlan{name: name}
		build(p)
	}
	keep(s.plans, c, gen, name, p, cached, slot)
	return p
}

// write stores a plan's fields in ev.
func write(ev event.Event, pairs []pair) {
	for i := range pairs {
		p := &pairs[i]
		if p.ifAbsent {
			if _, has := ev[p.field]; has {
				continue
			}
		}
		ev[p.field] = p.value
	}
}

// enrichPlanned enriches ev from plans with what network, geoip,
// threatintel, assets and identity would write, and says whether it did;
// when it did not, ev is unchanged. All lookups come first, so a failure
// leaves nothing half-written.
func (s *Set) enrichPlanned(ev event.Event) (done bool) {
	defer func() {
		if recover() != nil {
			done = false
		}
	}()
	var src, dst, hostAddr *addrPlan
	if s.addrOn {
		// Both fields are read before either is looked up, so that on an
		// event no longer in the CPU's caches the two reads wait for
		// memory together.
		srcIP, _ := ev[FieldSourceIP].(string)
		dstIP, _ := ev[FieldDestinationIP].(string)
		if srcIP != "" {
			if src = s.addr(sideSource, srcIP); src == nil || src.bad {
				return false
			}
		}
		if dstIP != "" {
			if dst = s.addr(sideDestination, dstIP); dst == nil || dst.bad {
				return false
			}
		}
	}
	var host, user *namePlan
	if s.assets != nil {
		if name, _ := ev[FieldHostName].(string); name != "" {
			host = s.host(name)
		}
		if host == nil || !host.found {
			if ip := hostIP(ev); ip != "" {
				hostAddr = s.addr(sideHost, ip) // never nil: no database behind it
			}
		}
	}
	if s.users != nil {
		if name, _ := ev[FieldUserName].(string); name != "" {
			user = s.user(name)
		}
	}
	var first [2]any
	n := 0
	if s.intel != nil {
		for _, p := range [2]*addrPlan{src, dst} {
			if p != nil && p.intel != nil && s.intel.Live(p.intel) {
				first[n] = p.entry
				n++
			}
		}
	}

	if src != nil {
		write(ev, src.pairs)
	}
	if dst != nil {
		write(ev, dst.pairs)
	}
	if s.network != nil && src != nil && dst != nil {
		if _, has := ev[network.FieldDirection]; !has {
			ev[network.FieldDirection] = network.Direction(src.home, dst.home)
		}
	}
	if s.intel != nil {
		s.intel.EnrichAfterAddresses(ev, first[:n:n])
	}
	if host != nil {
		write(ev, host.pairs)
	}
	if hostAddr != nil {
		write(ev, hostAddr.pairs)
	}
	if user != nil {
		write(ev, user.pairs)
	}
	return true
}

// hostIP is host.ip, which ECS allows to be a list.
func hostIP(ev event.Event) string {
	switch v := ev[FieldHostIP].(type) {
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

// Lookup returns what the enrichers know about value when it is in field
// (source.ip, destination.ip, host.name, host.ip or user.name): the fields
// enrichment writes to an event for it, by their full names, e.g.
// source.geo.country_iso_code, source.as.organization.name,
// vigil.source.ip_class, vigil.source.asset.criticality and
// threat.enrichments for source.ip; vigil.host.asset.* for host.name;
// user.full_name and vigil.user.privileged for user.name. It is nil when
// nothing is known or the field is not one of those. It reads through the
// same data and caches as Enrich (counted in Stats()[CacheName]) and never
// resolves reverse DNS. The map is the caller's; its values are shared
// and must not be modified.
func (s *Set) Lookup(_ context.Context, field, value string) map[string]any {
	if value == "" {
		return nil
	}
	var pairs []pair
	var entry any
	switch field {
	case FieldSourceIP, FieldDestinationIP, FieldHostIP:
		side := sideSource
		switch field {
		case FieldDestinationIP:
			side = sideDestination
		case FieldHostIP:
			side = sideHost
		}
		if !s.addrOn && (side != sideHost || s.assets == nil) {
			return nil
		}
		p := s.addr(side, value)
		if p == nil || p.bad {
			return nil
		}
		pairs = p.pairs
		if s.intel != nil && p.intel != nil && s.intel.Live(p.intel) {
			entry = p.entry
		}
	case FieldHostName:
		if s.assets == nil {
			return nil
		}
		pairs = s.host(value).pairs
	case FieldUserName:
		if s.users == nil {
			return nil
		}
		pairs = s.user(value).pairs
	default:
		return nil
	}
	if len(pairs) == 0 && entry == nil {
		return nil
	}
	out := make(map[string]any, len(pairs)+1)
	for _, p := range pairs {
		out[p.field] = p.value
	}
	if entry != nil {
		out[threatintel.FieldEnrichments] = []any{entry}
	}
	return out
}
