package pipeline_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-siem/vigil/internal/corpus"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
	"github.com/vigil-siem/vigil/triage"
	"github.com/vigil-siem/vigil/triage/openaitest"
)

func demoConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Partitions = 3
	cfg.Triage.Engine = "fallback" // no network in tests, whatever the environment says
	return cfg
}

func runDemo(t *testing.T, scenario fs.FS, out string) *pipeline.DemoResult {
	t.Helper()
	res, err := pipeline.RunDemo(context.Background(), pipeline.DemoOptions{
		Scenario: scenario, OutputDir: out, Config: demoConfig(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// readAlerts reads alerts.ndjson as the index stage wrote it.
func readAlerts(t *testing.T, dir string) []rules.Alert {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "alerts.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	var out []rules.Alert
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var a rules.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alerts.ndjson: %v", err)
		}
		out = append(out, a)
	}
	return out
}

func countLines(t *testing.T, fsys fs.FS, name string) int64 {
	t.Helper()
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return int64(bytes.Count(data, []byte("\n")) + map[bool]int{true: 0, false: 1}[len(data) == 0 || data[len(data)-1] == '\n'])
}

func hasRule(inc triage.Incident, id string) bool {
	return slices.ContainsFunc(inc.Rules, func(r triage.RuleSummary) bool { return r.ID == id })
}

func TestDemoFindsTheSuccessfulBruteForceAsOneIncident(t *testing.T) {
	scenario, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res := runDemo(t, scenario, out)

	if want := countLines(t, scenario, "auth.log"); res.Events != want {
		t.Fatalf("%d events from %d lines: every line must become an event", res.Events, want)
	}
	if res.DeadLetters != 0 {
		t.Fatalf("%d dead letters on a clean scenario", res.DeadLetters)
	}

	var success []triage.Verdict
	for _, v := range res.Verdicts {
		if hasRule(v.Vigil.Incident, "vigil.ssh.brute_force_success") {
			success = append(success, v)
		}
	}
	if len(success) != 1 {
		t.Fatalf("%d incidents hold the brute-force-then-success rule, want exactly 1", len(success))
	}
	inc := success[0].Vigil.Incident
	if inc.Entity != (rules.Entity{Field: "source.ip", Value: "198.51.100.23"}) {
		t.Errorf("incident entity %v, want source.ip=198.51.100.23", inc.Entity)
	}
	if !slices.Contains(inc.Users, "deploy") || !slices.Contains(inc.Hosts, "web-01") {
		t.Errorf("incident users %v hosts %v, want deploy on web-01", inc.Users, inc.Hosts)
	}
	if tr := success[0].Triage; tr.Verdict != triage.Malicious || tr.Engine != "fallback" || tr.Notes == "" || tr.Summary == "" {
		t.Errorf("triage of the successful brute force: verdict %s engine %s, notes %d bytes", tr.Verdict, tr.Engine, len(tr.Notes))
	}

	// The failed-only brute force raises brute-force alerts, never the sequence.
	alerts := readAlerts(t, out)
	var failedBF, failedSeq int
	ids := map[string]bool{}
	for _, a := range alerts {
		if ids[a.Vigil.Alert.ID] {
			t.Fatalf("alert %s indexed twice", a.Vigil.Alert.ID)
		}
		ids[a.Vigil.Alert.ID] = true
		if a.Vigil.Alert.Entity.Value != "203.0.113.45" {
			continue
		}
		switch a.Rule.ID {
		case "vigil.ssh.brute_force":
			failedBF++
		case "vigil.ssh.brute_force_success":
			failedSeq++
		}
	}
	if failedBF == 0 || failedSeq != 0 {
		t.Fatalf("203.0.113.45: %d brute-force alerts (want ≥1), %d brute-force-then-success (want 0)", failedBF, failedSeq)
	}
	// Every verdict shows its incident's current state, not the state when
	// it was first judged.
	perEntity := map[rules.Entity]int{}
	for _, a := range alerts {
		perEntity[a.Vigil.Alert.Entity]++
	}
	for _, v := range res.Verdicts {
		inc := v.Vigil.Incident
		if inc.AlertCount != perEntity[inc.Entity] {
			t.Errorf("incident %s shows %d alerts, %d were indexed for it", inc.Entity, inc.AlertCount, perEntity[inc.Entity])
		}
	}
	// The compromised account's sudo download belongs to the attacker's incident.
	if !hasRule(inc, "vigil.sudo.download") {
		t.Errorf("the sudo download by deploy after the break-in is not in the incident: rules %v", inc.Rules)
	}
	if int64(len(alerts)) != res.Alerts || len(alerts) == 0 {
		t.Fatalf("the demo reports %d alerts, %d were indexed", res.Alerts, len(alerts))
	}

	// Replaying the same scenario into the same output gives the same documents.
	again := runDemo(t, scenario, out)
	if len(again.Verdicts) != len(res.Verdicts) {
		t.Fatalf("replay: %d incidents, first run %d", len(again.Verdicts), len(res.Verdicts))
	}
	for i := range res.Verdicts {
		if again.Verdicts[i].ID() != res.Verdicts[i].ID() {
			t.Fatalf("replay changed incident ids: %s vs %s", again.Verdicts[i].ID(), res.Verdicts[i].ID())
		}
	}
	if n := len(readAlerts(t, out)); n != len(alerts) {
		t.Fatalf("replay left %d alerts, first run %d: ids must make replays overwrite", n, len(alerts))
	}
}

func TestOpenSSHCorpusThroughThePipeline(t *testing.T) {
	data := corpus.Read(t, "loghub/OpenSSH_2k.log")
	out := t.TempDir()
	res := runDemo(t, fstest.MapFS{"OpenSSH_2k.log": {Data: data}}, out)
	if res.Events != 2000 {
		t.Fatalf("%d events from the 2,000 lines of OpenSSH_2k.log", res.Events)
	}
	flagged := map[string]bool{}
	for _, a := range readAlerts(t, out) {
		switch a.Rule.ID {
		case "vigil.ssh.brute_force":
			flagged[a.Vigil.Alert.Entity.Value] = true
		case "vigil.ssh.brute_force_success":
			t.Errorf("brute-force-then-success fired for %s; the file's only success has no earlier failures", a.Vigil.Alert.Entity.Value)
		}
	}
	// SOURCES.md: the sources with at least 10 failed passwords.
	for _, ip := range []string{"183.62.140.253", "187.141.143.180", "103.99.0.122", "112.95.230.3", "5.188.10.180", "185.190.58.151"} {
		if !flagged[ip] {
			t.Errorf("brute-force source %s was not flagged", ip)
		}
	}
	for ip := range flagged {
		if strings.HasPrefix(ip, "119.137.62.142") {
			t.Errorf("%s logged in once without failures and must not be flagged", ip)
		}
	}
}

func TestDemoTriagesWithOpenAIWhenAKeyIsSet(t *testing.T) {
	llm := openaitest.NewServer(t, openaitest.Config{})
	defer llm.Close()
	scenario, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t)
	cfg.Triage.Engine = "auto"
	cfg.Triage.OpenAI.APIKey = llm.APIKey()
	cfg.Triage.OpenAI.BaseURL = llm.URL()
	res, err := pipeline.RunDemo(context.Background(), pipeline.DemoOptions{Scenario: scenario, OutputDir: t.TempDir(), Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if llm.Calls() == 0 || len(res.Verdicts) == 0 {
		t.Fatalf("%d LLM calls for %d incidents", llm.Calls(), len(res.Verdicts))
	}
	for _, v := range res.Verdicts {
		if v.Triage.Engine != "openai:gpt-4o-mini" {
			t.Errorf("incident %s triaged by %q, want openai:gpt-4o-mini", v.Vigil.Incident.Entity, v.Triage.Engine)
		}
		if v.Triage.Tokens.Total == 0 && !v.Triage.Cached {
			t.Errorf("incident %s: no token usage recorded", v.Vigil.Incident.Entity)
		}
	}
	for _, r := range llm.Requests() {
		if bytes.Contains(r.Raw, []byte(llm.APIKey())) {
			t.Fatal("the API key was sent in a request body")
		}
	}
}

// The streaming pipeline and the offline scan agree: the same file gives
// the same alerts (same ids), whether it went through Kafka or not. The
// demo names its logs DemoSourceName in event ids, whatever directory it
// copied them to (a new temporary one here), so its ids are those of a
// scan under that name, the ones the docs print.
func TestPipelineAndScanFindTheSameAlerts(t *testing.T) {
	scenario, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	runDemo(t, scenario, out)
	streamed := map[string]string{}
	for _, a := range readAlerts(t, out) {
		streamed[a.Vigil.Alert.ID] = a.Rule.ID
	}

	path := filepath.Join(out, "input", "auth.log") // the file the demo collected
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: st.ModTime(), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	scanned := map[string]string{}
	_, err = scan.Run(context.Background(), []scan.Input{{Name: pipeline.DemoSourceName("auth.log"), Reader: f, Parser: p}}, scan.Options{Rules: compiled},
		func(a rules.Alert) error {
			scanned[a.Vigil.Alert.ID] = a.Rule.ID
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(scanned) == 0 || len(scanned) != len(streamed) {
		t.Fatalf("scan found %d alerts, the pipeline %d", len(scanned), len(streamed))
	}
	for id, rule := range scanned {
		if streamed[id] != rule {
			t.Errorf("alert %s (%s) found by scan, not by the pipeline", id, rule)
		}
	}
}
