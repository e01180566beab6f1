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
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// sudoSecretEvent is a sudo command event as the sshd parser writes it,
// with a password on the command line.
func sudoSecretEvent(id string, at time.Time) event.Event {
	line := "ops : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/mysql -u root --password AlertPw123 db"
	e := event.Event{
		"event.dataset": "system.auth", "event.action": "sudo", "event.outcome": "success",
		"event.category": []any{"process"}, "user.name": "ops", "host.name": "web-03", "vigil.event_id": id,
		"message": line, "event.original": "Dec 13 09:01:01 web-03 sudo:   " + line,
		"process.command_line":      "/usr/bin/mysql -u root --password AlertPw123 db",
		"process.args":              []any{"/usr/bin/mysql", "-u", "root", "--password", "AlertPw123", "db"},
		"process.working_directory": "/home/deploy",
	}
	e.SetTime(at)
	return e
}

func TestAlertMessagesAreRedactedWithoutTouchingTheEvents(t *testing.T) {
	red, err := triage.NewRedactor(triage.RedactConfig{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 12, 13, 9, 1, 1, 0, time.UTC)
	ev := sudoSecretEvent("e1", at)
	evs := []event.Event{ev}
	a := rules.Alert{
		Timestamp: at,
		Rule:      rules.AlertRule{ID: "custom.sudo.cmdline"},
		Fields:    event.Event{"process.command_line": ev["process.command_line"], "user.name": "ops"},
		Vigil: rules.AlertVigil{Alert: rules.AlertDetail{
			ID: rules.AlertID("custom.sudo.cmdline", evs), Kind: "new_terms", Severity: "low",
			GroupKeys: []rules.Entity{{Field: "process.command_line", Value: "/usr/bin/mysql -u root --password AlertPw123 db"}},
			Entity:    rules.Entity{Field: "process.command_line", Value: "/usr/bin/mysql -u root --password AlertPw123 db"},
			Events:    evs,
			NewTerms:  &rules.AlertNewTerms{Fields: []string{"process.command_line"}, Values: []string{"mysql --password AlertPw123"}},
			Threshold: &rules.AlertThreshold{DistinctValues: []string{"mysql --password=AlertPw123", "ls"}},
		}},
	}
	before, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := alertMessage(red, a)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(msg.Value)
	if strings.Contains(doc, "AlertPw123") || strings.Contains(string(msg.Key), "AlertPw123") {
		t.Errorf("the alert record keeps the password:\nkey %s\n%s", msg.Key, doc)
	}
	for _, want := range []string{`"--password","[REDACTED]","db"`, "PWD=/home/deploy", `"id":"` + a.Vigil.Alert.ID + `"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("the alert record lacks %s:\n%s", want, doc)
		}
	}
	// The alert and its events are the rule engine's: unchanged.
	after, _ := json.Marshal(a)
	if string(after) != string(before) || ev["process.args"].([]any)[4] != "AlertPw123" {
		t.Errorf("alertMessage modified the alert it was given")
	}
	var back rules.Alert
	if err := json.Unmarshal(msg.Value, &back); err != nil {
		t.Fatal(err)
	}
	if back.Vigil.Alert.Events[0].ID() != "e1" || back.Vigil.Alert.Entity.Value != "/usr/bin/mysql -u root --password [REDACTED] db" {
		t.Errorf("decoded alert: event id %q, entity %q", back.Vigil.Alert.Events[0].ID(), back.Vigil.Alert.Entity.Value)
	}
}

// TestDetectRedactsSecretsInAlerts: the detect stage's alerts on
// vigil.alerts (indexed as they are) carry their events without the
// secrets in them.
func TestDetectRedactsSecretsInAlerts(t *testing.T) {
	rulesDir := t.TempDir()
	y := "id: test.sudo\nname: Any sudo command\nkind: match\nseverity: low\nwhere: event.dataset == \"system.auth\"\ncondition: event.action == \"sudo\"\nby: [user.name]\n"
	if err := os.WriteFile(filepath.Join(rulesDir, "sudo.yaml"), []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Kafka.Partitions = 1
	cfg.Detect.Rules = []string{rulesDir}
	cfg.Triage.Redact.ExtraPatterns = []string{`corp-\d{8}`}
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

	ev := sudoSecretEvent("e1", time.Date(2025, 12, 13, 9, 1, 1, 0, time.UTC))
	ev["process.env"] = "TICKET=corp-12345678"
	b, err := event.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.Producer.Send(ctx, []bus.Message{{Topic: bus.TopicEvents, Key: []byte("web-03"), Value: b}}); err != nil {
		t.Fatal(err)
	}
	alerts := readTopic(t, sys, "alerts-redact-check", bus.TopicAlerts, 1)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	doc := string(alerts[0].Value)
	for _, secret := range []string{"AlertPw123", "corp-12345678"} {
		if strings.Contains(doc, secret) {
			t.Errorf("%s is in the alert on vigil.alerts:\n%s", secret, doc)
		}
	}
	for _, want := range []string{`"--password","[REDACTED]","db"`, "--password [REDACTED] db", "PWD=/home/deploy"} {
		if !strings.Contains(doc, want) {
			t.Errorf("the alert lacks %s:\n%s", want, doc)
		}
	}
}
