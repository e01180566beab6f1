package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/testbin"
	"github.com/vigil-siem/vigil/kibana/kibanatest"
)

func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := testbin.Build(t)

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "vigil ") || !strings.Contains(string(out), "librdkafka 2.") {
			t.Fatalf("vigil version: %v: %s", err, out)
		}
	})

	t.Run("demo works from any directory", func(t *testing.T) {
		dir := t.TempDir()
		cmd := exec.Command(bin, "demo")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "OPENAI_API_KEY=") // the fallback engine: no network here
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("vigil demo: %v", err)
		}
		for _, want := range []string{"318 events", "source.ip=198.51.100.23", "MALICIOUS", "## What to do next", "dead letters: 0",
			// The last line says how to open the output, and the ids are the docs'.
			"next: vigil incidents list --dir vigil-out\n", "Incident 1a05bdc02115afcaf3e57bbffa3742dc"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("demo output lacks %q", want)
			}
		}
		if st, err := os.Stat(filepath.Join(dir, "vigil-out", "verdicts.ndjson")); err != nil || st.Size() == 0 {
			t.Fatalf("demo did not write ./vigil-out/verdicts.ndjson: %v", err)
		}

		// The responder's commands read that output.
		run := func(args ...string) (string, string, error) {
			cmd := exec.Command(bin, args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "OPENAI_API_KEY=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			return stdout.String(), stderr.String(), err
		}
		list, _, err := run("incidents", "list", "--verdict", "malicious")
		if err != nil || !strings.Contains(list, "source.ip=198.51.100.23") || strings.Contains(list, "203.0.113.45") {
			t.Fatalf("incidents list --verdict malicious: %v\n%s", err, list)
		}
		id := strings.Fields(strings.Split(list, "\n")[1])[0]
		show, _, err := run("incidents", "show", id)
		if err != nil || !strings.Contains(show, "MALICIOUS") || !strings.Contains(show, "What to do next") || !strings.Contains(show, "198.51.100.23") {
			t.Fatalf("incidents show %s: %v\n%s", id, err, show)
		}
		prompt, stderr, err := run("triage", "explain", id)
		if err != nil || !strings.Contains(prompt, "198.51.100.23") || !strings.Contains(stderr, "prompt tokens") {
			t.Fatalf("triage explain %s: %v\n%.500s\n%s", id, err, prompt, stderr)
		}
		if _, _, err := run("incidents", "feedback", id, "--verdict", "malicious", "--note", "confirmed: wget of x.sh"); err != nil {
			t.Fatalf("incidents feedback: %v", err)
		}
		show, _, _ = run("incidents", "show", id)
		if !strings.Contains(show, "confirmed: wget of x.sh") {
			t.Fatalf("the analyst's feedback is not shown:\n%s", show)
		}
	})

	scenario := filepath.Join("..", "..", "testdata", "scenarios", "ssh-bruteforce", "auth.log")
	scenarioData, err := os.ReadFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	scenarioLines := bytes.Count(scenarioData, []byte("\n"))

	t.Run("parse prints one ECS event per line and a summary", func(t *testing.T) {
		for _, args := range [][]string{{"parse", scenario}, {"parse", "--format", "sshd", "-"}} {
			cmd := exec.Command(bin, args...)
			cmd.Stdin = bytes.NewReader(scenarioData)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("vigil %v: %v: %s", args, err, stderr.String())
			}
			if n := bytes.Count(out, []byte("\n")); n != scenarioLines {
				t.Errorf("vigil %v printed %d events for %d lines", args, n, scenarioLines)
			}
			if !strings.Contains(stderr.String(), fmt.Sprintf("%d events, 0 parse failures", scenarioLines)) {
				t.Errorf("vigil %v summary: %s", args, stderr.String())
			}
		}
		cmd := exec.Command(bin, "parse", "-")
		cmd.Stdin = strings.NewReader("not a log line\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, _ := cmd.Output()
		if !bytes.Contains(out, []byte(`"pipeline_error"`)) || !strings.Contains(stderr.String(), "1 parse failures") {
			t.Errorf("a bad line must be printed flagged and counted: %s / %s", out, stderr.String())
		}
	})

	t.Run("scan prints alerts and a summary per rule", func(t *testing.T) {
		cmd := exec.Command(bin, "scan", scenario)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("vigil scan: %v: %s", err, stderr.String())
		}
		var success int
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if strings.Contains(line, `"id":"vigil.ssh.brute_force_success"`) {
				success++
				if !strings.Contains(line, `"value":"198.51.100.23"`) {
					t.Errorf("the successful brute force alert is not about 198.51.100.23: %.300s", line)
				}
			}
		}
		if success != 1 {
			t.Errorf("%d brute-force-then-success alerts, want 1", success)
		}
		if !strings.Contains(stderr.String(), "vigil.ssh.brute_force_success") || !strings.Contains(stderr.String(), "source.ip=198.51.100.23 (1)") {
			t.Errorf("summary table: %s", stderr.String())
		}
		// Rules for other logs (Windows, CloudTrail...) are one line, not
		// a row each; the sshd rule that did not fire keeps its row.
		if !strings.Contains(stderr.String(), "rules had no event their conditions could match") ||
			strings.Contains(stderr.String(), "vigil.windows.lsass_access ") || !strings.Contains(stderr.String(), "vigil.ssh.root_login ") {
			t.Errorf("summary table: rules without events must be folded into one line: %s", stderr.String())
		}
		bad := exec.Command(bin, "scan", "--rules", t.TempDir(), scenario)
		if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "no rule could be loaded") {
			t.Errorf("scan with an empty rule directory: %v: %s", err, out)
		}
	})

	t.Run("scan and parse of a live pipe print as lines come", func(t *testing.T) {
		// tail -f auth.log | vigil scan -: the pipe stays open, and what
		// its lines find is printed while it does.
		failure := func(i int) string {
			return fmt.Sprintf("Dec 10 07:%02d:%02d LabSZ sshd[%d]: Failed password for root from 203.0.113.77 port %d ssh2\n", i/60, i%60, 100+i, 4000+i)
		}
		for _, c := range []struct {
			args  []string
			lines int    // failures written before the output is awaited
			want  string // in the first line printed
		}{
			{[]string{"scan", "-"}, 10, `"id":"vigil.ssh.brute_force"`},
			{[]string{"scan", "-f", "sshd", "-"}, 10, `"id":"vigil.ssh.brute_force"`},
			{[]string{"parse", "-"}, 1, `"ip":"203.0.113.77"`},
		} {
			cmd := exec.Command(bin, c.args...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for i := range c.lines {
				if _, err := io.WriteString(stdin, failure(i)); err != nil {
					t.Fatal(err)
				}
			}
			first := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if !strings.Contains(line, c.want) {
					t.Errorf("vigil %s: first line printed %.200q, want one with %s", strings.Join(c.args, " "), line, c.want)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("vigil %s: nothing printed within 20s of %d lines while stdin stays open", strings.Join(c.args, " "), c.lines)
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("vigil %s: %v", strings.Join(c.args, " "), err)
			}
		}
	})

	t.Run("scan and parse read gzip-compressed logs", func(t *testing.T) {
		plain, err := os.ReadFile(scenario)
		if err != nil {
			t.Fatal(err)
		}
		gz := filepath.Join(t.TempDir(), "auth.log.2.gz")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(plain)
		zw.Close()
		if err := os.WriteFile(gz, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		// The same alerts (rule and entity; ids name the file) as the
		// uncompressed log.
		alerts := func(path string) []string {
			out, err := exec.Command(bin, "scan", path).Output()
			if err != nil {
				t.Fatalf("vigil scan %s: %v", path, err)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var a struct {
					Rule  struct{ ID string }
					Vigil struct {
						Alert struct{ Entity struct{ Field, Value string } }
					}
				}
				if err := json.Unmarshal([]byte(line), &a); err != nil {
					t.Fatalf("alert %q: %v", line, err)
				}
				got = append(got, a.Rule.ID+" "+a.Vigil.Alert.Entity.Field+"="+a.Vigil.Alert.Entity.Value)
			}
			return got
		}
		want, got := alerts(scenario), alerts(gz)
		if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("alerts of the gzip-compressed log:\n%s\nwant those of the plain one:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "parse", gz)
		cmd.Stderr = &stderr
		if out, err := cmd.Output(); err != nil || bytes.Count(out, []byte("\n")) != bytes.Count(plain, []byte("\n")) || !strings.Contains(stderr.String(), "0 parse failures") {
			t.Errorf("vigil parse of the gzip-compressed log: %v, %d events for %d lines: %s", err, bytes.Count(out, []byte("\n")), bytes.Count(plain, []byte("\n")), stderr.String())
		}
		// A cut archive is a read error naming the file, not a quiet end.
		cut := filepath.Join(t.TempDir(), "cut.gz")
		if err := os.WriteFile(cut, buf.Bytes()[:buf.Len()/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "scan", cut).CombinedOutput(); err == nil || !strings.Contains(string(out), "cut.gz") || !strings.Contains(string(out), "unexpected EOF") {
			t.Errorf("vigil scan of a cut gzip file: %v: %s", err, out)
		}
	})

	t.Run("broker refuses a retention that is not a size", func(t *testing.T) {
		out, err := exec.Command(bin, "broker", "--listen", "127.0.0.1:0", "--retention-mb", "0").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--retention-mb") {
			t.Errorf("vigil broker --retention-mb 0: %v: %s", err, out)
		}
	})

	t.Run("rules lint and test", func(t *testing.T) {
		for _, sub := range []string{"lint", "test"} {
			if out, err := exec.Command(bin, "rules", sub).CombinedOutput(); err != nil {
				t.Errorf("vigil rules %s on the built-in pack: %v: %s", sub, err, out)
			}
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("id: x\nname: X\nkind: match\nseverity: low\ncondition: sourceip ==\n"), 0o600)
		os.WriteFile(filepath.Join(dir, "wrong.yaml"), []byte(`id: y
name: Y
kind: match
severity: low
condition: user.name == "root"
tests:
  - name: expects an alert it does not get
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", "user.name": "alice"}
    expect: {count: 1}
`), 0o600)
		out, err := exec.Command(bin, "rules", "lint", dir).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "bad.yaml:5:") {
			t.Errorf("vigil rules lint on a bad rule: %v: %s", err, out)
		}
		out, err = exec.Command(bin, "rules", "test", dir).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "FAIL") || !strings.Contains(string(out), "expects an alert it does not get") {
			t.Errorf("vigil rules test with a failing test: %v: %s", err, out)
		}
	})

	t.Run("kibana setup imports the saved objects", func(t *testing.T) {
		kb := kibanatest.NewServer(kibanatest.Config{APIKey: "test-kibana-key"})
		defer kb.Close()
		cmd := exec.Command(bin, "kibana", "setup", "--url", kb.URL)
		cmd.Env = append(os.Environ(), "VIGIL_KIBANA_API_KEY=test-kibana-key")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "saved objects imported") {
			t.Fatalf("vigil kibana setup: %v: %s", err, out)
		}
		if len(kb.Objects("")) == 0 {
			t.Fatal("no saved object reached Kibana")
		}
		cmd = exec.Command(bin, "kibana", "setup", "--url", kb.URL)
		cmd.Env = append(os.Environ(), "VIGIL_KIBANA_API_KEY=refused-key-7f3a9")
		if out, err := cmd.CombinedOutput(); err == nil || strings.Contains(string(out), "refused-key-7f3a9") {
			t.Fatalf("a refused key must fail without echoing it: %v: %s", err, out)
		}
	})

	t.Run("a single stage without Kafka says what to do", func(t *testing.T) {
		cmd := exec.Command(bin, "detect")
		cmd.Env = append(os.Environ(), "VIGIL_KAFKA_BOOTSTRAP_SERVERS=")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "kafka.bootstrap_servers") || !strings.Contains(string(out), "vigil broker") {
			t.Fatalf("vigil detect without Kafka: %v: %s", err, out)
		}
	})

	t.Run("bad config names the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vigil.yaml")
		os.WriteFile(path, []byte("triage:\n  engine: magic\n"), 0o600)
		out, err := exec.Command(bin, "run", "-c", path).CombinedOutput()
		if err == nil || !strings.Contains(string(out), path) || !strings.Contains(string(out), "triage.engine") {
			t.Fatalf("vigil run with a bad config: %v: %s", err, out)
		}
	})

	t.Run("kcat talks to vigil broker", func(t *testing.T) {
		kcat, err := exec.LookPath("kcat")
		if err != nil {
			t.Skip("kcat is not installed (Debian package kcat; .ci/run installs it)")
		}
		addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		broker := exec.CommandContext(ctx, bin, "broker", "--listen", addr, "--partitions", "2")
		stdout, _ := broker.StdoutPipe()
		if err := broker.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { broker.Process.Kill(); broker.Wait() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.Contains(line, "listening on "+addr) {
			t.Fatalf("broker did not start: %q %v", line, err)
		}
		produce := exec.CommandContext(ctx, kcat, "-b", addr, "-t", "vigil.events", "-P", "-K", ":")
		produce.Stdin = strings.NewReader("web-01:{\"message\":\"one\"}\nweb-02:{\"message\":\"two\"}\n")
		if out, err := produce.CombinedOutput(); err != nil {
			t.Fatalf("kcat -P: %v: %s", err, out)
		}
		consume := exec.CommandContext(ctx, kcat, "-b", addr, "-t", "vigil.events", "-C", "-e", "-q", "-f", "%k=%s\n")
		out, err := consume.Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		got := strings.Split(strings.TrimSpace(string(out)), "\n")
		want := map[string]bool{`web-01={"message":"one"}`: true, `web-02={"message":"two"}`: true}
		if len(got) != 2 || !want[got[0]] || !want[got[1]] {
			t.Fatalf("kcat read back %q", out)
		}
		replay := exec.CommandContext(ctx, bin, "replay", "--format", "sshd", scenario)
		replay.Env = append(os.Environ(), "VIGIL_KAFKA_BOOTSTRAP_SERVERS="+addr)
		if out, err := replay.CombinedOutput(); err != nil || !strings.Contains(string(out), fmt.Sprintf("%d events acknowledged", scenarioLines)) {
			t.Fatalf("vigil replay: %v: %s", err, out)
		}
		count, err := exec.CommandContext(ctx, kcat, "-b", addr, "-t", "vigil.events", "-C", "-e", "-q", "-f", "%o\n").Output()
		if err != nil {
			t.Fatalf("kcat -C: %v", err)
		}
		if n := bytes.Count(count, []byte("\n")); n != scenarioLines+2 {
			t.Fatalf("vigil.events holds %d records after replay, want %d (2 from kcat + %d replayed)", n, scenarioLines+2, scenarioLines)
		}
		meta, _ := exec.CommandContext(ctx, kcat, "-b", addr, "-L").Output()
		for _, topic := range []string{"vigil.events", "vigil.alerts", "vigil.verdicts", "vigil.dlq"} {
			if !bytes.Contains(meta, []byte(`topic "`+topic+`"`)) {
				t.Errorf("kcat -L does not list %s:\n%s", topic, meta)
			}
		}
	})
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
