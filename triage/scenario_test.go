package triage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// scenarioEvents parses the demo scenario's auth.log with the sshd parser.
func scenarioEvents(t testing.TB) []event.Event {
	t.Helper()
	path := filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("demo scenario not found: %v", err)
	}
	// The sshd parser itself: the collectors package imports config, which
	// imports triage.
	p := sshd.New(sshd.Config{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	var events []event.Event
	offset := int64(0)
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		events = append(events, p.Parse(parsers.Source{Name: path, Offset: offset}, bytes.TrimRight(line, "\r\n")))
		offset += int64(len(line))
	}
	return events
}

func TestFallbackOnTheDemoScenario(t *testing.T) {
	events := scenarioEvents(t)
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng := rules.NewEngine(compiled, rules.EngineConfig{})
	var alerts []rules.Alert
	for _, e := range events {
		alerts = append(alerts, eng.Process(e)...)
	}
	alerts = append(alerts, eng.Flush()...)
	g := NewGrouper(GrouperConfig{})
	incidents := map[string]*Incident{}
	for _, a := range alerts {
		inc, _ := g.Add(a)
		incidents[inc.Entity.Field+"="+inc.Entity.Value] = inc
	}
	fb := NewFallback()
	want := map[string]string{
		"source.ip=198.51.100.23": Malicious,  // guessed deploy's password, then sudo wget as root
		"source.ip=203.0.113.45":  Suspicious, // brute force that never got in
	}
	for ent, verdict := range want {
		inc := incidents[ent]
		if inc == nil {
			t.Fatalf("no incident for %s; incidents: %v", ent, keys(incidents))
		}
		got, err := fb.Triage(context.Background(), inc)
		if err != nil {
			t.Fatal(err)
		}
		if got.Verdict != verdict {
			t.Errorf("%s: verdict %s, want %s\n%s", ent, got.Verdict, verdict, got.Summary)
		}
	}

	// The admin's routine: alice's key logins and sudo use from the
	// office, as one incident about her (no rule fires on them, so the
	// alert is made here).
	var alice []event.Event
	for _, e := range events {
		if e.String("user.name") == "alice" && e.String("event.outcome") == "success" {
			alice = append(alice, e)
		}
	}
	if len(alice) < 4 {
		t.Fatalf("only %d successful events of alice in the scenario", len(alice))
	}
	first, _ := alice[0].Time()
	last, _ := alice[len(alice)-1].Time()
	a := rules.Alert{
		Timestamp: last,
		Rule:      rules.AlertRule{ID: "test.admin_activity", Name: "Administrator activity"},
		Vigil: rules.AlertVigil{Alert: rules.AlertDetail{
			ID: rules.AlertID("test.admin_activity", alice), Kind: "match", Severity: "low",
			Entity:    rules.Entity{Field: "user.name", Value: "alice"},
			FirstSeen: first, LastSeen: last, EventCount: len(alice), Events: alice,
		}},
	}
	inc, _ := NewGrouper(GrouperConfig{Window: 24 * time.Hour}).Add(a)
	got, err := fb.Triage(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != Benign {
		t.Errorf("alice's routine logins: verdict %s, want benign\n%s", got.Verdict, got.Notes)
	}
}

func keys(m map[string]*Incident) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}
