package pipeline

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/metrics"
)

// When the stage stops while writing (the demo's deadline, a shutdown),
// the file sink's "context deadline exceeded" is no outage of anything,
// least of all of an Elasticsearch nobody configured.
func TestWriteThroughOutageDoesNotBlameElasticsearch(t *testing.T) {
	sink, err := indexer.NewFileSink(indexer.FileConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var logs bytes.Buffer
	s := &System{Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: metrics.New()}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	docs := []indexer.Doc{{Kind: indexer.KindAlert, ID: "a1", Body: []byte(`{"vigil":{"alert":{"id":"a1"}}}`)}}
	if _, err := s.writeThroughOutage(ctx, sink, docs); err == nil {
		t.Fatal("no error past the deadline")
	}
	if logs.Len() != 0 {
		t.Errorf("a stage stopping is logged as an outage:\n%s", logs.String())
	}
	// A real outage of the file sink (a full disk) names it, not
	// Elasticsearch.
	if name := sinkName(sink); strings.Contains(name, "elasticsearch") || !strings.Contains(name, "index.output_dir") {
		t.Errorf("file sink named %q", name)
	}
}
