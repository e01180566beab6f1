package indexer_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/triage"
)

// grownVerdict is the verdict of one incident when it holds n alerts.
func grownVerdict(t *testing.T, n int, verdict string) indexer.Doc {
	t.Helper()
	v := sshVerdict(sshAttempts(t)[0], verdict)
	v.Vigil.Incident.AlertCount = n
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return indexer.Doc{Kind: indexer.KindVerdict, ID: v.ID(), Body: body}
}

func alertCountOf(t *testing.T, body []byte) int {
	t.Helper()
	var v triage.Verdict
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("stored verdict does not decode: %v\n%s", err, body)
	}
	return v.Vigil.Incident.AlertCount
}

// A verdict never replaces one of a bigger incident: a restarted triage
// stage re-sending part of an incident it had closed writes a stale,
// smaller verdict, which Elasticsearch refuses (409) and the sink skips
// without an error or a dead letter; a bigger one replaces it.
func TestESSinkNeverReplacesABiggerIncident(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	ctx := context.Background()
	steps := []struct {
		name      string
		batch     []indexer.Doc
		wantCount int
		wantStale int64
	}{
		{"first", []indexer.Doc{grownVerdict(t, 3, triage.Suspicious)}, 3, 0},
		{"smaller later", []indexer.Doc{grownVerdict(t, 1, triage.Benign)}, 3, 1},
		{"same size again", []indexer.Doc{grownVerdict(t, 3, triage.Malicious)}, 3, 1},
		{"bigger", []indexer.Doc{grownVerdict(t, 5, triage.Malicious)}, 5, 1},
		{"bigger then smaller in one batch", []indexer.Doc{grownVerdict(t, 7, triage.Malicious), grownVerdict(t, 6, triage.Benign)}, 7, 2},
	}
	for _, st := range steps {
		failed, err := s.Write(ctx, st.batch)
		if err != nil || len(failed) != 0 {
			t.Fatalf("%s: failed=%v err=%v", st.name, failed, err)
		}
		d := st.batch[0]
		stored := srv.Docs(indexer.DefaultVerdictsIndex)[d.ID]
		if got := alertCountOf(t, stored); got != st.wantCount {
			t.Errorf("%s: stored verdict holds %d alerts, want %d", st.name, got, st.wantCount)
		}
		if got := srv.Version(indexer.DefaultVerdictsIndex, d.ID); got != int64(st.wantCount) {
			t.Errorf("%s: _version %d, want the alert count %d", st.name, got, st.wantCount)
		}
		if got := s.Stale(); got != st.wantStale {
			t.Errorf("%s: %d stale verdicts skipped, want %d", st.name, got, st.wantStale)
		}
	}
	if got := verdictOf(t, srv.Docs(indexer.DefaultVerdictsIndex)[steps[0].batch[0].ID]); got != triage.Malicious {
		t.Errorf("stored verdict %s, want the 7-alert one's", got)
	}
}

// In files a stale verdict is appended like any other line; readers and
// the compaction at Close take the highest version, the last of equals.
func TestFileSinkPrefersTheBiggestIncident(t *testing.T) {
	dir := t.TempDir()
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, d := range []indexer.Doc{
		grownVerdict(t, 2, triage.Suspicious),
		grownVerdict(t, 4, triage.Suspicious),
		grownVerdict(t, 1, triage.Benign),    // stale
		grownVerdict(t, 4, triage.Malicious), // same size, later: wins
		grownVerdict(t, 3, triage.Benign),    // stale
	} {
		if failed, err := s.Write(ctx, []indexer.Doc{d}); err != nil || len(failed) != 0 {
			t.Fatalf("failed=%v err=%v", failed, err)
		}
	}
	path := filepath.Join(dir, indexer.VerdictsFile)
	check := func(when string) {
		docs, err := indexer.ReadLatest(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(docs) != 1 {
			t.Fatalf("%s: %d verdicts, want 1", when, len(docs))
		}
		if n, v := alertCountOf(t, docs[0]), verdictOf(t, docs[0]); n != 4 || v != triage.Malicious {
			t.Errorf("%s: latest verdict has %d alerts and says %s, want 4 and %s", when, n, v, triage.Malicious)
		}
	}
	check("before Close")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
}

// A verdict of the grown incident keeps the analyst's feedback written on
// an earlier one, in files as in Elasticsearch (see suiteVerdictVersions),
// also through the compaction at Close; feedback of its own wins.
func TestFileSinkCarriesFeedbackToTheGrownIncident(t *testing.T) {
	dir := t.TempDir()
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	withFB := func(d indexer.Doc, verdict, note string) indexer.Doc {
		var m map[string]any
		if err := json.Unmarshal(d.Body, &m); err != nil {
			t.Fatal(err)
		}
		m["triage"].(map[string]any)["feedback"] = map[string]any{"verdict": verdict, "note": note, "by": "analyst1"}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		d.Body = b
		return d
	}
	feedback := func(doc []byte) (string, string) {
		var v struct {
			Triage struct {
				Feedback struct{ Verdict, Note string }
			}
		}
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		return v.Triage.Feedback.Verdict, v.Triage.Feedback.Note
	}
	path := filepath.Join(dir, indexer.VerdictsFile)
	latest := func() []byte {
		docs, err := indexer.ReadLatest(path)
		if err != nil || len(docs) != 1 {
			t.Fatalf("ReadLatest: %d docs, %v", len(docs), err)
		}
		return docs[0]
	}
	write := func(d indexer.Doc) {
		if failed, err := s.Write(context.Background(), []indexer.Doc{d}); err != nil || len(failed) != 0 {
			t.Fatalf("failed=%v err=%v", failed, err)
		}
	}
	write(grownVerdict(t, 2, triage.Suspicious))
	write(withFB(grownVerdict(t, 2, triage.Suspicious), triage.FalsePositive, "red team"))
	write(grownVerdict(t, 4, triage.Malicious))
	doc := latest()
	if n := alertCountOf(t, doc); n != 4 {
		t.Fatalf("latest verdict holds %d alerts, want 4", n)
	}
	if v, note := feedback(doc); v != triage.FalsePositive || note != "red team" {
		t.Errorf("feedback on the grown incident's verdict: %q %q, want the analyst's", v, note)
	}
	write(withFB(grownVerdict(t, 5, triage.Malicious), triage.Malicious, "confirmed"))
	write(grownVerdict(t, 6, triage.Malicious))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if v, note := feedback(latest()); v != triage.Malicious || note != "confirmed" {
		t.Errorf("after compaction: feedback %q %q, want the newest correction", v, note)
	}
}
