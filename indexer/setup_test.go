package indexer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/triage"
)

func setupCfg(url string) indexer.ESConfig {
	return indexer.ESConfig{Addresses: []string{url}, Workers: 2, RetryBackoff: fastRetry, IndexPattern: indexer.IndexMonthly}
}

func TestSetupIsIdempotent(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	opts := indexer.SetupOptions{Retention: 90 * 24 * time.Hour, Events: true}
	var out strings.Builder
	first, err := indexer.Setup(ctx, setupCfg(srv.URL()), opts, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 9 || first.Changed() != len(first.Items) {
		t.Fatalf("first run: %+v", first.Items)
	}
	if !strings.Contains(out.String(), "index template") || !strings.Contains(out.String(), "created") {
		t.Errorf("report printed:\n%s", out.String())
	}
	writes := srv.Requests().TemplateWrites + srv.Requests().PolicyWrites
	second, err := indexer.Setup(ctx, setupCfg(srv.URL()), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if second.Changed() != 0 {
		t.Fatalf("second run changed %+v", second.Items)
	}
	if w := srv.Requests().TemplateWrites + srv.Requests().PolicyWrites; w != writes {
		t.Fatalf("second run wrote %d objects", w-writes)
	}
	// A new retention changes the policy only.
	opts.Retention = 30 * 24 * time.Hour
	third, err := indexer.Setup(ctx, setupCfg(srv.URL()), opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if third.Changed() != 1 || third.Items[0].Kind != "ilm policy" || third.Items[0].Result != "updated" {
		t.Fatalf("third run: %+v", third.Items)
	}
	_, body := get(t, srv.URL()+"/_ilm/policy/vigil")
	if !strings.Contains(body, `"min_age":"30d"`) {
		t.Fatalf("policy after the change: %s", body)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestDemoDocsIndexIntoTemplatedMonthlyIndices: the demo's alerts and
// verdicts land in monthly indices created from the templates, every
// field they hold is mapped explicitly (nothing left to dynamic mapping),
// re-triaged verdicts overwrite, and a replay changes no count or id.
func TestDemoDocsIndexIntoTemplatedMonthlyIndices(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, setupCfg(srv.URL()), indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.IndexPattern = indexer.IndexMonthly })
	docs := demoDocs(t)
	ids := map[string]bool{}
	for _, d := range docs {
		ids[d.Kind+"/"+d.ID] = true
	}
	var retriaged int
	for _, d := range docs {
		if d.Kind == indexer.KindVerdict {
			retriaged++
		}
	}
	if retriaged <= 2 {
		t.Logf("the scenario has no re-triaged verdict; overwrite is tested elsewhere")
	}
	snapshot := func() map[string]int64 {
		out := map[string]int64{}
		for _, ix := range srv.Indices() {
			for id := range srv.Docs(ix) {
				out[ix+"/"+id] = srv.Version(ix, id)
			}
		}
		return out
	}
	for run := 1; run <= 2; run++ {
		failed, err := s.Write(ctx, docs)
		if err != nil || len(failed) != 0 {
			t.Fatalf("run %d: failed=%v err=%v", run, failed, err)
		}
		got := snapshot()
		if len(got) != len(ids) {
			t.Fatalf("run %d: %d documents stored for %d ids: %v", run, len(got), len(ids), got)
		}
	}
	if got := srv.Indices(); strings.Join(got, ",") != "vigil-alerts-2025.12,vigil-verdicts-2025.12" {
		t.Fatalf("indices = %v", got)
	}
	// The templates shaped the mapping, not dynamic mapping.
	_, mapping := get(t, srv.URL()+"/vigil-verdicts-2025.12/_mapping")
	for _, want := range []string{`"confidence":{"type":"float"}`, `"notes":{"type":"text"}`, `"alerts":{"enabled":false}`} {
		if !strings.Contains(mapping, want) {
			t.Errorf("verdicts mapping lacks %s", want)
		}
	}
	_, mapping = get(t, srv.URL()+"/vigil-alerts-2025.12/_mapping")
	for _, want := range []string{`"events":{"type":"flattened"}`, `"ip":{"type":"ip"}`} {
		if !strings.Contains(mapping, want) {
			t.Errorf("alerts mapping lacks %s", want)
		}
	}
	// Every field of every document is mapped by the templates.
	for _, d := range docs {
		types, err := indexer.FieldTypes(d.Kind)
		if err != nil {
			t.Fatal(err)
		}
		e, err := event.Unmarshal(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		for path := range e {
			if !mappedOrInside(types, path) {
				t.Errorf("%s field %s is not mapped by the templates", d.Kind, path)
			}
		}
	}
}

// mappedOrInside: the path is a mapped field, or an array of objects
// (threat, vigil.incident.rules) whose parent is a mapped object, or lies
// inside a flattened or disabled object.
func mappedOrInside(types map[string]string, path string) bool {
	if indexer.MappedField(types, path) {
		return true
	}
	if t, ok := types[path]; ok && t == "object" {
		return true
	}
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if types[path[:i]] == "flattened" {
			return true
		}
	}
	return false
}

func TestMonthlyIndexNeedsThePlacingTime(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.IndexPattern = indexer.IndexMonthly })
	tests := []struct {
		doc  indexer.Doc
		want string
	}{
		{indexer.Doc{Kind: indexer.KindAlert, ID: "a", Body: []byte(`{"@timestamp":"2026-02-01T00:00:00Z","vigil":{"alert":{"id":"a"}}}`)}, "vigil-alerts-2026.02"},
		{indexer.Doc{Kind: indexer.KindVerdict, ID: "v", Body: []byte(`{"@timestamp":"2026-03-01T00:00:00Z","vigil":{"incident":{"id":"v","first_seen":"2026-02-28T23:59:59Z"}}}`)}, "vigil-verdicts-2026.02"},
		{indexer.Doc{Kind: indexer.KindVerdict, ID: "w", Body: []byte(`{"vigil":{"incident":{"id":"w"}}}`)}, "vigil.incident.first_seen"},
		{indexer.Doc{Kind: indexer.KindAlert, ID: "b", Body: []byte(`{"@timestamp":"yesterday"}`)}, "@timestamp"},
	}
	for _, tc := range tests {
		got, err := s.IndexFor(tc.doc)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.doc.ID, got, tc.want)
		}
	}
	failed, err := s.Write(context.Background(), []indexer.Doc{tests[2].doc})
	if err != nil || len(failed) != 1 || !strings.Contains(failed[0].Reason, "first_seen") {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
}

func TestTemplateMappingConflictIsFailedWithReason(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, setupCfg(srv.URL()), indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.IndexPattern = indexer.IndexMonthly })
	docs := demoDocs(t)
	var bad indexer.Doc
	for _, d := range docs {
		if d.Kind == indexer.KindVerdict {
			bad = d
		}
	}
	var v map[string]any
	_ = json.Unmarshal(bad.Body, &v)
	v["triage"].(map[string]any)["confidence"] = "very high"
	bad.Body, _ = json.Marshal(v)
	// The very first document already meets the template's float.
	failed, err := s.Write(ctx, []indexer.Doc{bad})
	if err != nil || len(failed) != 1 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	for _, want := range []string{"triage.confidence", "float", "document_parsing_exception"} {
		if !strings.Contains(failed[0].Reason, want) {
			t.Errorf("reason %q lacks %q", failed[0].Reason, want)
		}
	}
}

// TestOutageLosesNothing: Elasticsearch goes away for "30 seconds" of a
// fake clock while the caller keeps retrying the same batch, as the
// index stage does; every error says retryable, and once the cluster is
// back every document is indexed exactly once.
func TestOutageLosesNothing(t *testing.T) {
	for _, mode := range []estest.Outage{estest.OutageRefuse, estest.OutageUnavailable} {
		srv := estest.NewServer()
		s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.IndexPattern = indexer.IndexMonthly; c.MaxRetries = 2 })
		docs := demoDocs(t)
		srv.SetOutage(mode)
		var clock time.Duration // fake: advances by the backoff, never sleeps
		const outage = 30 * time.Second
		attempts := 0
		for {
			if clock >= outage {
				srv.SetOutage(estest.OutageNone)
			}
			attempts++
			failed, err := s.Write(context.Background(), docs)
			if err == nil {
				if len(failed) != 0 {
					t.Fatalf("failed = %v", failed)
				}
				break
			}
			if !indexer.IsRetryable(err) {
				t.Fatalf("outage error not retryable: %v", err)
			}
			clock += time.Second
			if attempts > 100 {
				t.Fatal("never recovered")
			}
		}
		if attempts < 30 {
			t.Fatalf("only %d attempts: the outage was not exercised", attempts)
		}
		// Of several versions of one verdict in a batch, only the last is sent.
		versions := map[string]int64{}
		for _, d := range docs {
			versions[d.ID] = 1
		}
		n := 0
		for _, ix := range srv.Indices() {
			for id := range srv.Docs(ix) {
				n++
				if v := srv.Version(ix, id); v != versions[id] {
					t.Errorf("%s/%s written %d times, want %d", ix, id, v, versions[id])
				}
			}
		}
		want := map[string]bool{}
		for _, d := range docs {
			want[d.Kind+d.ID] = true
		}
		if n != len(want) {
			t.Errorf("%d documents after the outage, want %d", n, len(want))
		}
		srv.Close()
	}
}

func TestIsRetryable(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	key := randomKey(t)
	tests := []struct {
		name   string
		inject func()
		want   bool
	}{
		{"connection refused", func() { srv.SetOutage(estest.OutageRefuse) }, true},
		{"503", func() { srv.SetOutage(estest.OutageUnavailable) }, true},
		{"items 429 beyond retries", func() {
			srv.SetItemStatus(func(int, string, string) int { return http.StatusTooManyRequests })
		}, true},
		{"credentials refused", func() { srv.RequireAPIKey(key) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetOutage(estest.OutageNone)
			srv.SetItemStatus(nil)
			srv.RequireAPIKey("")
			tc.inject()
			s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.MaxRetries = 1 })
			_, err := s.Write(context.Background(), mixedDocs(t, 2))
			if err == nil {
				t.Fatal("no error")
			}
			if got := indexer.IsRetryable(err); got != tc.want {
				t.Fatalf("IsRetryable(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
	if indexer.IsRetryable(context.Canceled) || indexer.IsRetryable(nil) || indexer.IsRetryable(errors.New("x")) {
		t.Fatal("cancel, nil or a plain error reported retryable")
	}
}

// TestMonthlyIndicesUnderFaults: 30% of bulk items answered 429 and some
// whole requests 503; every document ends up in its monthly index once.
func TestMonthlyIndicesUnderFaults(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	if _, err := indexer.Setup(ctx, setupCfg(srv.URL()), indexer.SetupOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	srv.SetItemFaultRate(0.3, http.StatusTooManyRequests, 11)
	srv.FailRequests(3, http.StatusServiceUnavailable)
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.IndexPattern = indexer.IndexMonthly; c.MaxRetries = 20 })
	docs := mixedDocs(t, 150)
	failed, err := s.Write(ctx, docs)
	if err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	c := srv.Requests()
	if c.ItemFaults == 0 || c.RequestFaults != 3 {
		t.Fatalf("faults injected: %d items, %d requests", c.ItemFaults, c.RequestFaults)
	}
	for _, d := range docs {
		ix, err := s.IndexFor(d)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(ix, "-2024.12") && !strings.Contains(ix, "-20") {
			t.Fatalf("index %s is not monthly", ix)
		}
		if v := srv.Version(ix, d.ID); v != 1 {
			t.Fatalf("%s/%s has version %d, want 1", ix, d.ID, v)
		}
	}
	if int(c.Indexed) != len(docs) {
		t.Fatalf("server applied %d writes for %d documents", c.Indexed, len(docs))
	}
}

// TestLastVersionInABatchWins: a batch holding an earlier and a later
// version of the same verdicts stores the later one, whatever order the
// parallel bulk requests run in.
func TestLastVersionInABatchWins(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.Workers = 4; c.FlushBytes = 4096 })
	att := sshAttempts(t)
	var docs []indexer.Doc
	for i := range 200 {
		docs = append(docs, verdictDoc(t, att[i%len(att)], triage.Suspicious))
	}
	for i := range 200 {
		docs = append(docs, verdictDoc(t, att[i%len(att)], triage.Malicious))
	}
	if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	for id, body := range srv.Docs(indexer.DefaultVerdictsIndex) {
		if got := verdictOf(t, body); got != triage.Malicious {
			t.Fatalf("%s holds the earlier version (%s)", id, got)
		}
	}
}
