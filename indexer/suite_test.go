package indexer_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"os"
	"sort"
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

// The must-show assertions of issue #7 that hold for any Elasticsearch
// are written once, as suite functions taking a target, and run twice:
// TestSuiteOnTestServer against estest, TestSuiteOnRealCluster against
// the cluster at VIGIL_TEST_ES_URL. They read everything back through the
// public HTTP API (_refresh, _search, _mapping, templates, policies), so
// nothing they check depends on estest's own accessors. Fault injection
// (429s, 503s, outages) needs estest and stays in es_test.go and
// setup_test.go.

// target is an Elasticsearch the suite runs against, with index names of
// its own for this run.
type target struct {
	cfg indexer.ESConfig // addresses, credentials, this run's index names
	// srv is the test server, nil on a real cluster: the few checks only
	// a fresh, inspectable server allows are made when it is set.
	srv *estest.Server
}

// suite lists the shared assertions.
func suite() []struct {
	name string
	run  func(*testing.T, target)
} {
	return []struct {
		name string
		run  func(*testing.T, target)
	}{
		{"setup is idempotent", suiteSetupIsIdempotent},
		{"demo replay keeps one document per id", suiteDemoReplayIsIdempotent},
		{"mapping conflict is failed with its reason", suiteMappingConflictIsFailed},
		{"incidents show reads the demo back", suiteIncidentsShowReadsBack},
		{"verdicts are versioned by alert count, feedback included", suiteVerdictVersions},
	}
}

// TestSuiteOnTestServer runs the suite against the ES-protocol test
// server, a fresh one per assertion.
func TestSuiteOnTestServer(t *testing.T) {
	for _, tc := range suite() {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			t.Cleanup(srv.Close)
			tc.run(t, target{cfg: suiteConfig(t, srv.URL()), srv: srv})
		})
	}
}

// TestSuiteOnRealCluster runs the suite against a real cluster when
// VIGIL_TEST_ES_URL is set; credentials come from VIGIL_TEST_ES_API_KEY,
// or VIGIL_TEST_ES_USERNAME and VIGIL_TEST_ES_PASSWORD, the CA from
// VIGIL_TEST_ES_CA_CERT. Each assertion writes to indices with a random
// suffix and deletes them afterwards; setup installs Vigil's ILM policy
// and templates as `vigil es setup` does (the index templates then point
// at the test indices), so use a disposable cluster.
func TestSuiteOnRealCluster(t *testing.T) {
	url := os.Getenv("VIGIL_TEST_ES_URL")
	if url == "" {
		t.Skip("VIGIL_TEST_ES_URL not set: no real Elasticsearch cluster to test against")
	}
	for _, tc := range suite() {
		t.Run(tc.name, func(t *testing.T) {
			cfg := suiteConfig(t, url)
			cfg.APIKey = os.Getenv("VIGIL_TEST_ES_API_KEY")
			cfg.Username = os.Getenv("VIGIL_TEST_ES_USERNAME")
			cfg.Password = os.Getenv("VIGIL_TEST_ES_PASSWORD")
			cfg.CACertFile = os.Getenv("VIGIL_TEST_ES_CA_CERT")
			s := sinkOf(t, cfg)
			if err := s.Ping(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { deleteIndices(t, s, cfg.AlertsIndex+"*,"+cfg.VerdictsIndex+"*") })
			tc.run(t, target{cfg: cfg})
		})
	}
}

// deleteIndices deletes the indices a pattern matches one by one by name
// (Elasticsearch 8 refuses wildcard deletes by default).
func deleteIndices(t *testing.T, s *indexer.ESSink, pattern string) {
	ctx := context.Background()
	status, raw, err := s.Request(ctx, http.MethodGet, "/"+pattern, nil)
	if err != nil || status != http.StatusOK {
		t.Errorf("listing %s to delete: %d %v", pattern, status, err)
		return
	}
	var indices map[string]json.RawMessage
	if err := json.Unmarshal(raw, &indices); err != nil {
		t.Errorf("listing %s to delete: %v", pattern, err)
		return
	}
	for ix := range indices {
		if status, _, err := s.Request(ctx, http.MethodDelete, "/"+ix, nil); err != nil || status != http.StatusOK {
			t.Errorf("deleting %s: %d %v", ix, status, err)
		}
	}
}

// suiteConfig is a monthly-index configuration with index names unique
// to this test.
func suiteConfig(t *testing.T, url string) indexer.ESConfig {
	suffix := strings.ToLower(randomKey(t)[5:15])
	return indexer.ESConfig{
		Addresses:     []string{url},
		AlertsIndex:   "vigil-test-alerts-" + suffix,
		VerdictsIndex: "vigil-test-verdicts-" + suffix,
		IndexPattern:  indexer.IndexMonthly,
		Workers:       2,
		RetryBackoff:  fastRetry,
	}
}

func sinkOf(t *testing.T, cfg indexer.ESConfig) *indexer.ESSink {
	t.Helper()
	s, err := indexer.NewESSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// request sends a request and decodes the JSON answer, failing the test
// unless the status is 200.
func request(t *testing.T, s *indexer.ESSink, method, path string, body any) map[string]any {
	t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	status, answer, err := s.Request(context.Background(), method, path, raw)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, status, answer)
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v", method, path, err)
	}
	return out
}

// stored is a document as the cluster holds it.
type stored struct {
	index   string
	version int64
	source  json.RawMessage
}

// storedDocs refreshes and reads back every document of the target's
// indices, by "kind/id".
func storedDocs(t *testing.T, tg target) map[string]stored {
	t.Helper()
	s := sinkOf(t, tg.cfg)
	out := map[string]stored{}
	for _, kind := range []string{indexer.KindAlert, indexer.KindVerdict} {
		// One wildcard covers the base index and its monthly ones, and
		// matches nothing without an error when neither exists yet.
		base, _ := s.Index(kind)
		search := base + "*"
		request(t, s, http.MethodPost, "/"+search+"/_refresh", nil)
		var res struct {
			Hits struct {
				Hits []struct {
					Index   string          `json:"_index"`
					ID      string          `json:"_id"`
					Version int64           `json:"_version"`
					Source  json.RawMessage `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		raw, _ := json.Marshal(request(t, s, http.MethodPost, "/"+search+"/_search",
			map[string]any{"size": 10000, "version": true, "query": map[string]any{"match_all": map[string]any{}}}))
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits.Hits {
			key := kind + "/" + h.ID
			if prev, dup := out[key]; dup {
				t.Fatalf("%s stored twice: in %s and %s", key, prev.index, h.Index)
			}
			out[key] = stored{index: h.Index, version: h.Version, source: h.Source}
		}
	}
	return out
}

// fieldType walks a GET _mapping answer to the mapping of a dotted field.
func fieldType(t *testing.T, mapping map[string]any, index, field string) map[string]any {
	t.Helper()
	ix, _ := mapping[index].(map[string]any)
	m, _ := ix["mappings"].(map[string]any)
	for _, part := range strings.Split(field, ".") {
		props, _ := m["properties"].(map[string]any)
		m, _ = props[part].(map[string]any)
		if m == nil {
			t.Fatalf("%s: %s is not mapped", index, field)
		}
	}
	return m
}

func suiteSetupIsIdempotent(t *testing.T, tg target) {
	ctx := context.Background()
	opts := indexer.SetupOptions{Retention: 90 * 24 * time.Hour, Events: true}
	var out strings.Builder
	first, err := indexer.Setup(ctx, tg.cfg, opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 10 {
		t.Fatalf("setup manages %d objects, want 10: %+v", len(first.Items), first.Items)
	}
	if !strings.Contains(out.String(), "index template") {
		t.Errorf("report printed:\n%s", out.String())
	}
	if tg.srv != nil && first.Changed() != len(first.Items) {
		t.Fatalf("first run on an empty server: %+v", first.Items)
	}
	var writes int64
	if tg.srv != nil {
		writes = tg.srv.Requests().TemplateWrites + tg.srv.Requests().PolicyWrites
	}
	second, err := indexer.Setup(ctx, tg.cfg, opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed() != 0 {
		t.Fatalf("second run changed %+v", second.Items)
	}
	if tg.srv != nil {
		if w := tg.srv.Requests().TemplateWrites + tg.srv.Requests().PolicyWrites; w != writes {
			t.Fatalf("second run wrote %d objects", w-writes)
		}
	}
	// A new retention changes the policy only.
	opts.Retention = 30 * 24 * time.Hour
	third, err := indexer.Setup(ctx, tg.cfg, opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if third.Changed() != 1 || third.Items[0].Kind != "ilm policy" || third.Items[0].Result != "updated" {
		t.Fatalf("third run: %+v", third.Items)
	}
	s := sinkOf(t, tg.cfg)
	policy := request(t, s, http.MethodGet, "/_ilm/policy/vigil", nil)
	raw, _ := json.Marshal(policy)
	if !strings.Contains(string(raw), `"min_age":"30d"`) {
		t.Fatalf("policy after the change: %s", raw)
	}
	// The index templates match this run's indices.
	tmpl := request(t, s, http.MethodGet, "/_index_template/vigil-verdicts", nil)
	raw, _ = json.Marshal(tmpl)
	if !strings.Contains(string(raw), `"`+tg.cfg.VerdictsIndex+`-*"`) {
		t.Fatalf("verdicts template does not match %s-*: %s", tg.cfg.VerdictsIndex, raw)
	}
}

// suiteDemoReplayIsIdempotent: the demo's alerts and verdicts land in
// monthly indices created from the templates, every document under its
// id with its last version's body; replaying the same documents leaves
// the same ids, each overwritten once, and no second copy anywhere.
func suiteDemoReplayIsIdempotent(t *testing.T, tg target) {
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, tg.cfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s := sinkOf(t, tg.cfg)
	docs := demoDocs(t)
	last := map[string]indexer.Doc{} // a re-triaged verdict's last version wins
	for _, d := range docs {
		last[d.Kind+"/"+d.ID] = d
	}
	if len(last) == len(docs) {
		t.Log("the scenario has no re-triaged verdict; overwriting within a batch is not exercised")
	}
	for run := int64(1); run <= 2; run++ {
		failed, err := s.Write(ctx, docs)
		if err != nil || len(failed) != 0 {
			t.Fatalf("run %d: failed=%v err=%v", run, failed, err)
		}
		got := storedDocs(t, tg)
		if len(got) != len(last) {
			t.Fatalf("run %d: %d documents stored for %d ids", run, len(got), len(last))
		}
		for key, d := range last {
			st, ok := got[key]
			if !ok {
				t.Fatalf("run %d: %s not stored", run, key)
			}
			want, err := s.IndexFor(d)
			if err != nil {
				t.Fatal(err)
			}
			if st.index != want {
				t.Errorf("run %d: %s in %s, want %s", run, key, st.index, want)
			}
			if want := storedVersion(t, d, run); st.version != want {
				t.Errorf("run %d: %s has _version %d, want %d (alerts: written once per run; verdicts: their alert count)", run, key, st.version, want)
			}
			if !sameJSON(t, st.source, d.Body) {
				t.Errorf("run %d: %s stored with another body", run, key)
			}
		}
	}
	indices := map[string]bool{}
	for _, st := range storedDocs(t, tg) {
		indices[st.index] = true
	}
	names := make([]string, 0, len(indices))
	for ix := range indices {
		names = append(names, ix)
	}
	sort.Strings(names)
	alerts, verdicts := tg.cfg.AlertsIndex+"-2025.12", tg.cfg.VerdictsIndex+"-2025.12"
	if strings.Join(names, ",") != alerts+","+verdicts {
		t.Fatalf("indices = %v, want %s and %s", names, alerts, verdicts)
	}
	// The templates shaped the mappings, not dynamic mapping.
	mapping := request(t, s, http.MethodGet, "/"+verdicts+"/_mapping", nil)
	if ty := fieldType(t, mapping, verdicts, "triage.confidence")["type"]; ty != "float" {
		t.Errorf("triage.confidence is mapped as %v, want float", ty)
	}
	if ty := fieldType(t, mapping, verdicts, "triage.notes")["type"]; ty != "text" {
		t.Errorf("triage.notes is mapped as %v, want text", ty)
	}
	if on := fieldType(t, mapping, verdicts, "vigil.incident.alerts")["enabled"]; on != false {
		t.Errorf("vigil.incident.alerts enabled = %v, want false", on)
	}
	mapping = request(t, s, http.MethodGet, "/"+alerts+"/_mapping", nil)
	if ty := fieldType(t, mapping, alerts, "vigil.alert.events")["type"]; ty != "flattened" {
		t.Errorf("vigil.alert.events is mapped as %v, want flattened", ty)
	}
	if ty := fieldType(t, mapping, alerts, "source.ip")["type"]; ty != "ip" {
		t.Errorf("source.ip is mapped as %v, want ip", ty)
	}
}

// suiteMappingConflictIsFailed: a verdict whose triage.confidence is not
// a number is refused by the template's float mapping and comes back in
// failed (for the DLQ) with the field and the reason, while the good
// verdict of the same batch is stored.
func suiteMappingConflictIsFailed(t *testing.T, tg target) {
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, tg.cfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s := sinkOf(t, tg.cfg)
	var verdicts []indexer.Doc
	seen := map[string]bool{}
	for _, d := range demoDocs(t) {
		if d.Kind == indexer.KindVerdict && !seen[d.ID] {
			seen[d.ID] = true
			verdicts = append(verdicts, d)
		}
	}
	if len(verdicts) < 2 {
		t.Fatalf("the demo has %d verdicts, want at least 2", len(verdicts))
	}
	bad, good := verdicts[0], verdicts[1]
	var v map[string]any
	if err := json.Unmarshal(bad.Body, &v); err != nil {
		t.Fatal(err)
	}
	v["triage"].(map[string]any)["confidence"] = "very high"
	bad.Body, _ = json.Marshal(v)
	failed, err := s.Write(ctx, []indexer.Doc{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Doc.ID != bad.ID {
		t.Fatalf("failed = %+v, want only the conflicting verdict", failed)
	}
	if string(failed[0].Doc.Body) != string(bad.Body) {
		t.Error("the failed document is not the one written")
	}
	index, _ := s.IndexFor(bad)
	for _, want := range []string{"triage.confidence", "status 400", index} {
		if !strings.Contains(failed[0].Reason, want) {
			t.Errorf("reason %q lacks %q", failed[0].Reason, want)
		}
	}
	got := storedDocs(t, tg)
	if _, ok := got[indexer.KindVerdict+"/"+bad.ID]; ok {
		t.Error("the conflicting verdict was stored")
	}
	if _, ok := got[indexer.KindVerdict+"/"+good.ID]; !ok {
		t.Error("the good verdict of the same batch was not stored")
	}
}

// suiteIncidentsShowReadsBack: after the demo is indexed, `vigil
// incidents show` of the successful brute force, reading from the
// cluster, holds the summary, the alerts and the evidence event ids.
func suiteIncidentsShowReadsBack(t *testing.T, tg target) {
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, tg.cfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	sc, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.Run(ctx, scenario.Config{Scenario: sc, Name: "ssh-bruteforce"})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := res.Docs()
	if err != nil {
		t.Fatal(err)
	}
	if failed, err := sinkOf(t, tg.cfg).Write(ctx, docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	storedDocs(t, tg) // refreshes, so the search finds them
	var v *triage.Verdict
	for i := range res.Verdicts {
		if res.Verdicts[i].Triage.Verdict == triage.Malicious {
			v = &res.Verdicts[i]
		}
	}
	if v == nil {
		t.Fatal("the demo has no malicious incident")
	}
	cfg := tg.cfg
	var out strings.Builder
	src := incidents.Source{ES: &cfg, Analyst: "analyst1",
		Now: func() time.Time { return time.Date(2025, 12, 10, 12, 0, 0, 0, time.UTC) }}
	if err := incidents.Show(ctx, src, v.ID(), &out); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out.String()), " ")
	if !strings.Contains(flat, strings.Join(strings.Fields(v.Triage.Summary), " ")) {
		t.Errorf("the summary is missing:\n%s", out.String())
	}
	evidence := 0
	for _, a := range res.Alerts {
		if !containsString(v.Vigil.Incident.AlertIDs, a.Vigil.Alert.ID) {
			continue
		}
		if !strings.Contains(out.String(), a.Vigil.Alert.ID) {
			t.Errorf("alert %s is missing", a.Vigil.Alert.ID)
		}
		for _, e := range a.Vigil.Alert.Events {
			evidence++
			if !strings.Contains(out.String(), e.ID()) {
				t.Errorf("evidence event %s is missing", e.ID())
			}
		}
	}
	if evidence == 0 {
		t.Fatalf("incident %s has no evidence event: the test proves nothing", v.ID())
	}
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suiteVerdictVersions: a smaller verdict of an incident never replaces a
// bigger one (external_gte versioning by alert count), an analyst's
// feedback keeps the version at the alert count, and the verdict of the
// grown incident still replaces the one with feedback, keeping the
// feedback.
func suiteVerdictVersions(t *testing.T, tg target) {
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, tg.cfg, indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s := sinkOf(t, tg.cfg)
	write := func(n int, verdict string) {
		t.Helper()
		if failed, err := s.Write(ctx, []indexer.Doc{grownVerdict(t, n, verdict)}); err != nil || len(failed) != 0 {
			t.Fatalf("writing the %d-alert verdict: failed=%v err=%v", n, failed, err)
		}
	}
	id := grownVerdict(t, 1, triage.Benign).ID
	expect := func(when string, count int, verdict string, version int64) {
		t.Helper()
		st, ok := storedDocs(t, tg)[indexer.KindVerdict+"/"+id]
		if !ok {
			t.Fatalf("%s: verdict %s not stored", when, id)
		}
		if got := alertCountOf(t, st.source); got != count {
			t.Errorf("%s: stored verdict holds %d alerts, want %d", when, got, count)
		}
		if got := verdictOf(t, st.source); got != verdict {
			t.Errorf("%s: stored verdict says %s, want %s", when, got, verdict)
		}
		if st.version != version {
			t.Errorf("%s: _version %d, want %d", when, st.version, version)
		}
	}
	write(3, triage.Suspicious)
	write(2, triage.Benign)
	expect("after a stale smaller verdict", 3, triage.Suspicious, 3)
	cfg := tg.cfg
	src := incidents.Source{ES: &cfg, Analyst: "analyst1"}
	for range 2 {
		if err := incidents.Feedback(ctx, src, id, triage.FalsePositive, "lab traffic", io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	expect("after two feedbacks", 3, triage.Suspicious, 3)
	write(4, triage.Malicious)
	expect("after the grown incident", 4, triage.Malicious, 4)
	// The grown incident's verdict keeps the analyst's correction.
	var doc struct {
		Triage struct {
			Feedback struct{ Verdict, Note, By string }
		}
	}
	if err := json.Unmarshal(storedDocs(t, tg)[indexer.KindVerdict+"/"+id].source, &doc); err != nil {
		t.Fatal(err)
	}
	if fb := doc.Triage.Feedback; fb.Verdict != triage.FalsePositive || fb.Note != "lab traffic" || fb.By != "analyst1" {
		t.Errorf("feedback after the grown incident's verdict: %+v, want the analyst's", fb)
	}
}
