package rules

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// RuleTest is one test in a rule file: events (inline ECS objects, nested
// or with dotted keys, or a log file parsed in a format) and the alerts
// the rule must raise on them.
type RuleTest struct {
	Name   string           `yaml:"name"`
	Events []map[string]any `yaml:"events"`
	Log    *TestLog         `yaml:"log"`
	Expect TestExpect       `yaml:"expect"`
}

// TestLog is a log file given to a test, relative to the rule file.
type TestLog struct {
	File   string `yaml:"file"`
	Format string `yaml:"format"`
}

// TestExpect is what a test expects. Count, when set, is the number of
// alerts; Alerts are compared in order with the alerts raised (each
// expected alert's keys must match, other fields are not compared). With
// Alerts and no Count, the alerts raised must be exactly those listed, so
// `alerts: []` expects none; with both, Alerts describes the first Count.
type TestExpect struct {
	Count  *int            `yaml:"count"`
	Alerts []ExpectedAlert `yaml:"alerts"`
}

// ExpectedAlert is the part of an alert a test checks: its group keys
// (by field → value) and any fields of the alert document by dotted path
// (source.ip, vigil.alert.event_count, vigil.alert.threshold.count …).
type ExpectedAlert struct {
	GroupKeys map[string]any `yaml:"group_keys"`
	Fields    map[string]any `yaml:"fields"`
}

func (t RuleTest) validate(i int) []string {
	var errs []string
	key := fmt.Sprintf("tests[%d]", i)
	if t.Name == "" {
		errs = append(errs, key+".name: missing")
	}
	if (len(t.Events) == 0) == (t.Log == nil) {
		errs = append(errs, key+": needs events or log (one of them)")
	}
	if t.Log != nil && (t.Log.File == "" || t.Log.Format == "") {
		errs = append(errs, key+".log: needs file and format")
	}
	// Alerts nil is no alerts: key; an empty list (alerts: []) is an
	// expectation of no alert. The key named is the test's: an absent
	// expect: has no line of its own to point at.
	if t.Expect.Count == nil && t.Expect.Alerts == nil {
		errs = append(errs, key+": expect: needs count or alerts (count: 0 or alerts: [] for no alert)")
	}
	if t.Expect.Count != nil && len(t.Expect.Alerts) > *t.Expect.Count {
		errs = append(errs, fmt.Sprintf("%s.expect: %d alerts described but count is %d", key, len(t.Expect.Alerts), *t.Expect.Count))
	}
	return errs
}

// TestResult is the outcome of one rule test, or of a rule file that
// could not be loaded (Rule or Name empty, Diff the errors).
type TestResult struct {
	File   string
	Line   int
	Rule   string
	Name   string
	Passed bool
	// Alerts is how many alerts the rule raised.
	Alerts int
	// EvalErrors is how many times the rule's expressions failed at run
	// time on the test's events; any fails the test (Diff has the first):
	// an event the rule could not evaluate proves nothing either way.
	EvalErrors int64
	// Diff says what differed from the expectation, one line per
	// difference, followed by the alerts raised; for a skipped test, why.
	Diff string
	// Skipped: the test did not run because its rule is disabled
	// (enabled: false), so what it expects proves nothing either way.
	Skipped bool
}

// RunTests loads the rules below root and runs the tests of each rule,
// each on a fresh engine holding that rule only, in event time (the
// engine is flushed at the end, so windows that close are decided).
// Rules and files that fail to load are failed results. Log files are
// parsed with the WithParseFunc option.
func RunTests(fsys fs.FS, root string, opts ...LoadOption) []TestResult {
	cfg := newLoadConfig(opts)
	_, errs, docs := loadFS(fsys, root, cfg)
	var out []TestResult
	for _, err := range errs {
		r := TestResult{Diff: err.Error()}
		if le, ok := err.(*LoadError); ok {
			r.File, r.Line = le.File, le.Line
		}
		out = append(out, r)
	}
	for _, d := range docs {
		if d.compiled == nil {
			continue
		}
		for i, t := range d.rule.Tests {
			res := TestResult{File: d.file, Line: keyLine(d.body, fmt.Sprintf("tests[%d]", i), d.line), Rule: d.rule.ID, Name: t.Name}
			if !d.rule.IsEnabled() {
				res.Skipped, res.Diff = true, "the rule is disabled (enabled: false)"
				out = append(out, res)
				continue
			}
			diff, n, evalErrs := runTest(fsys, d.compiled, t, cfg)
			res.Alerts, res.EvalErrors, res.Diff, res.Passed = n, evalErrs, diff, diff == ""
			out = append(out, res)
		}
	}
	return out
}

// runTest runs one test and returns its diff ("" when it passed), the
// number of alerts raised and of evaluation errors.
func runTest(fsys fs.FS, c *Compiled, t RuleTest, cfg *loadConfig) (string, int, int64) {
	evs, err := testEvents(fsys, c.Rule, t, cfg)
	if err != nil {
		return err.Error(), 0, 0
	}
	engine := NewEngine([]*Compiled{c}, EngineConfig{Now: func() time.Time { return time.Unix(0, 0).UTC() }})
	var alerts []Alert
	for _, ev := range evs {
		alerts = append(alerts, engine.Process(ev)...)
	}
	alerts = append(alerts, engine.Flush()...)
	// A suppression count re-emits an alert: the test sees its last state.
	alerts = latestByID(alerts)
	var diffs []string
	// The errors come first: they are the likely cause of what follows.
	evalErrs := engine.EvalErrors()[c.Rule.ID]
	if evalErrs.Count > 0 {
		diffs = append(diffs, fmt.Sprintf("evaluation errors: %d on the test's events (each is no match), the first: %s", evalErrs.Count, evalErrs.First))
	}
	switch {
	case t.Expect.Count != nil && len(alerts) != *t.Expect.Count:
		diffs = append(diffs, fmt.Sprintf("alerts: want %d, got %d", *t.Expect.Count, len(alerts)))
	case t.Expect.Count == nil && len(alerts) != len(t.Expect.Alerts):
		diffs = append(diffs, fmt.Sprintf("alerts: want %d (the alerts listed), got %d", len(t.Expect.Alerts), len(alerts)))
	}
	for i, want := range t.Expect.Alerts {
		if i >= len(alerts) {
			break
		}
		diffs = append(diffs, compareAlert(i, want, alerts[i])...)
	}
	if len(diffs) == 0 {
		return "", len(alerts), evalErrs.Count
	}
	diffs = append(diffs, describeAlerts(alerts)...)
	return strings.Join(diffs, "\n"), len(alerts), evalErrs.Count
}

// testEvents builds the test's events; each gets an id and the test's
// inline events are ECS objects.
func testEvents(fsys fs.FS, r *Rule, t RuleTest, cfg *loadConfig) ([]event.Event, error) {
	if t.Log != nil {
		if cfg.parse == nil {
			return nil, fmt.Errorf("log %s: no log parser given (WithParseFunc)", t.Log.File)
		}
		p := path.Join(path.Dir(r.File), t.Log.File)
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("log %s: %w", t.Log.File, err)
		}
		evs, err := cfg.parse(t.Log.Format, data)
		if err != nil {
			return nil, fmt.Errorf("log %s (format %s): %w", t.Log.File, t.Log.Format, err)
		}
		return evs, nil
	}
	evs := make([]event.Event, 0, len(t.Events))
	for i, obj := range t.Events {
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		ev, err := event.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("events[%d]: %w", i, err)
		}
		if _, ok := ev.Time(); !ok && ev.Get(event.FieldTimestamp) != nil {
			return nil, fmt.Errorf("events[%d]: @timestamp %v is not RFC 3339", i, ev.Get(event.FieldTimestamp))
		}
		if ev.ID() == "" {
			ev[event.FieldID] = fmt.Sprintf("test-%d", i)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

func latestByID(alerts []Alert) []Alert {
	pos := map[string]int{}
	var out []Alert
	for _, a := range alerts {
		if i, ok := pos[a.Vigil.Alert.ID]; ok {
			out[i] = a
			continue
		}
		pos[a.Vigil.Alert.ID] = len(out)
		out = append(out, a)
	}
	return out
}

func compareAlert(i int, want ExpectedAlert, got Alert) []string {
	var diffs []string
	keys := map[string]string{}
	for _, k := range got.Vigil.Alert.GroupKeys {
		keys[k.Field] = k.Value
	}
	for _, f := range sortedMapKeys(want.GroupKeys) {
		w := event.Stringify(want.GroupKeys[f])
		if g, ok := keys[f]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("alerts[%d].group_keys.%s: want %q, got %q", i, f, w, g))
		}
	}
	if len(want.Fields) == 0 {
		return diffs
	}
	doc := alertDocument(got)
	for _, f := range sortedMapKeys(want.Fields) {
		w := valueText(want.Fields[f])
		g, ok := doc[f]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("alerts[%d].%s: want %s, got nothing", i, f, w))
			continue
		}
		if sameValue(f, want.Fields[f], g) {
			continue
		}
		if _, list := want.Fields[f].([]any); list && !orderedField(f) {
			w += " (in any order)"
		}
		diffs = append(diffs, fmt.Sprintf("alerts[%d].%s: want %s, got %s", i, f, w, valueText(g)))
	}
	return diffs
}

// sameValue compares an expected field with the alert's. Lists are
// multisets, as ECS arrays mostly are (related.user, event.category,
// tags: the engine builds related.* sorted and deduplicated, an order
// the test's author cannot be expected to know), except for the fields
// whose order is their meaning (orderedField).
func sameValue(field string, want, got any) bool {
	w, wantList := want.([]any)
	g, gotList := got.([]any)
	if !wantList || !gotList || orderedField(field) {
		return valueText(want) == valueText(got)
	}
	if len(w) != len(g) {
		return false
	}
	ws, gs := make([]string, len(w)), make([]string, len(g))
	for i := range w {
		ws[i], gs[i] = valueText(w[i]), valueText(g[i])
	}
	sort.Strings(ws)
	sort.Strings(gs)
	return slices.Equal(ws, gs)
}

// orderedField says whether a list field's order means something:
// process arguments (process.args, process.parent.args, …) and the
// engine's own lists (vigil.alert.*: the events in time order, the group
// keys in the rule's by order, new_terms values paired with its fields).
func orderedField(field string) bool {
	return strings.HasSuffix(field, ".args") || strings.HasPrefix(field, "vigil.alert.")
}

// alertDocument is the alert as indexed, flattened to dotted paths.
func alertDocument(a Alert) event.Event {
	b, err := json.Marshal(a)
	if err != nil {
		return event.Event{}
	}
	doc, err := event.Unmarshal(b)
	if err != nil {
		return event.Event{}
	}
	return doc
}

// valueText renders a value for comparison: numbers and strings as text,
// lists as JSON, so 10 in YAML equals 10 in the alert.
func valueText(v any) string {
	switch t := v.(type) {
	case uint64:
		return fmt.Sprint(t)
	case []any:
		parts := make([]string, len(t))
		for i, x := range t {
			parts[i] = valueText(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return event.Stringify(v)
}

// maxDescribed bounds the alerts a failed test lists: a log file test can
// raise hundreds, and the first ones show what the rule matches.
const maxDescribed = 20

func describeAlerts(alerts []Alert) []string {
	if len(alerts) == 0 {
		return []string{"raised: no alert"}
	}
	out := []string{"raised:"}
	for i, a := range alerts[:min(len(alerts), maxDescribed)] {
		d := a.Vigil.Alert
		keys := make([]string, 0, len(d.GroupKeys))
		for _, k := range d.GroupKeys {
			keys = append(keys, k.String())
		}
		out = append(out, fmt.Sprintf("  alerts[%d]: %s..%s events=%d keys=[%s]", i,
			event.FormatTime(d.FirstSeen), event.FormatTime(d.LastSeen), d.EventCount, strings.Join(keys, " ")))
	}
	if more := len(alerts) - maxDescribed; more > 0 {
		out = append(out, fmt.Sprintf("  … and %d more", more))
	}
	return out
}

func sortedMapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestSummary counts test results.
type TestSummary struct {
	Tests   int // tests run
	Failed  int // tests run that failed
	Skipped int // tests of disabled rules, not run
	Rules   int // rules whose tests ran
	// LoadErrors counts the files and rules that did not load: their
	// tests did not run, and are not among Tests.
	LoadErrors int
}

// SummarizeTests counts results.
func SummarizeTests(results []TestResult) TestSummary {
	var s TestSummary
	rules := map[string]bool{}
	for _, r := range results {
		if r.Rule == "" {
			s.LoadErrors++
			continue
		}
		if r.Skipped {
			s.Skipped++
			continue
		}
		s.Tests++
		rules[r.Rule] = true
		if !r.Passed {
			s.Failed++
		}
	}
	s.Rules = len(rules)
	return s
}

// OK says whether every test ran and passed.
func (s TestSummary) OK() bool { return s.Failed == 0 && s.LoadErrors == 0 }

// String is "2 of 10 tests failed (4 rules), 1 load error", or
// "10 tests (4 rules)" when all passed.
func (s TestSummary) String() string {
	out := fmt.Sprintf("%d tests (%d rules)", s.Tests, s.Rules)
	if s.Failed > 0 {
		out = fmt.Sprintf("%d of %d tests failed (%d rules)", s.Failed, s.Tests, s.Rules)
	}
	if s.Skipped > 0 {
		out += fmt.Sprintf(", %d skipped", s.Skipped)
	}
	switch {
	case s.LoadErrors == 1:
		out += ", 1 load error"
	case s.LoadErrors > 1:
		out += fmt.Sprintf(", %d load errors", s.LoadErrors)
	}
	return out
}

// WriteTestResults prints results the way go test does: a line per
// failed test with its diff (every test with verbose), a line per rule,
// and a summary (SummarizeTests). It returns the number of failures:
// failed tests and load errors.
func WriteTestResults(w io.Writer, results []TestResult, verbose bool) int {
	type ruleSum struct {
		file              string
		tests, fail, skip int
		why               string // the tests were skipped
	}
	sums := map[string]*ruleSum{}
	var order []string
	for _, r := range results {
		if r.Rule == "" {
			fmt.Fprintf(w, "--- FAIL: %s:%d: load\n%s\n", r.File, r.Line, indent(r.Diff))
			continue
		}
		s := sums[r.Rule]
		if s == nil {
			s = &ruleSum{file: r.File}
			sums[r.Rule] = s
			order = append(order, r.Rule)
		}
		s.tests++
		switch {
		case r.Skipped:
			s.skip++
			s.why = r.Diff
			if verbose {
				fmt.Fprintf(w, "--- SKIP: %s/%s (%s:%d)\n%s\n", r.Rule, r.Name, r.File, r.Line, indent(r.Diff))
			}
		case !r.Passed:
			s.fail++
			fmt.Fprintf(w, "--- FAIL: %s/%s (%s:%d)\n%s\n", r.Rule, r.Name, r.File, r.Line, indent(r.Diff))
		case verbose:
			fmt.Fprintf(w, "--- PASS: %s/%s (%s:%d) %d alert(s)\n", r.Rule, r.Name, r.File, r.Line, r.Alerts)
		}
	}
	for _, id := range order {
		s := sums[id]
		if s.skip == s.tests {
			fmt.Fprintf(w, "SKIP\t%s\t%d tests skipped: %s\t%s\n", id, s.tests, s.why, s.file)
		} else if s.fail > 0 {
			fmt.Fprintf(w, "FAIL\t%s\t%d of %d tests failed\t%s\n", id, s.fail, s.tests, s.file)
		} else {
			fmt.Fprintf(w, "ok  \t%s\t%d tests\t%s\n", id, s.tests, s.file)
		}
	}
	sum := SummarizeTests(results)
	if sum.OK() {
		fmt.Fprintf(w, "PASS: %s\n", sum)
	} else {
		fmt.Fprintf(w, "FAIL: %s\n", sum)
	}
	return sum.Failed + sum.LoadErrors
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
