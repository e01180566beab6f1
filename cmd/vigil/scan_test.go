package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sshdLines are auth.log lines of one source failing to log in.
func sshdLines(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("Dec 10 06:55:")
		b.WriteString(string(rune('0'+i/10)) + string(rune('0'+i%10)))
		b.WriteString(" LabSZ sshd[24200]: Failed password for root from 203.0.113.9 port 4242 ssh2\n")
	}
	return b.String()
}

// runScan runs `vigil scan` in process.
func runScan(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newScanCmd(&globals{})
	var out, errw bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errw)
	cmd.SetIn(strings.NewReader(""))
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errw.String(), err
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A --format that is not the file's parses nothing: scan says so and
// fails, with the parse failures' reasons, rather than reporting a clean
// backtest of 0 alerts. When another input parsed, it is a warning.
func TestScanSaysWhenNothingParsed(t *testing.T) {
	dir := t.TempDir()
	auth := writeFile(t, filepath.Join(dir, "auth.log"), sshdLines(30))
	_, stderr, err := runScan(t, "-f", "cloudtrail", auth)
	if err == nil || !strings.Contains(err.Error(), "no record of "+auth+" could be parsed as cloudtrail") {
		t.Fatalf("err = %v, want one saying nothing of %s parsed as cloudtrail", err, auth)
	}
	if !strings.Contains(stderr, "not JSON") {
		t.Errorf("the summary gives no reason for the parse failures:\n%s", stderr)
	}

	access := writeFile(t, filepath.Join(dir, "access.log"),
		`203.0.113.9 - - [10/Dec/2025:06:55:46 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8.0"`+"\n")
	stdout, stderr, err := runScan(t, "-f", "sshd", auth, access)
	if err != nil {
		t.Fatalf("one input parsed, yet: %v", err)
	}
	if !strings.Contains(stderr, "warning: no record of "+access+" could be parsed as sshd") {
		t.Errorf("no warning about %s:\n%s", access, stderr)
	}
	if !strings.Contains(stdout, "vigil.ssh.brute_force") {
		t.Errorf("the input that parsed raised no brute-force alert:\n%s", stdout)
	}
}

// A directory is scanned as the files under it: hidden ones and binary
// ones left out (the latter named on stderr), gzip-compressed ones read.
func TestScanReadsTheFilesOfADirectory(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "auth.log"), sshdLines(30))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(sshdLines(12)))
	zw.Close()
	writeFile(t, filepath.Join(dir, "old", "auth.log.2.gz"), gz.String())
	writeFile(t, filepath.Join(dir, "old", "wtmp"), "\x00\x01\x02binary")
	writeFile(t, filepath.Join(dir, ".cache", "auth.log"), sshdLines(5))
	writeFile(t, filepath.Join(dir, ".hidden.log"), sshdLines(5))

	_, stderr, err := runScan(t, "-f", "sshd", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		filepath.Join(dir, "auth.log") + ": 30 events",
		filepath.Join(dir, "old", "auth.log.2.gz") + ": 12 events",
		"skipped 1 binary files: " + filepath.Join(dir, "old", "wtmp"),
		"42 events →",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, ".cache") || strings.Contains(stderr, ".hidden") {
		t.Errorf("hidden files were read:\n%s", stderr)
	}
}

// --lists gives in_list() its lists, as detect.lists does.
func TestScanListsFlag(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "r.yaml"), `id: test.watched_source
name: A watched source fails to log in
kind: match
severity: low
condition: event.outcome == "failure" && in_list(source.ip, "watched")
`)
	writeFile(t, filepath.Join(dir, "lists", "watched.txt"), "# sources under watch\n203.0.113.0/24\n")
	auth := writeFile(t, filepath.Join(dir, "auth.log"), sshdLines(3))

	stdout, stderr, err := runScan(t, "-f", "sshd", "--rules", filepath.Join(dir, "rules"), "--lists", filepath.Join(dir, "lists"), auth)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if n := strings.Count(stdout, `"test.watched_source"`); n != 3 {
		t.Errorf("%d alerts of the watched-source rule, want 3:\n%s\n%s", n, stdout, stderr)
	}
}

// A disabled rule is reported as disabled, not as a rule that had no
// event it could match.
func TestScanSummaryNamesDisabledRules(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "r.yaml"), `id: test.on
name: Failed logins
kind: match
severity: low
condition: event.outcome == "failure"
---
id: test.off
name: Failed logins, switched off
kind: match
severity: low
enabled: false
condition: event.outcome == "failure"
`)
	auth := writeFile(t, filepath.Join(dir, "auth.log"), sshdLines(3))
	stdout, stderr, err := runScan(t, "-f", "sshd", "--rules", filepath.Join(dir, "rules"), auth)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "1 rules are disabled (enabled: false) and did not run: test.off") {
		t.Errorf("the summary does not name the disabled rule:\n%s", stderr)
	}
	if strings.Contains(stderr, "could match: test.off") || strings.Contains(stdout, `"test.off"`) {
		t.Errorf("the disabled rule is reported as idle, or ran:\n%s", stderr)
	}
}

// A rule that does not load does not stop the others, but scan fails at
// the end, so a backtest in CI does not pass with a rule that never ran.
func TestScanFailsWhenARuleDidNotLoad(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "r.yaml"), `id: test.good
name: Failed logins
kind: match
severity: low
condition: event.outcome == "failure"
---
id: test.broken
name: Broken
kind: match
severity: low
condition: event.outcome ==
`)
	auth := writeFile(t, filepath.Join(dir, "auth.log"), sshdLines(3))
	stdout, stderr, err := runScan(t, "-f", "sshd", "--rules", filepath.Join(dir, "rules"), auth)
	if err == nil || !strings.Contains(err.Error(), "1 rule errors") {
		t.Errorf("err = %v, want one counting the rule that did not load", err)
	}
	if !strings.Contains(stderr, "rule not loaded:") || strings.Count(stdout, `"test.good"`) != 3 {
		t.Errorf("the good rule did not run, or the bad one was not named:\n%s\n%s", stdout, stderr)
	}
}

// A directory given through a symbolic link, and a linked log file in a
// directory, are read; a directory with nothing to read is an error, not
// a scan of nothing that exits 0.
func TestScanFollowsLinksAndRejectsAnEmptyDirectory(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	writeFile(t, filepath.Join(logs, "auth.log"), sshdLines(30))
	other := writeFile(t, filepath.Join(dir, "elsewhere", "auth.log.1"), sshdLines(12))
	if err := os.Symlink(other, filepath.Join(logs, "auth.log.1")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(logs, link); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runScan(t, "-f", "sshd", link)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{filepath.Join(link, "auth.log") + ": 30 events", filepath.Join(link, "auth.log.1") + ": 12 events", "42 events →"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}

	empty := filepath.Join(dir, "empty")
	if err := os.MkdirAll(filepath.Join(empty, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runScan(t, "-f", "sshd", empty); err == nil || !strings.Contains(err.Error(), "no log file under this directory") {
		t.Errorf("err = %v, want one saying the directory holds no log file", err)
	}
}
