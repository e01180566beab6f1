package indexer_test

import (
	"context"
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

// TestDemoFieldsAreMappedByTheTemplates: every field of every demo
// document is mapped explicitly by the templates; nothing is left to
// dynamic mapping (which the templates turn off). Reading the mappings
// back from a cluster is part of the shared suite (suite_test.go).
func TestDemoFieldsAreMappedByTheTemplates(t *testing.T) {
	docs := demoDocs(t)
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
		// Of several versions of one verdict in a batch, only the last is
		// sent: alerts are written once, verdicts carry their alert count.
		versions := map[string]int64{}
		for _, d := range docs {
			versions[d.ID] = storedVersion(t, d, 1)
		}
		n := 0
		for _, ix := range srv.Indices() {
			for id := range srv.Docs(ix) {
				n++
				if v := srv.Version(ix, id); v != versions[id] {
					t.Errorf("%s/%s has _version %d, want %d", ix, id, v, versions[id])
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
