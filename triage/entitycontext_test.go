package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/enrichers/assets"
	"github.com/vigil-siem/vigil/enrichers/identity"
	"github.com/vigil-siem/vigil/enrichers/threatintel"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// sharedEnrichers is the Set a detect stage would run, on the enrichers'
// test data: 192.0.2.10 is on a blocklist, bastion-01.corp.example is a
// high-criticality asset, root is a privileged account in IT.
func sharedEnrichers(t *testing.T) *enrichers.Set {
	t.Helper()
	cfg := enrichers.DefaultConfig()
	cfg.ReloadInterval = -1
	cfg.ThreatIntel = threatintel.Config{Feeds: []threatintel.Feed{{Path: "../enrichers/threatintel/testdata/blocklist.txt"}}}
	cfg.Assets = assets.Config{Files: []string{"../enrichers/assets/testdata/assets.csv"}}
	cfg.Identity = identity.Config{Files: []string{"../enrichers/identity/testdata/users.csv"}}
	s, err := enrichers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bareIncident is an SSH brute force from 192.0.2.10 against bastion-01
// whose events carry no enrichment at all.
func bareIncident(t *testing.T) *Incident {
	inc := llmIncident("192.0.2.10", llmBaseTime, "")
	inc.Hosts = []string{"bastion-01"}
	for _, e := range inc.Alerts[0].Vigil.Alert.Events {
		e["host.name"] = "bastion-01"
		for k := range e {
			if _, enr := enrichmentSubject(k, e); enr {
				t.Fatalf("test event carries enrichment field %s", k)
			}
		}
	}
	return inc
}

// promptEnrichment builds inc's prompt and returns its enrichment section.
func promptEnrichment(t *testing.T, inc *Incident, lookup EntityLookup) map[string]map[string]any {
	t.Helper()
	return promptEnrichmentWith(t, inc, PromptConfig{Lookup: lookup})
}

func promptEnrichmentWith(t *testing.T, inc *Incident, cfg PromptConfig) map[string]map[string]any {
	t.Helper()
	pr, err := NewPrompter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pr.Build(inc)
	if err != nil {
		t.Fatal(err)
	}
	var doc promptDoc
	if err := json.Unmarshal([]byte(llmDataBlock(t, p.User)), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Enrichment
}

func TestTriageLooksUpEntities(t *testing.T) {
	set := sharedEnrichers(t)
	ctx := context.Background()
	// The detect stage enriched an event of the same host: that answer is
	// cached in the Set and triage reuses it.
	set.Enrich(ctx, event.Event{"host.name": "bastion-01", "user.name": "root"})
	hitsBefore := set.Stats()[enrichers.CacheName].CacheHits

	tests := []struct {
		name   string
		lookup EntityLookup
		want   bool
	}{
		{"with the shared enrichers", set, true},
		{"without", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := bareIncident(t)
			cfg := Config{Engine: EngineFallback, Lookup: tt.lookup}
			enr := promptEnrichment(t, inc, tt.lookup)
			facts := map[string]bool{
				"asset criticality": enr["host.name=bastion-01"]["vigil.host.asset.criticality"] == "high",
				"asset owner":       enr["host.name=bastion-01"]["vigil.host.asset.owner"] == "it-ops",
				"privileged user":   enr["user.name=root"]["vigil.user.privileged"] == true,
				"department":        enr["user.name=root"]["vigil.user.department"] == "IT",
				"intel match":       enr["source.ip=192.0.2.10"]["threat.enrichments"] != nil,
				"address class":     enr["source.ip=192.0.2.10"]["vigil.source.ip_class"] == "reserved",
			}
			for fact, ok := range facts {
				if ok != tt.want {
					t.Errorf("prompt: %s present = %v, want %v; enrichment %v", fact, ok, tt.want, enr)
				}
			}

			tr, err := NewTriager(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tr.Triage(ctx, inc)
			if err != nil {
				t.Fatal(err)
			}
			notes := section(res.Notes, "## Context")
			why := section(res.Notes, "## Why this verdict")
			for _, s := range []string{"vigil.host.asset.criticality high", "vigil.user.privileged true", "threat intel: blocklist.txt on source.ip"} {
				if strings.Contains(notes, s) != tt.want {
					t.Errorf("notes: %q present = %v, want %v; context section:\n%s", s, !tt.want, tt.want, notes)
				}
			}
			for _, s := range []string{"Threat intelligence lists 192.0.2.10", "asset(s) of high criticality bastion-01 (high)", "privileged account(s) root"} {
				if strings.Contains(why, s) != tt.want {
					t.Errorf("why: %q present = %v, want %v:\n%s", s, !tt.want, tt.want, why)
				}
			}
		})
	}
	if hits := set.Stats()[enrichers.CacheName].CacheHits; hits <= hitsBefore {
		t.Errorf("triage lookups did not hit the shared cache: hits %d -> %d", hitsBefore, hits)
	}
}

// TestEventEnrichmentWins: a value the event carries is kept over the
// lookup's (the event was enriched when it happened; data may change).
func TestEventEnrichmentWins(t *testing.T) {
	set := sharedEnrichers(t)
	inc := bareIncident(t)
	for _, e := range inc.Alerts[0].Vigil.Alert.Events {
		e["vigil.host.asset.criticality"] = "low"
	}
	host := promptEnrichment(t, inc, set)["host.name=bastion-01"]
	if host["vigil.host.asset.criticality"] != "low" || host["vigil.host.asset.owner"] != "it-ops" {
		t.Errorf("host enrichment = %v, want the event's criticality and the lookup's owner", host)
	}
}

// TestPseudonymisedLookupsNameNobody: with pseudonymisation on, what the
// directory says of a user is shown under the stand-in, without the
// person's full name or e-mail address.
func TestPseudonymisedLookupsNameNobody(t *testing.T) {
	set := sharedEnrichers(t)
	inc := bareIncident(t)
	inc.Users = []string{"deploy"}
	for _, e := range inc.Alerts[0].Vigil.Alert.Events {
		e["user.name"] = "deploy"
	}
	enr := promptEnrichmentWith(t, inc, PromptConfig{Lookup: set, Pseudonymize: true})
	var user map[string]any
	for subj, m := range enr {
		if strings.HasPrefix(subj, "user.name=") {
			if strings.Contains(subj, "deploy") {
				t.Errorf("subject %q names the user", subj)
			}
			user = m
		}
	}
	if user["vigil.user.privileged"] != true || user["vigil.user.department"] != "Platform" {
		t.Errorf("user enrichment = %v, want privileged and department", user)
	}
	for k, v := range user {
		if s := fmt.Sprint(v); strings.Contains(s, "Deploy Bot") || strings.Contains(s, "deploy@") {
			t.Errorf("%s = %v names the person", k, v)
		}
	}
}

func TestLookupTargets(t *testing.T) {
	ev := func(src, dst string) event.Event { return event.Event{"source.ip": src, "destination.ip": dst} }
	many := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s%d", prefix, i))
		}
		return out
	}
	tests := []struct {
		name string
		inc  Incident
		want string // the first targets, in order
		n    int    // how many in all
	}{
		{"entity first, then addresses by the side the events show",
			Incident{Entity: rules.Entity{Field: "user.name", Value: "root"}, IPs: []string{"10.0.0.5", "192.0.2.1"}, Users: []string{"root"},
				Alerts: []rules.Alert{{Vigil: rules.AlertVigil{Alert: rules.AlertDetail{Events: []event.Event{ev("192.0.2.1", "10.0.0.5")}}}}}},
			"user.name=root destination.ip=10.0.0.5 source.ip=192.0.2.1", 3},
		{"a client address is looked up as a source; host.ip is not looked up",
			Incident{Entity: rules.Entity{Field: "client.ip", Value: "192.0.2.7"}}, "source.ip=192.0.2.7", 1},
		{"host.ip entity", Incident{Entity: rules.Entity{Field: "host.ip", Value: "10.0.0.2"}}, "", 0},
		{"capped per kind", Incident{IPs: many("192.0.2.", 30), Hosts: many("h", 30), Users: many("u", 30)}, "source.ip=192.0.2.0", 20},
	}
	for _, tt := range tests {
		got := lookupTargets(&tt.inc)
		var parts []string
		for _, g := range got {
			parts = append(parts, g.field+"="+g.value)
		}
		if len(got) != tt.n || !strings.HasPrefix(strings.Join(parts, " "), tt.want) {
			t.Errorf("%s: targets %v, want %d starting %q", tt.name, parts, tt.n, tt.want)
		}
	}
}
