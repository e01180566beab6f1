package rules

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigil-siem/vigil/event"
)

func TestPackRuleTestsPass(t *testing.T) {
	results := RunTests(Pack(), ".")
	var out bytes.Buffer
	if failed := WriteTestResults(&out, results, true); failed > 0 {
		t.Fatalf("%d pack rule tests failed:\n%s", failed, out.String())
	}
	stateful := 0
	for _, c := range loadPack(t) {
		if c.Rule.IsStateful() {
			stateful++
		}
	}
	if stateful == 0 || len(results) < 2*stateful {
		t.Fatalf("%d results for %d stateful rules:\n%s", len(results), stateful, out.String())
	}
}

func TestPackLintsClean(t *testing.T) {
	for _, f := range Lint(Pack(), ".") {
		t.Errorf("%s", f)
	}
}

func TestLintFindings(t *testing.T) {
	fsys := fstest.MapFS{"a.yaml": {Data: []byte(strings.Join([]string{
		"id: a.spray",     // 1
		"name: Spray",     // 2
		"kind: threshold", // 3
		"severity: high",  // 4
		"tags: [attack.credential_access, T1110.003]",                // 5
		"condition: event.outcome == \"failure\" && sourceip != nil", // 6
		"by: [source.ip]", // 7
		"threshold: {window: 10m, distinct: user.nmae, gte: 5}", // 8
		"---",
		"id: a.spray", // 10
		"name: Again",
		"kind: match",
		"severity: low",
		"condition: true",
		"---",
		"id: a.bad", // 16
		"name: Bad",
		"kind: match",
		"severity: low",
		"tags: [attack.T1110]",            // 20
		"condition: re(user.name, \"(\")", // 21
		"---",
		"id: a.seq", // 23
		"name: Seq",
		"kind: sequence",
		"severity: low",
		"by: [source.ip]",
		"maxspan: 1m",
		"steps: [{condition: event.outcome == \"failure\"}]",
		"tests:", // 30
		"  - name: fires",
		"    events: [{\"@timestamp\": \"2025-12-10T09:00:00Z\", event.outcome: failure, source.ip: 192.0.2.1}]",
		"    expect: {count: 1}",
	}, "\n"))}}
	want := []string{
		"a.yaml:1: warning: rule a.spray: threshold rule has no tests",
		"a.yaml:5: warning: rule a.spray: tags: \"T1110.003\" looks like an ATT&CK technique: write attack.t1110.003",
		"a.yaml:6: warning: rule a.spray: condition: unknown field sourceip (did you mean source.ip?)",
		"a.yaml:8: warning: rule a.spray: threshold.distinct: unknown field user.nmae (did you mean user.name?)",
		"a.yaml:10: error: id \"a.spray\" is already used at a.yaml:1",
		"a.yaml:20: error: rule a.bad: tags: \"attack.T1110\" is not an ATT&CK tag",
		"a.yaml:21: error: rule a.bad: condition: re: bad pattern",
		"a.yaml:23: warning: rule a.seq: sequence rule has no negative test (expect: {count: 0})",
	}
	got := Lint(fsys, ".")
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d:\n%s", len(got), len(want), findingsText(got))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i].String(), w) {
			t.Errorf("finding %d = %q, want prefix %q", i, got[i], w)
		}
	}
	// Warnings do not stop a rule from loading.
	rs, errs := LoadFS(fsys, ".")
	if len(rs) != 2 || len(errs) != 3 || len(rs[0].Warnings()) != 2 {
		t.Fatalf("loaded %d rules (%d errors), warnings of the first %v", len(rs), len(errs), rs[0].Warnings())
	}
}

func findingsText(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestRuleTestsPassAndFailWithADiff(t *testing.T) {
	rule := `id: r.fail
name: Failures
kind: threshold
severity: low
condition: event.outcome == "failure"
by: [source.ip]
threshold: {window: 1m, gte: 2}
tests:
  - name: two failures
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", event: {outcome: failure}, source: {ip: 192.0.2.1}}
      - {"@timestamp": "2025-12-10T09:00:30Z", event.outcome: failure, source.ip: 192.0.2.1}
    expect:
      count: 1
      alerts: [{group_keys: {source.ip: 192.0.2.1}, fields: {vigil.alert.threshold.count: 2}}]
  - name: wrong expectation
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", event.outcome: failure, source.ip: 192.0.2.1}
      - {"@timestamp": "2025-12-10T09:00:30Z", event.outcome: failure, source.ip: 192.0.2.1}
    expect:
      count: 1
      alerts: [{group_keys: {source.ip: 192.0.2.9}, fields: {vigil.alert.threshold.count: 3}}]
  - name: from a log
    log: {file: testdata/fail.log, format: lines}
    expect: {count: 0}
`
	fsys := fstest.MapFS{
		"r/r.yaml":            {Data: []byte(rule)},
		"r/testdata/fail.log": {Data: []byte("192.0.2.1\n192.0.2.2\n")},
	}
	parse := func(format string, data []byte) ([]event.Event, error) {
		var evs []event.Event
		for i, l := range strings.Fields(string(data)) {
			e := event.Event{"event.outcome": "failure", "source.ip": l, "vigil.event_id": format + string(rune('a'+i))}
			e.SetTime(t0)
			evs = append(evs, e)
		}
		return evs, nil
	}
	results := RunTests(fsys, ".", WithParseFunc(parse))
	if len(results) != 3 {
		t.Fatalf("%d results", len(results))
	}
	if !results[0].Passed || results[0].Line != 9 || results[0].Alerts != 1 {
		t.Fatalf("first test: %+v", results[0])
	}
	if results[1].Passed {
		t.Fatal("the wrong expectation passed")
	}
	for _, w := range []string{
		`alerts[0].group_keys.source.ip: want "192.0.2.9", got "192.0.2.1"`,
		"alerts[0].vigil.alert.threshold.count: want 3, got 2",
		"alerts[0]: 2025-12-10T09:00:00.000Z..2025-12-10T09:00:30.000Z events=2 keys=[source.ip=192.0.2.1]",
	} {
		if !strings.Contains(results[1].Diff, w) {
			t.Errorf("diff lacks %q:\n%s", w, results[1].Diff)
		}
	}
	if !results[2].Passed {
		t.Fatalf("log test: %+v", results[2])
	}
	var out bytes.Buffer
	if failed := WriteTestResults(&out, results, false); failed != 1 {
		t.Fatalf("%d failed", failed)
	}
	for _, w := range []string{"--- FAIL: r.fail/wrong expectation (r/r.yaml:16)", "FAIL\tr.fail\t1 of 3 tests failed", "FAIL: 1 of 3 tests failed (1 rules)"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	// Without a parser the log test fails and says why.
	if r := RunTests(fsys, ".")[2]; r.Passed || !strings.Contains(r.Diff, "no log parser") {
		t.Fatalf("log test without a parser: %+v", r)
	}
}

// TestReadmeExamplesLoad keeps the rule examples of README.md valid.
func TestReadmeExamplesLoad(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for i, part := range strings.Split(string(data), "```yaml\n") {
		if i == 0 {
			continue
		}
		block, _, _ := strings.Cut(part, "```")
		if !strings.HasPrefix(block, "id: ") {
			continue
		}
		blocks++
		if _, errs := Parse("README.md", []byte(block)); len(errs) > 0 {
			t.Errorf("example %d: %v", blocks, errs)
		}
	}
	if blocks < 4 {
		t.Fatalf("%d rule examples in README.md, want one per kind", blocks)
	}
}
