package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/testbin"
)

// writeConfig writes a configuration that collects the demo scenario and
// writes its output to dir.
func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	log, err := os.ReadFile(filepath.Join("..", "..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, log, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`kafka:
  partitions: 3
collect:
  data_dir: %q
  inputs:
    - type: file
      paths: [%q]
      format: sshd
      follow: true
triage:
  engine: fallback
index:
  output_dir: %q
metrics:
  listen: 127.0.0.1:0
`, filepath.Join(dir, "data"), logPath, filepath.Join(dir, "out"))
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitForVerdict polls verdicts.ndjson until a verdict for the successful
// brute force is there.
func waitForVerdict(t *testing.T, out string, procs ...*exec.Cmd) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join(out, "verdicts.ndjson"))
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"value":"198.51.100.23"`) && strings.Contains(line, `"verdict":"malicious"`) &&
				strings.Contains(line, "vigil.sudo.download") {
				return
			}
		}
		for _, p := range procs {
			if p.ProcessState != nil {
				t.Fatalf("%v exited early: %v", p.Args, p.ProcessState)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no malicious verdict for 198.51.100.23 in %s/verdicts.ndjson after 90s", out)
}

// stop sends SIGTERM and expects a clean exit within 15 seconds.
func stop(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%v after SIGTERM: %v\n%s", cmd.Args[1:], err, stderr)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Errorf("%v did not stop within 15s of SIGTERM", cmd.Args[1:])
	}
}

func start(t *testing.T, ctx context.Context, env []string, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

func TestStagesAsSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary as five processes")
	}
	bin := testbin.Build(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	broker, brokerErr := start(t, ctx, nil, bin, "broker", "--listen", addr, "--partitions", "3")
	env := []string{"VIGIL_KAFKA_BOOTSTRAP_SERVERS=" + addr}
	// Wait until the broker accepts connections.
	deadline := time.Now().Add(20 * time.Second)
	for !portOpen(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("broker did not listen: %s", brokerErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var procs []*exec.Cmd
	var errs []*bytes.Buffer
	for _, stage := range []string{"index", "triage", "detect", "collect"} {
		p, e := start(t, ctx, env, bin, stage, "-c", cfg)
		procs, errs = append(procs, p), append(errs, e)
	}
	waitForVerdict(t, filepath.Join(dir, "out"), procs...)
	for i, p := range procs {
		stop(t, p, errs[i])
	}
	stop(t, broker, brokerErr)
}

func TestRunStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := testbin.Build(t)
	dir := t.TempDir()
	cfg := writeConfig(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Secrets configured the way operators do (environment), all fake;
	// debug logs dump the configuration, so redaction has work to do.
	fake := func(what string) string { return fmt.Sprintf("fake-%s-%d", what, time.Now().UnixNano()) }
	secretValues := []string{fake("openai"), fake("sasl"), fake("esapikey"), fake("espassword"), fake("ingest")}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	run, stderr := start(t, ctx, []string{"VIGIL_KAFKA_BOOTSTRAP_SERVERS=", "VIGIL_METRICS_LISTEN=" + metricsAddr,
		"VIGIL_LOG_LEVEL=debug", "VIGIL_LOG_FORMAT=json",
		"OPENAI_API_KEY=" + secretValues[0], "VIGIL_KAFKA_SETTINGS=sasl.username=vigil,sasl.password=" + secretValues[1],
		"VIGIL_INDEX_ELASTICSEARCH_API_KEY=" + secretValues[2], "VIGIL_INDEX_ELASTICSEARCH_PASSWORD=" + secretValues[3],
		"VIGIL_INGEST_TOKEN=" + secretValues[4]}, bin, "run", "-c", cfg)
	waitForVerdict(t, filepath.Join(dir, "out"), run)
	base := "http://" + metricsAddr
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s of a running vigil run: %d", path, resp.StatusCode)
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`vigil_detect_alerts_total{rule="vigil.ssh.brute_force_success"} 1`)) {
		t.Errorf("/metrics of vigil run does not count the successful brute force:\n%.2000s", body)
	}
	stop(t, run, stderr)
	logs := stderr.String()
	for _, sec := range secretValues {
		if strings.Contains(logs, sec) {
			t.Errorf("a configured secret (%s...) is in the logs", sec[:10])
		}
	}
	if !strings.Contains(logs, `"msg":"configuration loaded"`) || !strings.Contains(logs, "[REDACTED]") {
		t.Errorf("the debug configuration dump is missing or shows nothing redacted:\n%.3000s", logs)
	}
	// On the way out the file sink compacts: one line per incident id.
	data, err := os.ReadFile(filepath.Join(dir, "out", "verdicts.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var v struct {
			Vigil struct {
				Incident struct{ ID string } `json:"incident"`
			} `json:"vigil"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil || v.Vigil.Incident.ID == "" {
			t.Fatalf("verdict line without incident id (%v): %.200s", err, line)
		}
		id := v.Vigil.Incident.ID
		if ids[id] {
			t.Fatalf("two versions of one incident after shutdown: %s", id)
		}
		ids[id] = true
	}
}
