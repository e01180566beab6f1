package rules

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// runRuleFile runs the tests of one rule file.
func runRuleFile(t *testing.T, src string) []TestResult {
	t.Helper()
	return RunTests(fstest.MapFS{"r.yaml": {Data: []byte(src)}}, ".")
}

// resultNamed is the result of the test of that name.
func resultNamed(t *testing.T, results []TestResult, name string) TestResult {
	t.Helper()
	for _, r := range results {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no result for test %q in %+v", name, results)
	return TestResult{}
}

const matchRuleHead = `id: t.match
name: failures
kind: match
severity: low
condition: event.outcome == "failure"
by: [source.ip]
`

// failureEvents is n inline events of failures from n sources.
func failureEvents(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "      - {\"@timestamp\": \"2025-12-10T09:00:%02dZ\", event.outcome: failure, source.ip: 192.0.2.%d}\n", i%60, i+1)
	}
	return b.String()
}

// `alerts: []` expects no alert (it was rejected as neither count nor
// alerts, which failed the rule's load and its other tests with it), and
// an alerts list without count is the exact list: an alert more fails.
func TestAlertsListWithoutCountIsExact(t *testing.T) {
	results := runRuleFile(t, matchRuleHead+`tests:
  - name: none expected, none raised
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", event.outcome: success, source.ip: 192.0.2.1}
    expect: {alerts: []}
  - name: none expected, one raised
    events:
`+failureEvents(1)+`    expect: {alerts: []}
  - name: one listed, three raised
    events:
`+failureEvents(3)+`    expect: {alerts: [{group_keys: {source.ip: 192.0.2.1}}]}
  - name: one described of a count of three
    events:
`+failureEvents(3)+`    expect: {count: 3, alerts: [{group_keys: {source.ip: 192.0.2.1}}]}
`)
	for _, r := range results {
		if r.Rule == "" {
			t.Fatalf("load error: %s", r.Diff)
		}
	}
	if r := resultNamed(t, results, "none expected, none raised"); !r.Passed {
		t.Errorf("alerts: [] with no alert failed:\n%s", r.Diff)
	}
	if r := resultNamed(t, results, "none expected, one raised"); r.Passed || !strings.Contains(r.Diff, "alerts: want 0 (the alerts listed), got 1") {
		t.Errorf("alerts: [] with an alert: passed=%v\n%s", r.Passed, r.Diff)
	}
	if r := resultNamed(t, results, "one listed, three raised"); r.Passed || !strings.Contains(r.Diff, "alerts: want 1 (the alerts listed), got 3") {
		t.Errorf("one alert listed, three raised: passed=%v\n%s", r.Passed, r.Diff)
	}
	if r := resultNamed(t, results, "one described of a count of three"); !r.Passed {
		t.Errorf("count: 3 with the first alert described failed:\n%s", r.Diff)
	}
}

// A test without any expectation is a load error located at the test,
// not at the rule: expect: is absent, and has no line of its own.
func TestMissingExpectIsReportedAtTheTest(t *testing.T) {
	_, errs := Parse("r.yaml", []byte(matchRuleHead+`tests:
  - name: fine
    events:
`+failureEvents(1)+`    expect: {count: 1}
  - name: no expectation
    events:
`+failureEvents(1)))
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	le, ok := errs[0].(*LoadError)
	if !ok || le.Line != 12 || !strings.Contains(le.Msg, "tests[1]: expect: needs count or alerts") {
		t.Fatalf("error %#v, want tests[1]'s at line 12", errs[0])
	}
}

// ECS arrays are sets: related.user, which the engine builds sorted, is
// compared whatever the order the test writes it in; process arguments
// and the engine's own lists keep their order.
func TestListFieldsCompareAsMultisets(t *testing.T) {
	results := runRuleFile(t, `id: t.related
name: related users
kind: match
severity: low
condition: event.outcome == "failure"
by: [source.ip]
tests:
  - name: any order
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", event.outcome: failure, source.ip: 192.0.2.1, related.user: [root, bob]}
    expect: {alerts: [{fields: {related.user: [root, bob]}}]}
  - name: other users
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", event.outcome: failure, source.ip: 192.0.2.1, related.user: [root, bob]}
    expect: {alerts: [{fields: {related.user: [root, root]}}]}
`)
	if r := resultNamed(t, results, "any order"); !r.Passed {
		t.Errorf("related.user in another order failed:\n%s", r.Diff)
	}
	if r := resultNamed(t, results, "other users"); r.Passed || !strings.Contains(r.Diff, "related.user: want [root, root] (in any order), got [bob, root]") {
		t.Errorf("a different multiset: passed=%v\n%s", r.Passed, r.Diff)
	}
	for _, c := range []struct {
		field     string
		want, got []any
		same      bool
	}{
		{"event.category", []any{"network", "authentication"}, []any{"authentication", "network"}, true},
		{"related.ip", []any{"a", "a", "b"}, []any{"a", "b", "b"}, false},
		{"related.ip", []any{"a"}, []any{"a", "a"}, false},
		{"process.args", []any{"-c", "sh"}, []any{"sh", "-c"}, false},
		{"process.parent.args", []any{"sh", "-c"}, []any{"sh", "-c"}, true},
		{"vigil.alert.new_terms.values", []any{"b", "a"}, []any{"a", "b"}, false},
	} {
		if got := sameValue(c.field, c.want, c.got); got != c.same {
			t.Errorf("sameValue(%s, %v, %v) = %v, want %v", c.field, c.want, c.got, got, c.same)
		}
	}
}

// A rule's evaluation errors on a test's events fail the test and say
// why: a negative test must not pass because the rule could not run.
func TestEvalErrorsFailATest(t *testing.T) {
	results := runRuleFile(t, `id: t.arith
name: arithmetic on a missing field
kind: match
severity: low
condition: source.bytes + 1 > 10
tests:
  - name: negative
    events:
      - {"@timestamp": "2025-12-10T09:00:00Z", source.ip: 192.0.2.1}
    expect: {count: 0}
`)
	r := resultNamed(t, results, "negative")
	if r.Passed || r.EvalErrors != 1 || !strings.Contains(r.Diff, "evaluation errors: 1 on the test's events (each is no match), the first: invalid operation: <nil> + int") {
		t.Fatalf("passed=%v, %d errors:\n%s", r.Passed, r.EvalErrors, r.Diff)
	}
}

// A failed test lists the first alerts raised, not hundreds.
func TestFailedTestListsAtMostTwentyAlerts(t *testing.T) {
	results := runRuleFile(t, matchRuleHead+`tests:
  - name: thirty raised
    events:
`+failureEvents(30)+`    expect: {count: 1}
`)
	r := resultNamed(t, results, "thirty raised")
	if n := strings.Count(r.Diff, "  alerts["); n != maxDescribed {
		t.Errorf("%d alerts listed, want %d:\n%s", n, maxDescribed, r.Diff)
	}
	if !strings.Contains(r.Diff, "… and 10 more") {
		t.Errorf("the diff does not say how many more alerts were raised:\n%s", r.Diff)
	}
}

// A rule that does not load is a load error, not failed tests: the
// summary counts the tests that ran and the load errors apart.
func TestSummaryCountsLoadErrorsApart(t *testing.T) {
	fsys := fstest.MapFS{
		"bad.yaml": {Data: []byte(`id: t.bad
name: bad
kind: match
severity: low
condition: nosuchfunc(user.name)
tests:
  - name: a
    events:
` + failureEvents(1) + `    expect: {count: 1}
  - name: b
    events:
` + failureEvents(1) + `    expect: {count: 1}
`)},
		"good.yaml": {Data: []byte(matchRuleHead + `tests:
  - name: passes
    events:
` + failureEvents(1) + `    expect: {count: 1}
  - name: fails
    events:
` + failureEvents(1) + `    expect: {count: 2}
`)},
	}
	results := RunTests(fsys, ".")
	sum := SummarizeTests(results)
	if want := (TestSummary{Tests: 2, Failed: 1, Rules: 1, LoadErrors: 1}); sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	var out bytes.Buffer
	if n := WriteTestResults(&out, results, false); n != 2 {
		t.Errorf("WriteTestResults = %d, want 2 (a failed test and a load error)", n)
	}
	if !strings.Contains(out.String(), "FAIL: 1 of 2 tests failed (1 rules), 1 load error\n") {
		t.Errorf("summary line:\n%s", out.String())
	}

	delete(fsys, "good.yaml")
	out.Reset()
	WriteTestResults(&out, RunTests(fsys, "."), false)
	if !strings.HasSuffix(out.String(), "FAIL: 0 tests (0 rules), 1 load error\n") {
		t.Errorf("summary line of a load error alone:\n%s", out.String())
	}
}
