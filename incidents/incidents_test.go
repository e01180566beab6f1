package incidents_test

import (
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/indexer/scenario"
	"github.com/vigil-siem/vigil/triage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// demo replays the built-in scenario offline. Its logs have the name
// `vigil demo` gives them in event ids (the default, "scenario/auth.log"),
// so the ids here are the demo's, and those the docs print.
func demo(t *testing.T) (*scenario.Result, []indexer.Doc) {
	t.Helper()
	sc, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.Run(context.Background(), scenario.Config{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := res.Docs()
	if err != nil {
		t.Fatal(err)
	}
	return res, docs
}

// fileSource writes the documents as the index stage's file sink does.
func fileSource(t *testing.T, docs []indexer.Doc) incidents.Source {
	t.Helper()
	dir := t.TempDir()
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return incidents.Source{Dir: dir, Analyst: "analyst1", Now: fixedNow}
}

func fixedNow() time.Time { return time.Date(2025, 12, 10, 12, 0, 0, 0, time.UTC) }

// esSource indexes the documents into estest through the real sink.
func esSource(t *testing.T, docs []indexer.Doc) (incidents.Source, *estest.Server) {
	t.Helper()
	srv := estest.NewServer()
	t.Cleanup(srv.Close)
	cfg := indexer.ESConfig{Addresses: []string{srv.URL()}, IndexPattern: indexer.IndexMonthly,
		RetryBackoff: func(int) time.Duration { return time.Millisecond }}
	if _, err := indexer.Setup(context.Background(), cfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s, err := indexer.NewESSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	return incidents.Source{ES: &cfg, Analyst: "analyst1", Now: fixedNow}, srv
}

func malicious(t *testing.T, res *scenario.Result) triage.Verdict {
	t.Helper()
	for _, v := range res.Verdicts {
		if v.Triage.Verdict == triage.Malicious {
			return v
		}
	}
	t.Fatal("the scenario has no malicious incident")
	return triage.Verdict{}
}

// TestShowTheSuccessfulBruteForce: what a responder sees for the demo's
// compromise holds the summary, every line of the notes, the alerts and
// the evidence event ids, from files and from Elasticsearch alike.
func TestShowTheSuccessfulBruteForce(t *testing.T) {
	res, docs := demo(t)
	v := malicious(t, res)
	esSrc, _ := esSource(t, docs)
	sources := map[string]incidents.Source{"files": fileSource(t, docs), "elasticsearch": esSrc}
	outputs := map[string]string{}
	for name, src := range sources {
		var b strings.Builder
		if err := incidents.Show(context.Background(), src, v.ID(), &b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		outputs[name] = out
		flat := strings.Join(strings.Fields(out), " ")
		if !strings.Contains(flat, strings.Join(strings.Fields(v.Triage.Summary), " ")) {
			t.Errorf("%s: the summary is missing", name)
		}
		for _, line := range strings.Split(v.Triage.Notes, "\n") {
			line = strings.TrimPrefix(strings.TrimSpace(line), "- ")
			words := strings.Fields(strings.NewReplacer("`", "", "**", "", "#", "").Replace(line))
			if len(words) > 0 && !strings.Contains(flat, strings.Join(words, " ")) {
				t.Errorf("%s: notes line %q is missing", name, line)
			}
		}
		for _, a := range res.Alerts {
			if !contains(v.Vigil.Incident.AlertIDs, a.Vigil.Alert.ID) {
				continue
			}
			if !strings.Contains(out, a.Vigil.Alert.ID) {
				t.Errorf("%s: alert %s is missing", name, a.Vigil.Alert.ID)
			}
			for _, e := range a.Vigil.Alert.Events {
				if !strings.Contains(out, e.ID()) {
					t.Errorf("%s: evidence event %s is missing", name, e.ID())
				}
			}
		}
		for i, l := range strings.Split(out, "\n") {
			if n := len([]rune(l)); n > 100 && !strings.HasPrefix(l, "    ") { // queries are one line each, to copy
				t.Errorf("%s: line %d is %d columns: %q", name, i+1, n, l)
			}
		}
	}
	if outputs["files"] != outputs["elasticsearch"] {
		t.Errorf("files and Elasticsearch show different output")
	}
	golden := filepath.Join("testdata", "show-brute-force-success.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(outputs["files"]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if outputs["files"] != string(want) {
		t.Errorf("output differs from %s (review, then -update):\n%s", golden, outputs["files"])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestListFilters(t *testing.T) {
	res, docs := demo(t)
	v := malicious(t, res)
	esSrc, _ := esSource(t, docs)
	tests := []struct {
		name    string
		f       incidents.Filter
		want    []string // incident ids expected in the table
		notWant []string
		wantErr string
	}{
		{"all", incidents.Filter{}, ids(res.Verdicts), nil, ""},
		{"malicious", incidents.Filter{Verdict: triage.Malicious}, []string{v.ID()}, others(res.Verdicts, v.ID()), ""},
		{"critical", incidents.Filter{Severity: "critical"}, []string{v.ID()}, others(res.Verdicts, v.ID()), ""},
		{"entity", incidents.Filter{Entity: "198.51.100.23"}, []string{v.ID()}, others(res.Verdicts, v.ID()), ""},
		{"since 24h", incidents.Filter{Since: 24 * time.Hour}, ids(res.Verdicts), nil, ""},
		{"since 1m", incidents.Filter{Since: time.Minute}, nil, ids(res.Verdicts), ""},
		{"bad verdict", incidents.Filter{Verdict: "evil"}, nil, nil, "unknown verdict"},
	}
	for name, src := range map[string]incidents.Source{"files": fileSource(t, docs), "elasticsearch": esSrc} {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				var b strings.Builder
				err := incidents.List(context.Background(), src, tc.f, &b)
				if tc.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("err = %v, want %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, id := range tc.want {
					if !strings.Contains(b.String(), id) {
						t.Errorf("%s missing:\n%s", id, b.String())
					}
				}
				for _, id := range tc.notWant {
					if strings.Contains(b.String(), id) {
						t.Errorf("%s listed:\n%s", id, b.String())
					}
				}
			})
		}
	}
}

func ids(vs []triage.Verdict) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ID())
	}
	return out
}

func others(vs []triage.Verdict, id string) []string {
	var out []string
	for _, v := range vs {
		if v.ID() != id {
			out = append(out, v.ID())
		}
	}
	return out
}

// TestFeedbackIsStoredOnTheVerdict: the correction lands in
// triage.feedback of the one verdict document, keeps the triage verdict,
// adds no document, and shows in list and show.
func TestFeedbackIsStoredOnTheVerdict(t *testing.T) {
	res, docs := demo(t)
	var sus triage.Verdict
	for _, v := range res.Verdicts {
		if v.Triage.Verdict == triage.Suspicious {
			sus = v
		}
	}
	esSrc, srv := esSource(t, docs)
	fileSrc := fileSource(t, docs)
	for name, src := range map[string]incidents.Source{"files": fileSrc, "elasticsearch": esSrc} {
		t.Run(name, func(t *testing.T) {
			var b strings.Builder
			if err := incidents.Feedback(context.Background(), src, sus.ID(), triage.FalsePositive, "our red team's scanner", &b); err != nil {
				t.Fatal(err)
			}
			var stored []byte
			if src.ES != nil {
				ix := indexer.MonthlyIndex(indexer.DefaultVerdictsIndex, sus.Vigil.Incident.FirstSeen)
				stored = srv.Docs(ix)[sus.ID()]
				if n := srv.Count(ix); n != len(res.Verdicts) {
					t.Errorf("%d verdicts after feedback, want %d", n, len(res.Verdicts))
				}
			} else {
				latest, err := indexer.ReadLatest(filepath.Join(src.Dir, indexer.VerdictsFile))
				if err != nil {
					t.Fatal(err)
				}
				if len(latest) != len(res.Verdicts) {
					t.Errorf("%d verdicts after feedback, want %d", len(latest), len(res.Verdicts))
				}
				for _, d := range latest {
					if strings.Contains(string(d), sus.ID()) {
						stored = d
					}
				}
			}
			var doc struct {
				Triage struct {
					Verdict  string
					Feedback struct{ Verdict, Note, At, By string }
				}
			}
			if err := json.Unmarshal(stored, &doc); err != nil {
				t.Fatalf("%v: %s", err, stored)
			}
			fb := doc.Triage.Feedback
			if doc.Triage.Verdict != triage.Suspicious || fb.Verdict != triage.FalsePositive ||
				fb.Note != "our red team's scanner" || fb.By != "analyst1" || fb.At != "2025-12-10T12:00:00Z" {
				t.Fatalf("stored: %+v", doc.Triage)
			}
			b.Reset()
			if err := incidents.List(context.Background(), src, incidents.Filter{}, &b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "suspicious→false_positive") {
				t.Errorf("list does not show the feedback:\n%s", b.String())
			}
			b.Reset()
			if err := incidents.Show(context.Background(), src, sus.ID(), &b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "feedback    FALSE_POSITIVE by analyst1") || !strings.Contains(b.String(), "our red team's scanner") {
				t.Errorf("show does not show the feedback:\n%s", b.String())
			}
		})
	}
	for _, tc := range []struct{ id, verdict, want string }{
		{sus.ID(), "evil", "unknown verdict"},
		{"000000", triage.Benign, "no verdict"},
		{"", triage.Benign, "empty"},
	} {
		err := incidents.Feedback(context.Background(), fileSrc, tc.id, tc.verdict, "checked", &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Feedback(%q, %q) = %v, want %q", tc.id, tc.verdict, err, tc.want)
		}
	}
}

// TestShowAndListCountSuppressedAlerts: the demo's failed brute force is
// two alerts and five more that suppression held back; list and show say
// so, so the analyst sees the real size.
func TestShowAndListCountSuppressedAlerts(t *testing.T) {
	res, docs := demo(t)
	var sus triage.Verdict
	for _, v := range res.Verdicts {
		if v.Vigil.Incident.Entity.Value == "203.0.113.45" {
			sus = v
		}
	}
	if inc := sus.Vigil.Incident; inc.AlertCount != 2 || inc.SuppressedCount != 5 {
		t.Fatalf("incident of 203.0.113.45: alert_count %d, suppressed_count %d; want 2 and 5", inc.AlertCount, inc.SuppressedCount)
	}
	src := fileSource(t, docs)
	var list, show strings.Builder
	if err := incidents.List(context.Background(), src, incidents.Filter{Entity: "203.0.113.45"}, &list); err != nil {
		t.Fatal(err)
	}
	if err := incidents.Show(context.Background(), src, sus.ID(), &show); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what, out, want string
	}{
		{"list", list.String(), " 2+5 "},
		{"show", show.String(), "Alerts (2 of 2; 5 more held back by suppression)"},
		{"show", show.String(), "3 more alerts suppressed"},
		{"show", show.String(), "≈40 failed logins"},
	}
	for _, c := range checks {
		if !strings.Contains(c.out, c.want) {
			t.Errorf("%s lacks %q:\n%s", c.what, c.want, c.out)
		}
	}
}
