package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/metrics"
)

// scrape reads /metrics into "name{labels}" → value.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond every 20ms until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, stageErr <-chan error, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case err := <-stageErr:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestMetricsAndReadinessOfARun runs every stage over the demo scenario
// with the metrics endpoint up, and checks what an operator would see.
func TestMetricsAndReadinessOfARun(t *testing.T) {
	logData, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(logData, []byte("\n"))
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	// Two lines no parser knows: parse failures, still delivered flagged.
	if err := os.WriteFile(logPath, append(logData, "garbage line one\ngarbage line two\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Kafka.Partitions = 3
	cfg.Triage.Engine = "fallback"
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{logPath}, Format: "sshd"}}
	cfg.Index.OutputDir = filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	sys.NoRegistry = true
	srv, err := metrics.Serve(metrics.ServerConfig{Listen: "127.0.0.1:0", Metrics: sys.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetCheck("pipeline", sys.Ready)
	base := "http://" + srv.Addr()

	if code := status(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before any stage runs: %d, want 503", code)
	}
	if code := status(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	stages := sys.StartStages(ctx)
	defer stages.Stop()
	waitFor(t, ctx, "/readyz never turned 200", stages.Err, func() bool { return status(t, base+"/readyz") == http.StatusOK })

	if err := sys.RunCollect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sys.waitDrained(ctx, stages.Err); err != nil {
		t.Fatal(err)
	}
	// Offsets are committed after the output is acknowledged, and a new
	// partition's first commit waits for its first state checkpoint: the
	// lag reaches 0 a moment after the progress counters do.
	drained := func(m map[string]float64) bool {
		d, okd := m[`vigil_stage_consumer_lag{stage="detect",topic="vigil.events"}`]
		i, oki := m[`vigil_stage_consumer_lag{stage="index",topic="vigil.verdicts"}`]
		return okd && oki && d == 0 && i == 0
	}
	waitFor(t, ctx, "consumer lag never reached 0", stages.Err, func() bool { return drained(scrape(t, base)) })
	m := scrape(t, base)
	for _, c := range []struct {
		metric string
		want   func(float64) bool
		says   string
	}{
		{`vigil_stage_events_in_total{stage="collect"}`, func(v float64) bool { return v == float64(lines+2) }, "one per line read"},
		{`vigil_stage_events_out_total{stage="collect"}`, func(v float64) bool { return v == float64(lines+2) }, "every line becomes an event"},
		{`vigil_stage_events_in_total{stage="detect"}`, func(v float64) bool { return v == float64(lines+2) }, "detect read every event"},
		{`vigil_collect_parse_failures_total{reason="not a bsd syslog"}`, func(v float64) bool { return v == 2 }, "the two garbage lines"},
		{`vigil_collect_input_dropped_records{input="0",type="file"}`, func(v float64) bool { return v == 0 }, "a file input never drops"},
		{`vigil_collect_input_blocked_seconds{input="0",type="file"}`, func(v float64) bool { return v >= 0 }, "backpressure time is exported"},
		{`vigil_detect_rule_evaluations_total`, func(v float64) bool { return v == float64(lines+2) }, "one evaluation per event"},
		{`vigil_detect_alerts_total{rule="vigil.ssh.brute_force"}`, func(v float64) bool { return v > 0 }, "the brute force fired"},
		{`vigil_detect_alerts_total{rule="vigil.ssh.brute_force_success"}`, func(v float64) bool { return v == 1 }, "one successful brute force"},
		{`vigil_triage_verdicts_total{verdict="malicious"}`, func(v float64) bool { return v >= 1 }, "the malicious incident"},
		{`vigil_triage_judgements_total{cached="false",engine="fallback"}`, func(v float64) bool { return v >= 2 }, "both incidents judged"},
		{`vigil_index_documents_total{outcome="indexed"}`, func(v float64) bool { return v == float64(sys.Progress.IndexIn.Load()) }, "every document stored"},
		{`vigil_stage_consumer_lag{stage="detect",topic="vigil.events"}`, func(v float64) bool { return v == 0 }, "drained"},
		{`vigil_stage_consumer_lag{stage="index",topic="vigil.verdicts"}`, func(v float64) bool { return v == 0 }, "drained"},
	} {
		v, ok := m[c.metric]
		if !ok || !c.want(v) {
			t.Errorf("%s = %v (present %v): want %s", c.metric, v, ok, c.says)
		}
	}
	if _, ok := m[`vigil_dlq_records_total{reason="decode event",stage="detect"}`]; ok {
		t.Fatal("a DLQ count before any bad record")
	}

	// A record that is not an event: dead-lettered, counted by reason.
	if err := sys.Producer.Send(ctx, []bus.Message{{Topic: bus.TopicEvents, Key: []byte("x"), Value: []byte("not JSON")}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "no DLQ count after a bad record", stages.Err, func() bool {
		return scrape(t, base)[`vigil_dlq_records_total{reason="decode event",stage="detect"}`] == 1
	})

	stages.Stop()
	if code := status(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz after the stages stopped: %d, want 503", code)
	}
}
