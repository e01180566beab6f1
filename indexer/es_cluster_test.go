package indexer_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/vigil-siem/vigil/indexer"
)

// TestESSinkRealCluster runs against a real cluster when VIGIL_TEST_ES_URL
// is set (credentials from VIGIL_TEST_ES_API_KEY, or VIGIL_TEST_ES_USERNAME
// and VIGIL_TEST_ES_PASSWORD, CA from VIGIL_TEST_ES_CA_CERT). It writes to
// indices with a random suffix and deletes them afterwards.
func TestESSinkRealCluster(t *testing.T) {
	url := os.Getenv("VIGIL_TEST_ES_URL")
	if url == "" {
		t.Skip("VIGIL_TEST_ES_URL not set: no real Elasticsearch cluster to test against")
	}
	suffix := strings.ToLower(randomKey(t)[5:15])
	cfg := indexer.ESConfig{
		Addresses:     []string{url},
		APIKey:        os.Getenv("VIGIL_TEST_ES_API_KEY"),
		Username:      os.Getenv("VIGIL_TEST_ES_USERNAME"),
		Password:      os.Getenv("VIGIL_TEST_ES_PASSWORD"),
		CACertFile:    os.Getenv("VIGIL_TEST_ES_CA_CERT"),
		AlertsIndex:   "vigil-test-alerts-" + suffix,
		VerdictsIndex: "vigil-test-verdicts-" + suffix,
	}
	s, err := indexer.NewESSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: cfg.Addresses, APIKey: cfg.APIKey,
		Username: cfg.Username, Password: cfg.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if res, err := es.Indices.Delete([]string{cfg.AlertsIndex, cfg.VerdictsIndex}); err == nil {
			res.Body.Close()
		}
	}()

	docs := mixedDocs(t, 50)
	for range 2 { // the replay must not duplicate
		if failed, err := s.Write(ctx, docs); err != nil || len(failed) != 0 {
			t.Fatalf("Write: failed=%v err=%v", failed, err)
		}
	}
	res, err := es.Indices.Refresh(es.Indices.Refresh.WithIndex(cfg.AlertsIndex, cfg.VerdictsIndex))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = es.Count(es.Count.WithIndex(cfg.AlertsIndex, cfg.VerdictsIndex))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c struct {
		Count int `json:"count"`
	}
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Count != len(docs) {
		t.Fatalf("cluster holds %d documents, want %d", c.Count, len(docs))
	}
}
