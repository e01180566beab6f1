package rules_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/rules"
)

// The index (with the gates that skip the rules an event's action cannot
// concern) decides nothing: on real auth logs the pack raises the same
// alerts, in the same order, with the same counters, as when every rule
// sees every event.
func TestIndexChangesNoOutcome(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := []struct {
		name string
		data func(testing.TB) []byte
	}{
		{"OpenSSH_2k.log", func(tb testing.TB) []byte { return corpus.Read(tb, "loghub/OpenSSH_2k.log") }},
		{"Linux_2k.log", func(tb testing.TB) []byte { return corpus.Read(tb, "loghub/Linux_2k.log") }},
		{"ssh-bruteforce/auth.log", func(testing.TB) []byte { return scenario }},
	}
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			p := sshd.New(sshd.Config{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
			evs := parseLines(t, in.name, in.data(t), p)
			var applied [2]map[string]int64
			run := func(noIndex bool) ([]rules.Alert, rules.Stats) {
				e := rules.NewEngine(compiled, rules.EngineConfig{NoIndex: noIndex, Now: now})
				var out []rules.Alert
				for _, ev := range evs {
					out = append(out, e.Process(ev.Clone())...)
				}
				out = append(out, e.Flush()...)
				if noIndex {
					applied[1] = e.Applied()
				} else {
					applied[0] = e.Applied()
				}
				return out, e.Stats()
			}
			indexed, si := run(false)
			all, sa := run(true)
			// The index only skips events a rule cannot match: it
			// evaluates a subset of them, and every rule that alerts
			// was evaluated on some.
			for id, n := range applied[1] {
				if applied[0][id] > n {
					t.Errorf("%s: evaluated on %d events with the index, %d without", id, applied[0][id], n)
				}
			}
			for _, a := range all {
				if applied[0][a.Rule.ID] == 0 {
					t.Errorf("%s alerted but evaluated no event with the index", a.Rule.ID)
				}
			}
			if len(indexed) == 0 && in.name != "Linux_2k.log" {
				t.Fatal("no alert at all: the comparison proves nothing")
			}
			if len(indexed) != len(all) {
				t.Fatalf("%d alerts with the index, %d without", len(indexed), len(all))
			}
			for i := range all {
				a, b := indexed[i].Vigil.Alert, all[i].Vigil.Alert
				if a.ID != b.ID || a.SuppressedCount != b.SuppressedCount || a.EventCount != b.EventCount {
					t.Fatalf("alert %d: %s %s with the index, %s %s without", i, indexed[i].Rule.ID, a.ID, all[i].Rule.ID, b.ID)
				}
			}
			if si.Alerts != sa.Alerts || si.Suppressed != sa.Suppressed || si.Excepted != sa.Excepted {
				t.Errorf("stats with the index %+v, without %+v", si, sa)
			}
		})
	}
}
