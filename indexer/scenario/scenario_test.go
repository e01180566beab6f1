package scenario_test

import (
	"context"
	"io/fs"
	"testing"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/indexer/scenario"
	"github.com/vigil-siem/vigil/triage"
)

func TestBuiltInScenarioGivesTheDemoIncidents(t *testing.T) {
	sc, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.Run(context.Background(), scenario.Config{Scenario: sc, Name: "ssh-bruteforce"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range res.Verdicts {
		got[v.Vigil.Incident.Entity.String()] = v.Triage.Verdict
	}
	want := map[string]string{"source.ip=198.51.100.23": triage.Malicious, "source.ip=203.0.113.45": triage.Suspicious}
	for ent, verdict := range want {
		if got[ent] != verdict {
			t.Errorf("%s: verdict %q, want %q (all: %v)", ent, got[ent], verdict, got)
		}
	}
	ids := map[string]bool{}
	for _, a := range res.Alerts {
		ids[a.Vigil.Alert.ID] = true
	}
	if len(ids) == 0 || len(res.Verdicts) != len(want) {
		t.Errorf("%d alerts, %d incidents; want alerts and exactly the incidents %v", len(ids), len(res.Verdicts), want)
	}
	again, err := scenario.Run(context.Background(), scenario.Config{Scenario: sc, Name: "ssh-bruteforce"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := res.Docs()
	b, _ := again.Docs()
	if len(a) != len(b) {
		t.Fatalf("two runs gave %d and %d documents", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || string(a[i].Body) != string(b[i].Body) {
			t.Fatalf("document %d differs between two runs", i)
		}
	}
}
