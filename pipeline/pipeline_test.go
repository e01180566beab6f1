package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/indexer/estest"
)

// TestPipelineIntoElasticsearchAndDeadLetters runs every stage on the
// embedded broker with the Elasticsearch sink against the ES-protocol test
// server, then feeds each consuming stage a record it must reject.
func TestPipelineIntoElasticsearchAndDeadLetters(t *testing.T) {
	es := estest.NewServer()
	defer es.Close()
	es.SetItemFaultRate(0.3, 429, 7) // 30% of bulk items are refused once in a while: retried, never lost

	dir := t.TempDir()
	logData, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, logData, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Kafka.Partitions = 3
	cfg.Triage.Engine = "fallback"
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{logPath}, Format: "sshd"}}
	cfg.Index.Elasticsearch.Addresses = []string{es.URL()}
	cfg.Index.Elasticsearch.MaxRetries = 20 // 0.3^21: an item is never refused every time

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	sys.NoRegistry = true
	stages := sys.StartStages(ctx)
	defer stages.Stop()
	stageErr := stages.Err

	if err := sys.RunCollect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sys.waitDrained(ctx, stageErr); err != nil {
		t.Fatal(err)
	}
	alerts, verdicts := es.Docs("vigil-alerts"), es.Docs("vigil-verdicts")
	if int64(len(alerts)) != sys.Progress.Alerts.Load() || len(alerts) == 0 {
		t.Fatalf("%d alerts in Elasticsearch, %d detected", len(alerts), sys.Progress.Alerts.Load())
	}
	malicious := 0
	for id, doc := range verdicts {
		var v struct {
			Vigil struct {
				Incident struct{ ID string } `json:"incident"`
			} `json:"vigil"`
			Triage struct{ Verdict string } `json:"triage"`
		}
		if err := json.Unmarshal(doc, &v); err != nil || v.Vigil.Incident.ID != id {
			t.Fatalf("verdict %s stored under another id or unreadable: %v", id, err)
		}
		if v.Triage.Verdict == "malicious" {
			malicious++
		}
	}
	if malicious != 1 {
		t.Fatalf("%d malicious verdicts in Elasticsearch, want 1 (of %d)", malicious, len(verdicts))
	}

	// Bad records: each stage dead-letters what it cannot take, with a reason.
	before := sys.Progress.DeadLetters.Load()
	bad := []bus.Message{
		{Topic: bus.TopicEvents, Key: []byte("web-01"), Value: []byte("this is not JSON")},
		{Topic: bus.TopicAlerts, Key: []byte("x"), Value: []byte(`{"vigil":{"alert":{"id":"bad-alert-1"}},"rule":"not an object"}`)},
	}
	if err := sys.Producer.Send(ctx, bad); err != nil {
		t.Fatal(err)
	}
	// detect: not JSON; triage: not an alert; index: a mapping conflict in ES.
	for sys.Progress.DeadLetters.Load() < before+3 {
		select {
		case err := <-stageErr:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("%d dead letters, want 3", sys.Progress.DeadLetters.Load()-before)
		case <-time.After(20 * time.Millisecond):
		}
	}
	c, err := bus.NewConsumer(sys.Bus, bus.ConsumerConfig{Group: "dlq-reader", Topics: []string{bus.TopicDLQ}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reasons := map[string]string{}
	readCtx, stopReading := context.WithTimeout(ctx, 30*time.Second)
	defer stopReading()
	c.Run(readCtx, func(_ context.Context, batch []bus.Record) error {
		for _, r := range batch {
			reasons[r.Headers[bus.HeaderDLQStage]] = r.Headers[bus.HeaderDLQReason]
		}
		if len(reasons) >= 3 {
			stopReading()
		}
		return nil
	})
	for stage, want := range map[string]string{"detect": "decode event", "triage": "decode alert", "index": "rule"} {
		if !strings.Contains(reasons[stage], want) {
			t.Errorf("DLQ reason from %s = %q, want it to mention %q", stage, reasons[stage], want)
		}
	}
	if _, stored := es.Docs("vigil-alerts")["bad-alert-1"]; stored {
		t.Error("the conflicting document was stored")
	}
}
