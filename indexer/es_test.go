package indexer_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/triage"
)

// fastRetry keeps retries quick in tests.
func fastRetry(int) time.Duration { return time.Millisecond }

func newESSink(t testing.TB, url string, mod func(*indexer.ESConfig)) *indexer.ESSink {
	t.Helper()
	cfg := indexer.ESConfig{Addresses: []string{url}, Workers: 2, RetryBackoff: fastRetry}
	if mod != nil {
		mod(&cfg)
	}
	s, err := indexer.NewESSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// mixedDocs returns n alerts and n verdicts built from the real SSH log.
func mixedDocs(t testing.TB, n int) []indexer.Doc {
	t.Helper()
	att := sshAttempts(t)
	var docs []indexer.Doc
	for i := range n {
		a := att[i%len(att)]
		v := verdictDoc(t, a, triage.Suspicious)
		v.ID, v.Body = uniqueVerdict(t, v, i)
		docs = append(docs, alertDoc(t, a), v)
	}
	return dedupe(docs)
}

// dedupe drops repeated alert ids (the log repeats some lines verbatim).
func dedupe(docs []indexer.Doc) []indexer.Doc {
	seen := map[string]bool{}
	out := docs[:0]
	for _, d := range docs {
		if !seen[d.Kind+"/"+d.ID] {
			seen[d.Kind+"/"+d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

func indexFor(d indexer.Doc) string {
	if d.Kind == indexer.KindAlert {
		return indexer.DefaultAlertsIndex
	}
	return indexer.DefaultVerdictsIndex
}

// assertIndexedOnce checks every doc is stored under its id, in its
// index, with its body, written exactly once.
func assertIndexedOnce(t *testing.T, srv *estest.Server, docs []indexer.Doc) {
	t.Helper()
	for _, d := range docs {
		stored, ok := srv.Docs(indexFor(d))[d.ID]
		if !ok {
			t.Fatalf("%s %s not indexed in %s", d.Kind, d.ID, indexFor(d))
		}
		if !sameJSON(t, stored, d.Body) {
			t.Fatalf("%s %s stored with a different body", d.Kind, d.ID)
		}
		if v := srv.Version(indexFor(d), d.ID); v != 1 {
			t.Fatalf("%s %s has _version %d, want 1 (written once)", d.Kind, d.ID, v)
		}
	}
	alerts, verdicts := 0, 0
	for _, d := range docs {
		if d.Kind == indexer.KindAlert {
			alerts++
		} else {
			verdicts++
		}
	}
	if got := srv.Count(indexer.DefaultAlertsIndex); got != alerts {
		t.Errorf("alerts index holds %d docs, want %d", got, alerts)
	}
	if got := srv.Count(indexer.DefaultVerdictsIndex); got != verdicts {
		t.Errorf("verdicts index holds %d docs, want %d", got, verdicts)
	}
}

func TestESSinkIndexesEveryDocUnderItsID(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	docs := mixedDocs(t, 60)
	failed, err := s.Write(context.Background(), docs)
	if err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	assertIndexedOnce(t, srv, docs)
}

func TestESSinkUsesConfiguredIndices(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) {
		c.AlertsIndex, c.VerdictsIndex = "soc-alerts", "soc-verdicts"
	})
	docs := mixedDocs(t, 5)
	if _, err := s.Write(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if got := srv.Indices(); strings.Join(got, ",") != "soc-alerts,soc-verdicts" {
		t.Fatalf("indices = %v", got)
	}
}

func TestESSinkReplayOverwrites(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	docs := mixedDocs(t, 40)
	for range 2 {
		if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
			t.Fatalf("Write: failed=%v err=%v", failed, err)
		}
	}
	total := srv.Count(indexer.DefaultAlertsIndex) + srv.Count(indexer.DefaultVerdictsIndex)
	if total != len(docs) {
		t.Fatalf("after a replay: %d documents, want %d", total, len(docs))
	}
	for _, d := range docs {
		if v, want := srv.Version(indexFor(d), d.ID), storedVersion(t, d, 2); v != want {
			t.Fatalf("%s %s: _version %d, want %d (alerts overwritten by the replay; a verdict keeps its alert count)", d.Kind, d.ID, v, want)
		}
	}
}

func TestESSinkResubmitsItemsRejectedInsideBulk(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*estest.Server)
	}{
		{"30% of items answered 429", func(s *estest.Server) { s.SetItemFaultRate(0.3, http.StatusTooManyRequests, 7) }},
		{"every item 503 twice", func(s *estest.Server) {
			var mu sync.Mutex
			seen := map[string]int{}
			s.SetItemStatus(func(_ int, index, id string) int {
				mu.Lock()
				defer mu.Unlock()
				seen[index+"/"+id]++
				if seen[index+"/"+id] <= 2 {
					return http.StatusServiceUnavailable
				}
				return 0
			})
		}},
		{"first item of the first five requests 500", func(s *estest.Server) {
			requests := 0
			s.SetItemStatus(func(item int, _, _ string) int {
				if item == 0 {
					requests++
				}
				if item == 0 && requests <= 5 {
					return http.StatusInternalServerError
				}
				return 0
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			tc.inject(srv)
			// 0.3^21 per document: no document runs out of retries.
			s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.MaxRetries = 20 })
			docs := mixedDocs(t, 150)
			failed, err := s.Write(context.Background(), docs)
			if err != nil || len(failed) != 0 {
				t.Fatalf("Write: failed=%v err=%v", failed, err)
			}
			c := srv.Requests()
			if c.ItemFaults == 0 {
				t.Fatal("no item fault was injected; the test proves nothing")
			}
			if c.Indexed != int64(len(docs)) {
				t.Fatalf("server applied %d writes for %d documents", c.Indexed, len(docs))
			}
			assertIndexedOnce(t, srv, docs)
		})
	}
}

func TestESSinkSurvivesRequestLevelFailures(t *testing.T) {
	for _, status := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusBadGateway} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			srv.FailRequests(3, status)
			s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.Workers = 1 })
			docs := mixedDocs(t, 20)
			failed, err := s.Write(context.Background(), docs)
			if err != nil || len(failed) != 0 {
				t.Fatalf("Write: failed=%v err=%v", failed, err)
			}
			if c := srv.Requests(); c.RequestFaults != 3 {
				t.Fatalf("%d requests failed by injection, want 3", c.RequestFaults)
			}
			assertIndexedOnce(t, srv, docs)
		})
	}
}

func TestESSinkReturnsMappingConflictsAsFailed(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	att := sshAttempts(t)
	ctx := context.Background()
	// The first verdict fixes triage.confidence as a number.
	if failed, err := s.Write(ctx, []indexer.Doc{verdictDoc(t, att[0], triage.Benign)}); err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	bad := verdictDoc(t, att[1], triage.Benign)
	bad.Body = []byte(strings.Replace(string(bad.Body), `"confidence":0.72`, `"confidence":"very high"`, 1))
	good := verdictDoc(t, att[2], triage.Malicious)
	failed, err := s.Write(ctx, []indexer.Doc{bad, good})
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Doc.ID != bad.ID {
		t.Fatalf("failed = %+v, want only the conflicting document", failed)
	}
	for _, want := range []string{"triage.confidence", "document_parsing_exception", "400"} {
		if !strings.Contains(failed[0].Reason, want) {
			t.Errorf("reason %q does not mention %q", failed[0].Reason, want)
		}
	}
	if string(failed[0].Doc.Body) != string(bad.Body) {
		t.Error("failed document is not the one given to Write")
	}
	docs := srv.Docs(indexer.DefaultVerdictsIndex)
	if _, ok := docs[bad.ID]; ok {
		t.Error("conflicting document was stored")
	}
	if _, ok := docs[good.ID]; !ok {
		t.Error("the good document in the same batch was not stored")
	}
}

func TestESSinkFailsLocallyInvalidDocs(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	good := verdictDoc(t, sshAttempts(t)[0], triage.Benign)
	tests := []struct {
		doc    indexer.Doc
		reason string
	}{
		{indexer.Doc{Kind: "incident", ID: "x", Body: good.Body}, "unknown document kind"},
		{indexer.Doc{Kind: indexer.KindVerdict, Body: good.Body}, "no id"},
		{indexer.Doc{Kind: indexer.KindAlert, ID: "x", Body: []byte("{\"a\":\n")}, "not valid JSON"},
	}
	docs := []indexer.Doc{good}
	for _, tc := range tests {
		docs = append(docs, tc.doc)
	}
	failed, err := s.Write(context.Background(), docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != len(tests) {
		t.Fatalf("failed = %+v, want %d", failed, len(tests))
	}
	for i, tc := range tests {
		if !strings.Contains(failed[i].Reason, tc.reason) {
			t.Errorf("failed[%d].Reason = %q, want %q", i, failed[i].Reason, tc.reason)
		}
	}
	if c := srv.Requests(); c.BulkItems != 1 || srv.Count(indexer.DefaultVerdictsIndex) != 1 {
		t.Fatalf("sent %d items, want only the valid one", c.BulkItems)
	}
}

func TestESSinkPrettyPrintedBodyIsIndexed(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), nil)
	d := verdictDoc(t, sshAttempts(t)[0], triage.Benign)
	pretty := indexer.Doc{Kind: d.Kind, ID: d.ID, Body: []byte(strings.ReplaceAll(string(d.Body), `,"`, ",\n  \""))}
	if failed, err := s.Write(context.Background(), []indexer.Doc{pretty}); err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	if !sameJSON(t, srv.Docs(indexer.DefaultVerdictsIndex)[d.ID], d.Body) {
		t.Fatal("stored body differs")
	}
}

func TestESSinkErrorsWhenClusterStaysDown(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*estest.Server)
	}{
		{"connections refused", func(s *estest.Server) { s.SetOutage(estest.OutageRefuse) }},
		{"every request 503", func(s *estest.Server) { s.SetOutage(estest.OutageUnavailable) }},
		{"items 429 beyond the retries", func(s *estest.Server) {
			s.SetItemStatus(func(int, string, string) int { return http.StatusTooManyRequests })
		}},
		{"credentials refused", func(s *estest.Server) { s.RequireAPIKey(randomKey(t)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			tc.inject(srv)
			s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.MaxRetries = 2 })
			docs := mixedDocs(t, 10)
			failed, err := s.Write(context.Background(), docs)
			if err == nil {
				t.Fatal("Write succeeded against a cluster that is down")
			}
			if failed != nil {
				t.Errorf("failed = %v alongside an error; nothing may be reported", failed)
			}
			if !strings.Contains(err.Error(), srv.URL()) {
				t.Errorf("error %q does not name the cluster %s", err, srv.URL())
			}
			if n := srv.Count(indexer.DefaultAlertsIndex) + srv.Count(indexer.DefaultVerdictsIndex); n != 0 {
				t.Errorf("%d documents stored during the outage", n)
			}
			// The cluster comes back: the same batch goes through.
			srv.SetOutage(estest.OutageNone)
			srv.SetItemStatus(nil)
			srv.RequireAPIKey("")
			if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
				t.Fatalf("after recovery: failed=%v err=%v", failed, err)
			}
			assertIndexedOnce(t, srv, docs)
		})
	}
}

func TestESSinkReturnsWhenContextEnds(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*estest.Server)
		mod    func(*indexer.ESConfig)
	}{
		{"request in flight", func(s *estest.Server) { s.SetDelay(time.Hour) }, nil},
		{"waiting to resubmit", func(s *estest.Server) {
			s.SetItemStatus(func(int, string, string) int { return http.StatusTooManyRequests })
		}, func(c *indexer.ESConfig) { c.RetryBackoff = func(int) time.Duration { return time.Hour } }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := estest.NewServer()
			defer srv.Close()
			tc.inject(srv)
			s := newESSink(t, srv.URL(), tc.mod)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				// Cancel once the server has the request.
				for srv.Requests().Total == 0 {
					time.Sleep(time.Millisecond)
				}
				cancel()
			}()
			failed, err := s.Write(ctx, mixedDocs(t, 10))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if failed != nil {
				t.Errorf("failed = %v alongside an error", failed)
			}
		})
	}
}

func TestESSinkCompressesRequests(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.CompressRequestBody = true })
	docs := mixedDocs(t, 20)
	if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	// Every request with a body is compressed: the bulk requests, the
	// search for analysts' feedback on the stored verdicts and the reads
	// of the feedback register.
	if c := srv.Requests(); c.Bulk == 0 || c.Mget == 0 || c.Gzip != c.Bulk+c.Search+c.Mget {
		t.Fatalf("%d of %d requests with a body (%d bulk, %d search, %d mget) were gzip-encoded", c.Gzip, c.Bulk+c.Search+c.Mget, c.Bulk, c.Search, c.Mget)
	}
	assertIndexedOnce(t, srv, docs)
}

func randomKey(t testing.TB) string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b)
}

func TestESSinkTLSAndCredentials(t *testing.T) {
	srv := estest.NewTLSServer()
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	user, pass, key := "vigil", randomKey(t), randomKey(t)
	tests := []struct {
		name    string
		server  func()
		cfg     func(*indexer.ESConfig)
		wantErr string
	}{
		{"api key", func() { srv.RequireAPIKey(key) }, func(c *indexer.ESConfig) { c.CACertFile, c.APIKey = caFile, key }, ""},
		{"basic auth", func() { srv.RequireBasicAuth(user, pass) }, func(c *indexer.ESConfig) {
			c.CACertFile, c.Username, c.Password = caFile, user, pass
		}, ""},
		{"wrong password", func() { srv.RequireBasicAuth(user, pass) }, func(c *indexer.ESConfig) {
			c.CACertFile, c.Username, c.Password = caFile, user, "wrong"
		}, "401"},
		{"untrusted certificate", func() { srv.RequireAPIKey(key) }, func(c *indexer.ESConfig) { c.APIKey = key }, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.RequireAPIKey("")
			srv.RequireBasicAuth("", "")
			tc.server()
			s := newESSink(t, srv.URL(), func(c *indexer.ESConfig) { c.MaxRetries = 1; tc.cfg(c) })
			err := s.Ping(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Ping: %v", err)
				}
				docs := mixedDocs(t, 3)
				if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
					t.Fatalf("Write: failed=%v err=%v", failed, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Ping error = %v, want one containing %q", err, tc.wantErr)
			}
			for _, secret := range []string{pass, key} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error leaks a credential: %v", err)
				}
			}
		})
	}
}

func TestESSinkPing(t *testing.T) {
	srv := estest.NewServer()
	defer srv.Close()
	notES := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
	}))
	defer notES.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	secret := randomKey(t)
	tests := []struct {
		name    string
		url     string
		wantErr string
	}{
		{"estest", srv.URL(), ""},
		{"not Elasticsearch", notES.URL, "not Elasticsearch"},
		{"nothing listening", closedURL, strings.TrimPrefix(closedURL, "http://")},
		{"credentials in the URL are not shown", strings.Replace(closedURL, "http://", "http://vigil:"+secret+"@", 1), "xxxxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newESSink(t, tc.url, func(c *indexer.ESConfig) { c.MaxRetries = 1 })
			err := s.Ping(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Ping error = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestNewESSinkConfigErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.pem")
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     indexer.ESConfig
		wantErr string
	}{
		{"no address", indexer.ESConfig{}, "addresses or cloud_id"},
		{"missing CA file", indexer.ESConfig{Addresses: []string{"https://127.0.0.1:9200"}, CACertFile: missing}, "ca_cert"},
		{"CA file without certificate", indexer.ESConfig{Addresses: []string{"https://127.0.0.1:9200"}, CACertFile: notPEM}, "no PEM certificate"},
		{"addresses and cloud id", indexer.ESConfig{Addresses: []string{"http://127.0.0.1:9200"}, CloudID: "x:eA=="}, "both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := indexer.NewESSink(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// BenchmarkESSink is the end-to-end number: the sink against estest,
// which decodes every document, checks it against the index's mapping
// and stores it, on the same cores. BenchmarkESSinkClient measures the
// client alone.
func BenchmarkESSink(b *testing.B) {
	srv := estest.NewServer()
	defer srv.Close()
	att := sshAttempts(b)
	const batch = 500
	docs := make([]indexer.Doc, 0, batch)
	size := 0
	for i := range batch {
		d := verdictDoc(b, att[i%len(att)], triage.Suspicious)
		d.ID, d.Body = uniqueVerdict(b, d, i)
		docs = append(docs, d)
		size += len(d.Body)
	}
	s := newESSink(b, srv.URL(), nil)
	b.SetBytes(int64(size))
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		failed, err := s.Write(context.Background(), docs)
		if err != nil || len(failed) != 0 {
			b.Fatalf("Write: failed=%v err=%v", failed, err)
		}
		n += len(docs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
	if cpu := cpuTime() - cpu0; cpu > 0 { // client and estest together
		b.ReportMetric(float64(n)/cpu.Seconds(), "docs/cpu-s")
	}
	b.ReportMetric(float64(size)/batch, "bytes/doc")
}

// TestESSinkRejectsBadBulkAnswers: a proxy or a broken server answering
// nonsense gives an error, never a panic or a document reported stored.
func TestESSinkRejectsBadBulkAnswers(t *testing.T) {
	item := `{"index":{"_index":"vigil-verdicts","_id":"x","status":201,"result":"created"}}`
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"more items than sent", `{"errors":false,"items":[` + item + `,` + item + `,` + item + `]}`, "3 items for 1 documents"},
		{"fewer items than sent", `{"errors":false,"items":[]}`, "no result for document"},
		{"not JSON", `<html>502 Bad Gateway</html>`, "invalid character"},
		{"item without status", `{"errors":false,"items":[{"index":{"_id":"x"}}]}`, "still refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
				switch {
				case strings.HasSuffix(r.URL.Path, "/_search"): // the feedback look-ups find none
					fmt.Fprint(w, `{"hits":{"hits":[]}}`)
				case strings.HasSuffix(r.URL.Path, "/_mget"):
					fmt.Fprint(w, `{"docs":[{"_index":"vigil-feedback","_id":"x","found":false}]}`)
				default:
					fmt.Fprint(w, tc.body)
				}
			}))
			defer srv.Close()
			s := newESSink(t, srv.URL, func(c *indexer.ESConfig) { c.Workers, c.MaxRetries = 1, 1 })
			failed, err := s.Write(context.Background(), mixedDocs(t, 1)[1:])
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if failed != nil {
				t.Errorf("failed = %v alongside an error", failed)
			}
		})
	}
}

// TestESSinkRejectsBadFeedbackAnswers: nonsense in answer to the look-ups
// of analysts' feedback (the search of stored verdicts before a write, the
// register's multi-get after it) gives an error that says which look-up
// failed, never a panic, and never a verdict reported stored without its
// feedback checked.
func TestESSinkRejectsBadFeedbackAnswers(t *testing.T) {
	const (
		noHits  = `{"hits":{"hits":[]}}`
		noneYet = `{"docs":[{"_index":"vigil-feedback","_id":"ID","found":false}]}`
	)
	tests := []struct {
		name         string
		search, mget string
		wantErr      string
		retryable    bool
	}{
		{"search answer not JSON", `<html>502 Bad Gateway</html>`, noneYet, "answer is not a search result", false},
		{"search answer truncated", `{"hits":{"hits":[{"_id":"ID"`, noneYet, "answer is not a search result", false},
		{"multi-get answer not JSON", noHits, `<html>502 Bad Gateway</html>`, "answer is not a multi-get result for 1 ids", false},
		{"multi-get answer for fewer ids", noHits, `{"docs":[]}`, "answer is not a multi-get result for 1 ids", false},
		{"multi-get docs not a list", noHits, `{"docs":{"_id":"ID"}}`, "answer is not a multi-get result for 1 ids", false},
		{"multi-get answer cut after its last document", noHits, `{"docs":[{"_index":"vigil-feedback","_id":"ID","found":false}`, "answer is not a multi-get result for 1 ids", false},
		{"multi-get answer truncated", noHits, `{"docs":[{"_id":"ID","found":true,"_source":{"triage":`, "answer is not a multi-get result", false},
		{"multi-get error on a document", noHits, `{"docs":[{"_id":"ID","error":{"type":"no_shard_available_action_exception","reason":"no shard"}}]}`, "no_shard_available_action_exception: no shard", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var id string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				w.Header().Set("Content-Type", "application/json")
				switch {
				case strings.HasSuffix(r.URL.Path, "/_search"):
					fmt.Fprint(w, strings.ReplaceAll(tc.search, "ID", id))
				case strings.HasSuffix(r.URL.Path, "/_mget"):
					fmt.Fprint(w, strings.ReplaceAll(tc.mget, "ID", id))
				default: // the bulk request: every item stored
					fmt.Fprintf(w, `{"errors":false,"items":[{"index":{"_index":"vigil-verdicts","_id":%q,"_version":1,"status":201,"result":"created"}}]}`, id)
				}
			}))
			defer srv.Close()
			s := newESSink(t, srv.URL, func(c *indexer.ESConfig) { c.Workers, c.MaxRetries = 1, 1 })
			verdict := mixedDocs(t, 1)[1:]
			if verdict[0].Kind != indexer.KindVerdict {
				t.Fatalf("the test needs a verdict, mixedDocs gave a %s", verdict[0].Kind)
			}
			id = verdict[0].ID
			failed, err := s.Write(context.Background(), verdict)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if got := indexer.IsRetryable(err); got != tc.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tc.retryable)
			}
			if failed != nil {
				t.Errorf("failed = %v alongside an error", failed)
			}
		})
	}
}
