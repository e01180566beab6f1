package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// EntityLookup answers what the enrichers know about a value found in an
// ECS field: the fields enrichment would add to an event for it, by full
// name (source.geo.country_iso_code, vigil.host.asset.criticality,
// vigil.user.privileged, threat.enrichments…), or nil. Fields asked are
// source.ip, destination.ip, host.name and user.name. *enrichers.Set
// implements it, so triage reads the same data and caches as the detect
// stage without importing the enrichers.
type EntityLookup interface {
	Lookup(ctx context.Context, field, value string) map[string]any
}

// Bounds on the entities looked up for one incident, besides its own:
// addresses, hosts and users.
const (
	maxLookupIPs   = 10
	maxLookupHosts = 5
	maxLookupUsers = 5
)

// lookupTarget is one entity of an incident to look up.
type lookupTarget struct{ field, value string }

// lookupTargets lists the incident's entities in the fields the lookup
// knows: the incident's own entity first, then its addresses (as the
// source or destination the events show them in), hosts and users.
func lookupTargets(inc *Incident) []lookupTarget {
	var out []lookupTarget
	add := func(field, value string) {
		t := lookupTarget{field, value}
		if value != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	ipField := addressFields(inc)
	switch f := inc.Entity.Field; {
	case f == "host.name" || f == "user.name" || f == "source.ip" || f == "destination.ip":
		add(f, inc.Entity.Value)
	case strings.HasSuffix(f, ".ip") && f != "host.ip":
		add(ipField(inc.Entity.Value), inc.Entity.Value)
	}
	for _, ip := range firstN(inc.IPs, maxLookupIPs) {
		add(ipField(ip), ip)
	}
	for _, h := range firstN(inc.Hosts, maxLookupHosts) {
		add("host.name", h)
	}
	for _, u := range firstN(inc.Users, maxLookupUsers) {
		add("user.name", u)
	}
	return out
}

// addressFields returns which field an address of the incident is looked
// up as: destination.ip when the events show it only as a destination,
// source.ip otherwise.
func addressFields(inc *Incident) func(ip string) string {
	src, dst := map[string]bool{}, map[string]bool{}
	for _, a := range inc.Alerts {
		for _, e := range a.Vigil.Alert.Events {
			src[fieldString(e, "source.ip")] = true
			dst[fieldString(e, "destination.ip")] = true
		}
	}
	return func(ip string) string {
		if dst[ip] && !src[ip] {
			return "destination.ip"
		}
		return "source.ip"
	}
}

// addLookups adds what lookup knows about the incident's entities to the
// enrichment, after what the events carry (an event's value wins). It
// returns how many entities the lookup knew.
func (c *promptContext) addLookups(ctx context.Context, inc *Incident, lookup EntityLookup) int {
	if lookup == nil {
		return 0
	}
	known := 0
	for _, t := range lookupTargets(inc) {
		fields := lookup.Lookup(ctx, t.field, t.value)
		if len(fields) == 0 {
			continue
		}
		known++
		e := make(event.Event, len(fields)+1)
		for k, v := range fields {
			e[k] = v
		}
		e[t.field] = t.value
		c.addEnrichment(e)
	}
	return known
}

// entityEnrichment gathers the enrichment of inc's entities: the fields on
// its alerts' events, then what lookup knows.
func entityEnrichment(ctx context.Context, inc *Incident, lookup EntityLookup) *promptContext {
	c := &promptContext{enrich: make(map[string]map[string]any)}
	for _, a := range inc.Alerts {
		for _, e := range a.Vigil.Alert.Events {
			c.addEnrichment(e)
		}
	}
	c.addLookups(ctx, inc, lookup)
	return c
}

// contextFacts are the enrichment facts the fallback engine weighs and
// writes in its notes.
type contextFacts struct {
	lines      []string // one per entity, for the notes
	intel      []string // "value (indicator)" matched by a feed
	critical   []string // assets of high or critical criticality
	privileged []string // privileged accounts
}

// facts renders the gathered enrichment: one line per entity and the
// facts that change the verdict.
func (c *promptContext) facts() contextFacts {
	var f contextFacts
	for _, subj := range c.subjOrd {
		m := c.enrich[subj]
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int {
			if c := factRank(a) - factRank(b); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		var parts []string
		for _, k := range keys {
			v := m[k]
			if k == "threat.enrichments" {
				for _, ind := range indicatorNames(v) {
					parts = append(parts, "threat intel: "+ind)
					f.intel = appendUnique(f.intel, entityValue(subj)+" ("+ind+")")
				}
				continue
			}
			s := factValue(v)
			if s == "" {
				continue
			}
			parts = append(parts, k+" "+s)
			switch {
			case strings.HasSuffix(k, "criticality") && (s == "high" || s == "critical"):
				f.critical = appendUnique(f.critical, entityValue(subj)+" ("+s+")")
			case strings.HasSuffix(k, ".privileged") && s == "true":
				f.privileged = appendUnique(f.privileged, entityValue(subj))
			}
		}
		if len(parts) > maxFactsPerEntity {
			parts = append(parts[:maxFactsPerEntity], fmt.Sprintf("and %d more", len(parts)-maxFactsPerEntity))
		}
		if len(parts) > 0 {
			for i := range parts {
				parts[i] = plain(parts[i])
			}
			f.lines = append(f.lines, "- "+code(subj)+": "+strings.Join(parts, "; ")+"\n")
		}
	}
	return f
}

// identifying says whether an enrichment field names a person (their
// full name or e-mail address): left out of pseudonymised prompts.
func identifying(k string) bool {
	return strings.HasSuffix(k, ".full_name") || strings.HasSuffix(k, ".email")
}

// maxFactsPerEntity bounds a context line of the notes.
const maxFactsPerEntity = 12

// factRank orders an entity's facts: what changes a verdict first (intel,
// criticality, privilege), then who owns it, then where it is.
func factRank(k string) int {
	switch {
	case k == "threat.enrichments":
		return 0
	case strings.HasSuffix(k, "criticality"), strings.HasSuffix(k, ".privileged"):
		return 1
	case strings.HasSuffix(k, ".owner"), strings.HasSuffix(k, ".department"), strings.HasSuffix(k, ".full_name"),
		strings.HasSuffix(k, ".environment"), strings.HasSuffix(k, "as.organization.name"), strings.HasSuffix(k, "geo.country_name"):
		return 2
	case strings.HasSuffix(k, "ip_class"), strings.HasSuffix(k, ".tags"), strings.HasSuffix(k, ".roles"), strings.HasSuffix(k, "group.name"),
		strings.HasSuffix(k, "as.number"), strings.HasSuffix(k, "geo.city_name"), strings.HasSuffix(k, ".domain"):
		return 3
	}
	return 4
}

// entityValue is the value part of a "field=value" subject.
func entityValue(subj string) string {
	if _, v, ok := strings.Cut(subj, "="); ok {
		return v
	}
	return subj
}

// factValue renders a scalar or a list of scalars; "" for anything else.
func factValue(v any) string {
	switch t := v.(type) {
	case []any:
		var parts []string
		for _, x := range t {
			if s := factValue(x); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case map[string]any:
		if lat, ok := t["lat"]; ok {
			return fmt.Sprintf("%v,%v", lat, t["lon"])
		}
		return ""
	}
	return event.Stringify(v)
}

// indicatorNames names each threat.enrichments entry: the indicator's
// name or provider, and the field it matched.
func indicatorNames(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		m, _ := x.(map[string]any)
		ind, _ := m["indicator"].(map[string]any)
		matched, _ := m["matched"].(map[string]any)
		name := firstString(ind, "name", "provider", "type")
		if name == "" {
			name = "indicator"
		}
		if f := firstString(matched, "field"); f != "" {
			name += " on " + f
		}
		out = append(out, name)
	}
	return out
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}
