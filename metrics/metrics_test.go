package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRedactHandlerNeverWritesASecret(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("x", 8) // an obviously fake value
	type creds struct{ User, Pass string }
	cases := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"attribute named password", func(l *slog.Logger) { l.Info("connect", "sasl.password", "anything-else") }},
		{"attribute named api_key", func(l *slog.Logger) { l.Info("es", "api_key", "whatever-value") }},
		{"known value in the message", func(l *slog.Logger) { l.Info("using key " + secret) }},
		{"known value in a string attribute", func(l *slog.Logger) { l.Warn("x", "url", "https://u:"+secret+"@h") }},
		{"known value in an error", func(l *slog.Logger) {
			l.Error("x", "err", fmt.Errorf("auth with %s: %w", secret, errors.New("denied")))
		}},
		{"known value in a struct", func(l *slog.Logger) { l.Debug("config", "config", creds{"u", secret}) }},
		{"known value in a group", func(l *slog.Logger) { l.Info("x", slog.Group("es", "header", "ApiKey "+secret)) }},
		{"known value in WithAttrs", func(l *slog.Logger) { l.With("auth", secret).Info("x") }},
		{"secret key under a group", func(l *slog.Logger) { l.WithGroup("kafka").Info("x", "token", "tok-abcdef") }},
	}
	for _, format := range []string{"text", "json"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				var buf bytes.Buffer
				var h slog.Handler = slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
				if format == "json" {
					h = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
				}
				tc.log(slog.New(NewRedactHandler(h, []string{secret, "", "ab"})))
				out := buf.String()
				for _, leak := range []string{secret, "anything-else", "whatever-value", "tok-abcdef"} {
					if strings.Contains(out, leak) {
						t.Fatalf("log line holds %q: %s", leak, out)
					}
				}
				if !strings.Contains(out, Redacted) {
					t.Fatalf("nothing was marked redacted: %s", out)
				}
				if format == "json" && !json.Valid(bytes.TrimSpace(buf.Bytes())) {
					t.Fatalf("redaction broke the JSON: %s", out)
				}
			})
		}
	}
}

func TestRedactHandlerKeepsOrdinaryValues(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewRedactHandler(slog.NewTextHandler(&buf, nil), []string{"ab"})) // too short to redact
	l.Info("stage started", "rules", 69, "group", "vigil-detect", "stage", "about")
	if out := buf.String(); strings.Contains(out, Redacted) || !strings.Contains(out, "rules=69") || !strings.Contains(out, "stage=about") {
		t.Fatalf("ordinary attributes were changed: %s", out)
	}
}

func TestReasonBucketsAreBounded(t *testing.T) {
	m := New()
	for _, tc := range []struct{ in, want string }{
		{"decode event: invalid character 'h' in literal true", "decode event"},
		{"late event: older than the newest event time minus detect.allowed_lateness (1m0s)", "late event"},
		{"sshd: unrecognised message from 203.0.113.45 port 22", "sshd"},
		{"document has no id (alert)", "document has no id"},
		{"mapper_parsing_exception failed to parse field rule of type object in document with id 42", "mapper_parsing_exception failed to parse"},
		{"", "unknown"},
	} {
		if got := m.Reason(tc.in); got != tc.want {
			t.Errorf("Reason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	labels := map[string]bool{}
	for i := range 500 {
		labels[m.Reason(fmt.Sprintf("error%c%c kind", 'a'+i%26, 'a'+i/26))] = true
	}
	if len(labels) > maxReasons || !labels["other"] {
		t.Fatalf("%d distinct reason labels from 500 reasons; want at most %d, the rest as other", len(labels), maxReasons)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServerEndpoints(t *testing.T) {
	m := New()
	srv, err := Serve(ServerConfig{Listen: "127.0.0.1:0", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	base := "http://" + srv.Addr()
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Fatalf("/readyz without checks: %d %s", code, body)
	}
	var assigned atomic.Bool
	srv.SetCheck("detect", func(context.Context) error {
		if !assigned.Load() {
			return errors.New("consumer has no partition yet")
		}
		return nil
	})
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "detect: consumer has no partition yet") {
		t.Fatalf("/readyz with a failing check: %d %s", code, body)
	}
	assigned.Store(true)
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz with passing checks: %d", code)
	}
	m.RuleAlerts.WithLabelValues("vigil.ssh.brute_force").Add(3)
	var hooked atomic.Int32
	m.OnScrape(func() { hooked.Add(1); m.ConsumerLag.WithLabelValues("detect", "vigil.events").Set(7) })
	_, body := get(t, base+"/metrics")
	for _, want := range []string{`vigil_detect_alerts_total{rule="vigil.ssh.brute_force"} 3`, `vigil_stage_consumer_lag{stage="detect",topic="vigil.events"} 7`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := hooked.Load(); n != 1 {
		t.Errorf("scrape hook ran %d times for one scrape", n)
	}
	if _, err := Serve(ServerConfig{Listen: srv.Addr(), Metrics: New()}); err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Fatalf("a second server on the same address: %v", err)
	}
}
