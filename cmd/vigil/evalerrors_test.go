package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// scan's summary names the rules that failed at run time, how often and
// the first error, below the table whose ALERTS column would show them as
// rules that found nothing.
func TestScanSummaryShowsEvalErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "r.yaml"), `id: c.arith
name: arithmetic on a missing field
kind: match
severity: low
condition: source.bytes + 1 > 10
---
id: c.fine
name: no error
kind: match
severity: low
condition: event.action == "a"
`)
	events := writeFile(t, filepath.Join(dir, "ev.json"), strings.Repeat(`{"@timestamp":"2025-01-01T00:00:00Z","event":{"action":"a"}}`+"\n", 4))
	_, stderr, err := runScan(t, "--rules", filepath.Join(dir, "rules"), "-f", "jsonlines", events)
	if err != nil {
		t.Fatal(err)
	}
	want := "1 rules had evaluation errors (each one an event the rule could not match):\n" +
		"  c.arith: 4, the first: invalid operation: <nil> + int (1:14) in `source.bytes + 1 > 10`\n"
	if !strings.Contains(stderr, want) {
		t.Errorf("summary lacks\n%s\nin\n%s", want, stderr)
	}
	if strings.Contains(stderr, "c.fine:") {
		t.Errorf("a rule without errors is listed:\n%s", stderr)
	}
}

// `vigil rules test` fails with the counts of its summary line: the
// tests that ran, and the rules that did not load apart from them.
func TestRulesTestCountsLoadErrorsApart(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.yaml"), `id: c.bad
name: bad
kind: match
severity: low
condition: nosuchfunc(user.name)
tests:
  - name: never runs
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", user.name: root}
    expect: {count: 1}
`)
	writeFile(t, filepath.Join(dir, "good.yaml"), `id: c.good
name: good
kind: match
severity: low
condition: user.name == "root"
tests:
  - name: passes
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", user.name: root}
    expect: {count: 1}
  - name: fails
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", user.name: root}
    expect: {count: 0}
`)
	cmd := newRulesTestCmd(&globals{})
	var out, errw bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errw)
	cmd.SetArgs([]string{dir})
	err := cmd.Execute()
	const counts = "1 of 2 tests failed (1 rules), 1 load error"
	if err == nil || err.Error() != counts+" in "+dir {
		t.Errorf("error %v, want %q", err, counts+" in "+dir)
	}
	if !strings.Contains(out.String(), "FAIL: "+counts+"\n") {
		t.Errorf("summary line is not %q:\n%s", "FAIL: "+counts, out.String())
	}
}
