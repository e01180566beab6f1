package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/indexer/estest"
	"github.com/vigil-siem/vigil/rules"
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
	detected := map[string]bool{} // alert ids sent by detect (a suppressed alert is sent again under its id)
	for _, r := range readTopic(t, sys, "alert-ids", bus.TopicAlerts, int(sys.Progress.Alerts.Load())) {
		var a rules.Alert
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		detected[a.Vigil.Alert.ID] = true
	}
	if len(alerts) != len(detected) || len(alerts) == 0 {
		t.Fatalf("%d alerts in Elasticsearch, %d detected", len(alerts), len(detected))
	}
	for id := range detected {
		if _, ok := alerts[id]; !ok {
			t.Fatalf("alert %s was detected but not indexed", id)
		}
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

// readTopic reads records of a topic until want of them arrived (or 30s).
func readTopic(t *testing.T, sys *System, group, topic string, want int) []bus.Record {
	t.Helper()
	c, err := bus.NewConsumer(sys.Bus, bus.ConsumerConfig{Group: group, Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []bus.Record
	c.Run(ctx, func(_ context.Context, batch []bus.Record) error {
		got = append(got, batch...)
		if len(got) >= want {
			cancel()
		}
		return nil
	})
	return got
}

func sshdEvent(t *testing.T, id string, at time.Time, user string) bus.Message {
	t.Helper()
	e := event.Event{"event.dataset": "system.auth", "event.action": "ssh_login", "event.outcome": "success",
		"event.category": []any{"authentication"}, "user.name": user, "source.ip": "192.0.2.50",
		"host.name": "web-01", "vigil.event_id": id}
	e.SetTime(at)
	b, err := event.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return bus.Message{Topic: bus.TopicEvents, Key: []byte("web-01"), Value: b}
}

func TestDetectReloadsRulesAndDeadLettersLateEvents(t *testing.T) {
	rulesDir := t.TempDir()
	rule := func(user string) {
		t.Helper()
		y := fmt.Sprintf("id: test.login\nname: Login of %[1]s\nkind: match\nseverity: low\nwhere: event.dataset == \"system.auth\"\ncondition: user.name == %[1]q\nby: [user.name]\n", user)
		if err := os.WriteFile(filepath.Join(rulesDir, "login.yaml"), []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rule("alice")
	cfg := config.Default()
	cfg.Kafka.Partitions = 1
	cfg.Detect.Rules = []string{rulesDir}
	cfg.Detect.AllowedLateness = config.Duration(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sys, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	detectCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sys.RunDetect(detectCtx) }()
	defer func() { stop(); <-done }()

	t0 := time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)
	send := func(msgs ...bus.Message) {
		t.Helper()
		if err := sys.Producer.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	// alice at t0 and bob; then an event two hours older than the newest: late.
	send(sshdEvent(t, "e1", t0, "alice"), sshdEvent(t, "e2", t0.Add(2*time.Minute), "bob"),
		sshdEvent(t, "late", t0.Add(-2*time.Hour), "alice"))
	dlq := readTopic(t, sys, "dlq-check", bus.TopicDLQ, 1)
	if len(dlq) != 1 || !strings.Contains(dlq[0].Headers[bus.HeaderDLQReason], "late event") || !strings.Contains(string(dlq[0].Value), `"late"`) {
		t.Fatalf("DLQ after a late event: %d records, %v", len(dlq), dlq)
	}
	// Reload: the rule now looks for bob.
	rule("bob")
	sys.ReloadRules()
	send(sshdEvent(t, "e3", t0.Add(10*time.Minute), "bob"), sshdEvent(t, "e4", t0.Add(20*time.Minute), "carol"))
	// e2 (bob, t0+2m) was still in the one-minute reorder buffer at the
	// reload: it is judged by the rules in force when it leaves the buffer.
	alerts := readTopic(t, sys, "alerts-check", bus.TopicAlerts, 3)
	var names []string
	for _, r := range alerts {
		var a rules.Alert
		if err := json.Unmarshal(r.Value, &a); err != nil {
			t.Fatal(err)
		}
		names = append(names, a.Rule.Name+"/"+a.Vigil.Alert.Events[0].ID())
	}
	if strings.Join(names, " ") != "Login of alice/e1 Login of bob/e2 Login of bob/e3" {
		t.Fatalf("alerts %v: want alice's login before the reload, bob's buffered and new logins after it", names)
	}
}
