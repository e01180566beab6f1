package enrichers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/enrichers/threatintel"
	"github.com/vigil-siem/vigil/event"
)

// variedEvents combines the inputs the enrichers read: addresses public
// and private, in feeds and inventories, IPv6 and IPv4-mapped, malformed
// and missing; known, short, unknown and malformed host and user names;
// and fields an event may already carry.
func variedEvents() []event.Event {
	ips := []any{nil, "81.2.69.142", "198.51.100.23", "192.0.2.10", "192.0.2.130", "10.0.0.5", "10.0.1.10",
		"2001:db8:bad::1", "::ffff:81.2.69.142", "fd00::2", "not-an-address", "", int64(7), "203.0.113.9", "192.0.2.5", "192.0.2.66"}
	hosts := []any{nil, "bastion-01.corp.example", "BASTION-01", "web-01", "laptop-9", "", []any{"x"}}
	hostIPs := []any{nil, "10.0.0.2", []any{"10.9.0.7", "10.0.0.5"}, "bad"}
	users := []any{nil, "deploy", "CORP\\admin", "bob@corp.example", "mallory", ""}
	extras := []event.Event{
		{},
		{"source.geo.city_name": "Atlantis", "network.direction": "unknown", "user.full_name": "Given Name"},
		{"threat.enrichments": []any{map[string]any{"indicator": map[string]any{"type": "x"}}}, "url.domain": "malware-drop.example.com"},
		{"file.hash.md5": "D41D8CD98F00B204E9800998ECF8427E", "user.roles": []any{"given"}, "vigil.user.privileged": "stale"},
	}
	var out []event.Event
	i := 0
	for _, src := range ips {
		for _, dst := range ips {
			i++
			ev := event.Event{"@timestamp": "2025-12-10T09:53:59.000Z", "event.outcome": "success"}
			set := func(k string, v any) {
				if v != nil {
					ev[k] = v
				}
			}
			set("source.ip", src)
			set("destination.ip", dst)
			set("host.name", hosts[i%len(hosts)])
			set("host.ip", hostIPs[i%len(hostIPs)])
			set("user.name", users[i%len(users)])
			for k, v := range extras[i%len(extras)] {
				ev[k] = v
			}
			out = append(out, ev)
		}
	}
	return out
}

// TestPlannedMatchesEachEnricher: the planned path writes exactly what the
// enrichers write one by one, on every combination of inputs, first with
// empty caches and then warm, and reports the same failures.
func TestPlannedMatchesEachEnricher(t *testing.T) {
	s := newFullSet(t)
	ctx := context.Background()
	events := variedEvents()
	planned := 0
	for round := range 2 {
		for i, in := range events {
			want, got := in.Clone(), in.Clone()
			s.enrichEach(ctx, want)
			if s.enrichPlanned(got) {
				planned++
			} else {
				s.Enrich(ctx, got)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, event %d %v:\nplanned  %v\none by one %v", round, i, in, got, want)
			}
		}
	}
	if planned < len(events) {
		t.Errorf("only %d of %d events planned", planned, 2*len(events))
	}
	if st := s.Stats()[CacheName]; st.CacheHits == 0 || st.CacheSize == 0 {
		t.Errorf("cache stats %+v, want hits and entries", st)
	}
}

// TestPlannedSubsets: with any one enricher on, the planned path still
// agrees with the enrichers one by one.
func TestPlannedSubsets(t *testing.T) {
	full := fullConfig(nil)
	subsets := map[string]Config{
		"network":     {Network: full.Network},
		"geoip":       {GeoIP: full.GeoIP},
		"threatintel": {ThreatIntel: full.ThreatIntel},
		"assets":      {Assets: full.Assets},
		"identity":    {Identity: full.Identity},
		"none":        {},
	}
	for name, cfg := range subsets {
		cfg.ReloadInterval = -1
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range variedEvents() {
			want, got := in.Clone(), in.Clone()
			s.enrichEach(context.Background(), want)
			s.Enrich(context.Background(), got)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, event %d: planned %v, one by one %v", name, i, got, want)
			}
		}
		s.Close()
	}
}

// TestReloadDropsPlans: an answer cached before a feed changed is not
// served after the reload.
func TestReloadDropsPlans(t *testing.T) {
	path := writeFile(t, "list.txt", "192.0.2.1\n")
	cfg := Config{ReloadInterval: -1, ThreatIntel: threatintel.Config{Feeds: []threatintel.Feed{{Path: path}}}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	matches := func() int {
		ev := event.Event{"source.ip": "192.0.2.9"}
		s.Enrich(context.Background(), ev)
		list, _ := ev[threatintel.FieldEnrichments].([]any)
		return len(list)
	}
	if n := matches(); n != 0 {
		t.Fatalf("%d matches before the feed changed", n)
	}
	replaceFile(t, path, "192.0.2.1\n192.0.2.9\n")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := matches(); n != 1 {
		t.Fatalf("%d matches after the reload, want 1", n)
	}
}

func TestLookup(t *testing.T) {
	s := newFullSet(t)
	ctx := context.Background()
	tests := []struct {
		field, value string
		want         map[string]any // fields that must be there with these values
		none         bool
	}{
		{FieldSourceIP, "81.2.69.142", map[string]any{"source.geo.country_iso_code": "GB", "vigil.source.ip_class": "public"}, false},
		{FieldDestinationIP, "81.2.69.142", map[string]any{"destination.geo.city_name": "London"}, false},
		{FieldSourceIP, "10.0.1.10", map[string]any{"vigil.source.asset.criticality": "high", "vigil.source.ip_class": "private"}, false},
		{FieldHostName, "BASTION-01", map[string]any{"vigil.host.asset.criticality": "high", "vigil.host.asset.owner": "it-ops"}, false},
		{FieldHostIP, "10.0.0.2", map[string]any{"vigil.host.asset.criticality": "critical"}, false},
		{FieldUserName, "CORP\\admin", map[string]any{"vigil.user.privileged": true, "vigil.user.department": "IT"}, false},
		{FieldUserName, "mallory", nil, true},
		{FieldHostName, "laptop-9", nil, true},
		{FieldSourceIP, "not-an-address", nil, true},
		{"url.domain", "malware-drop.example.com", nil, true},
		{FieldSourceIP, "", nil, true},
	}
	for _, tt := range tests {
		got := s.Lookup(ctx, tt.field, tt.value)
		if tt.none {
			if got != nil {
				t.Errorf("Lookup(%s, %q) = %v, want nil", tt.field, tt.value, got)
			}
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("Lookup(%s, %q)[%s] = %v, want %v", tt.field, tt.value, k, got[k], v)
			}
		}
	}
	intel := s.Lookup(ctx, FieldSourceIP, "198.51.100.23")
	list, _ := intel[threatintel.FieldEnrichments].([]any)
	if len(list) != 1 || !strings.Contains(fmt.Sprint(list[0]), "field:source.ip") {
		t.Errorf("threat.enrichments of a listed address = %v", intel[threatintel.FieldEnrichments])
	}
	// The expired indicator 192.0.2.66 (valid_until 2020) is not reported.
	if got := s.Lookup(ctx, FieldSourceIP, "192.0.2.66")[threatintel.FieldEnrichments]; got != nil {
		t.Errorf("expired indicator reported: %v", got)
	}
	before := s.Stats()[CacheName].CacheHits
	s.Lookup(ctx, FieldHostName, "BASTION-01")
	if after := s.Stats()[CacheName].CacheHits; after != before+1 {
		t.Errorf("a repeated lookup: cache hits %d -> %d, want one more", before, after)
	}
	// The map is the caller's.
	m := s.Lookup(ctx, FieldHostName, "BASTION-01")
	m["vigil.host.asset.criticality"] = "changed"
	if s.Lookup(ctx, FieldHostName, "BASTION-01")["vigil.host.asset.criticality"] != "high" {
		t.Error("modifying a Lookup answer changed the next one")
	}
	disabled, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := disabled.Lookup(ctx, FieldUserName, "deploy"); got != nil {
		t.Errorf("Lookup without identity = %v", got)
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceFile replaces path atomically, as geoipupdate does.
func replaceFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

func TestShared(t *testing.T) {
	var sh Shared
	ctx := context.Background()
	if got := sh.Lookup(ctx, FieldUserName, "deploy"); got != nil {
		t.Fatalf("Lookup before a Set is stored = %v", got)
	}
	s, err := New(fullConfig(nil))
	if err != nil {
		t.Fatal(err)
	}
	sh.Store(s)
	if got := sh.Lookup(ctx, FieldUserName, "deploy"); got["user.full_name"] != "Deploy Bot" {
		t.Fatalf("Lookup through Shared = %v", got)
	}
	// A reload replaces the Set; lookups go to the new one.
	s2, err := New(Config{ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	sh.Store(s2)
	s.Close()
	if got := sh.Lookup(ctx, FieldUserName, "deploy"); got != nil {
		t.Fatalf("Lookup after the Set without identity replaced it = %v", got)
	}
	if sh.Load() != s2 {
		t.Error("Load is not the Set stored last")
	}
}

// TestPlannedIndicatorExpires: an indicator that expires while its
// address's answer is cached stops matching, in Enrich and in Lookup.
func TestPlannedIndicatorExpires(t *testing.T) {
	bundle := writeFile(t, "intel.json", `{"type": "bundle", "id": "bundle--1", "objects": [
	  {"type": "indicator", "spec_version": "2.1", "id": "indicator--1", "created": "2025-01-01T00:00:00Z",
	   "modified": "2025-01-01T00:00:00Z", "name": "Short-lived", "pattern": "[ipv4-addr:value = '192.0.2.44']",
	   "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}]}`)
	clock := time.Date(2029, 12, 31, 23, 0, 0, 0, time.UTC)
	cfg := Config{ReloadInterval: -1, ThreatIntel: threatintel.Config{
		Feeds: []threatintel.Feed{{Path: bundle}},
		Now:   func() time.Time { return clock },
	}}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	matched := func() (enrich, lookup bool) {
		ev := event.Event{"source.ip": "192.0.2.44"}
		s.Enrich(ctx, ev)
		return ev[threatintel.FieldEnrichments] != nil, s.Lookup(ctx, FieldSourceIP, "192.0.2.44") != nil
	}
	if e, l := matched(); !e || !l {
		t.Fatalf("before valid_until: Enrich matched %v, Lookup %v; want both", e, l)
	}
	clock = clock.Add(2 * time.Hour)
	if e, l := matched(); e || l {
		t.Fatalf("after valid_until: Enrich matched %v, Lookup %v; want neither", e, l)
	}
}
