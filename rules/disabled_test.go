package rules

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
)

// TestTestsOfADisabledRuleAreSkipped: a disabled rule raises nothing, so
// its tests are reported as skipped, with the reason, not as failures.
func TestTestsOfADisabledRuleAreSkipped(t *testing.T) {
	fsys := fstest.MapFS{"e.yaml": {Data: []byte(`id: ex.on
name: on
kind: match
severity: low
condition: event.action == "x"
tests:
  - name: fires
    events: [{"@timestamp": "2025-01-01T00:00:00Z", event.action: x}]
    expect: {count: 1}
---
id: ex.off
name: off
kind: match
severity: low
enabled: false
condition: event.action == "x"
tests:
  - name: would fire
    events: [{"@timestamp": "2025-01-01T00:00:00Z", event.action: x}]
    expect: {count: 1}
`)}}
	results := RunTests(fsys, ".")
	if len(results) != 2 || !results[0].Passed || !results[1].Skipped || results[1].Rule != "ex.off" || results[1].Line != 18 {
		t.Fatalf("results %+v", results)
	}
	var out bytes.Buffer
	if failed := WriteTestResults(&out, results, true); failed != 0 {
		t.Errorf("%d failed:\n%s", failed, &out)
	}
	for _, want := range []string{
		"--- SKIP: ex.off/would fire (e.yaml:18)\n    the rule is disabled (enabled: false)\n",
		"SKIP\tex.off\t1 tests skipped: the rule is disabled (enabled: false)\te.yaml\n",
		"PASS: 1 tests (1 rules), 1 skipped\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &out)
		}
	}
}
