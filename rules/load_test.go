package rules

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// brokenDocuments is a rule file whose documents 2 and 4 are broken YAML
// (a bad indent, an unclosed flow sequence) and 1, 3 and 5 are good.
var brokenDocuments = strings.Join([]string{
	"id: ym.one", // 1
	"name: one",
	"kind: match",
	"severity: low",
	`condition: event.action == "one"`,
	"---",
	"id: ym.two", // 7
	"name: two",
	"kind: match",
	" severity: low", // 10: the bad indent
	`condition: event.action == "two"`,
	"---",
	"# a comment before the document", // 13
	"id: ym.three",
	"name: three",
	"kind: match",
	"severity: low",
	`condition: event.action == "three"`,
	"--- # a document marker with a comment",
	"id: ym.four", // 20
	"name: four",
	"kind: match",
	"severity: low",
	`condition: [event.action == "four"`, // 24: never closed
	"---",
	"id: ym.five", // 26
	"name: five",
	"kind: match",
	"severity: low",
	`condition: event.action == "five"`,
	"tests:",
	"  - name: fires",
	`    events: [{"@timestamp": "2025-01-01T00:00:00Z", event.action: five}]`,
	"    expect: {count: 1}",
}, "\n")

// TestSyntaxErrorLosesOnlyItsDocument: a YAML syntax error in one
// document of a file keeps neither the file's other rules from loading
// nor another broken document from being reported, each at its line in
// the file.
func TestSyntaxErrorLosesOnlyItsDocument(t *testing.T) {
	fsys := fstest.MapFS{"y.yaml": {Data: []byte(brokenDocuments)}}
	for _, opts := range [][]LoadOption{nil, {WithoutTests()}} {
		rules, errs := LoadFS(fsys, ".", opts...)
		var ids []string
		for _, r := range rules {
			ids = append(ids, r.Rule.ID)
		}
		if !slices.Equal(ids, []string{"ym.one", "ym.three", "ym.five"}) {
			t.Errorf("loaded %v, want ym.one, ym.three, ym.five (errors %v)", ids, errs)
		}
		if len(errs) != 2 {
			t.Fatalf("%d errors, want one per broken document: %v", len(errs), errs)
		}
		for i, want := range []struct {
			line   int
			prefix string
		}{{9, "rule ym.two: "}, {24, "rule ym.four: "}} {
			var le *LoadError
			if !errors.As(errs[i], &le) || le.File != "y.yaml" || le.Line != want.line || !strings.HasPrefix(le.Msg, want.prefix) {
				t.Errorf("error %d = %v, want y.yaml:%d: %s…", i, errs[i], want.line, want.prefix)
			}
		}
		// The good rules keep the lines they have in the file.
		if rules[1].Rule.Line != 14 || rules[2].Rule.Line != 26 {
			t.Errorf("ym.three at line %d, ym.five at %d, want 14 and 26", rules[1].Rule.Line, rules[2].Rule.Line)
		}
	}
	// The good document's tests still run.
	if res := RunTests(fsys, "."); len(res) != 3 || !res[2].Passed || res[2].Rule != "ym.five" {
		t.Errorf("tests: %+v", res)
	}
}

// TestSplitDocuments: documents are cut at "---" lines only, comments
// and directives stay with the document they precede, and line numbers
// are the file's.
func TestSplitDocuments(t *testing.T) {
	in := "# header\n%YAML 1.2\n---\na: 1\n---x: not a marker\nb: |\n  text\n--- \r\nc: 3\n---\n"
	var got []string
	for _, d := range splitDocuments([]byte(in)) {
		got = append(got, fmt.Sprintf("%d: %q", d.line, d.text))
	}
	want := []string{
		`1: "# header\n%YAML 1.2\n---\na: 1\n---x: not a marker\nb: |\n  text\n"`,
		`8: "--- \r\nc: 3\n"`,
		`10: "---\n"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("documents:\n got %q\nwant %q", got, want)
	}
}

// TestDecodeErrorsNameRuleKeyAndLine: a value that does not decode is
// reported at its line with the rule's id and its key, not at line 0.
func TestDecodeErrorsNameRuleKeyAndLine(t *testing.T) {
	fsys := fstest.MapFS{"d.yaml": {Data: []byte(strings.Join([]string{
		"id: de.d1", // 1
		"name: d1",
		"kind: sequence",
		"severity: low",
		"by: [source.ip]",
		"maxspan: 5 min", // 6
		"steps:",
		`  - condition: event.action == "a"`,
		"---",
		"id: de.d2", // 10
		"name: d2",
		"kind: match",
		"severity: low",
		`condition: event.action == "a"`,
		"suppress:",
		"  by: [source.ip]",
		"  for: forever", // 17
		"---",
		"id: de.d3", // 19
		"name: d3",
		"kind: sequence",
		"severity: low",
		"by: [source.ip]",
		"maxspan: 10m",
		"steps:",
		`  - condition: event.action == "a"`,
		"    count: many", // 27
	}, "\n"))}}
	want := []string{
		`d.yaml:6: rule de.d1: maxspan: bad duration "5 min" (write a number and a unit, no space: 90s, 10m, 1.5h, 1h30m; the units are ns, us, ms, s, m, h, and d for whole days: 7d)`,
		`d.yaml:17: rule de.d2: suppress.for: bad duration "forever" (`,
		`d.yaml:27: rule de.d3: steps[0].count: want a whole number, got "many"`,
	}
	_, errs := LoadFS(fsys, ".")
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
		}
	}
}

// TestDurationsMustBePositive: a window, maxspan or suppression written
// as 0s or negative is reported as such, not as missing.
func TestDurationsMustBePositive(t *testing.T) {
	rule := func(id, kind, extra string) string {
		return "id: " + id + "\nname: n\nkind: " + kind + "\nseverity: low\nby: [source.ip]\n" + extra + "\n"
	}
	const step = "steps: [{condition: event.action == \"a\"}]\n"
	fsys := fstest.MapFS{"d.yaml": {Data: []byte(strings.Join([]string{
		rule("th.neg", "threshold", "threshold: {window: -5m, gte: 3}"),
		rule("th.zero", "threshold", "threshold: {window: 0s, gte: 3}"),
		rule("th.none", "threshold", "threshold: {gte: 3}"),
		rule("seq.zero", "sequence", "maxspan: 0s\n"+step),
		rule("seq.none", "sequence", step),
		rule("seq.null", "sequence", "maxspan:\n"+step),
		rule("sup.neg", "match", "condition: \"true\"\nsuppress: {by: [source.ip], for: -1h}"),
		rule("nt.neg", "new_terms", "new_terms: {fields: [user.name], history_window: -1h}"),
	}, "---\n"))}}
	want := []string{
		"rule th.neg: threshold.window: must be positive, not -5m0s (e.g. 10m)",
		"rule th.zero: threshold.window: must be positive, not 0s (e.g. 10m)",
		"rule th.none: threshold.window: missing (e.g. 10m)",
		"rule seq.zero: maxspan: must be positive, not 0s (a sequence rule needs one, e.g. 10m)",
		"rule seq.none: maxspan: missing (a sequence rule needs one, e.g. 10m)",
		"rule seq.null: maxspan: missing (a sequence rule needs one, e.g. 10m)",
		"rule sup.neg: suppress.for: must be positive, not -1h0m0s (how long to suppress, e.g. 1h)",
		"rule nt.neg: new_terms.history_window: -1h0m0s is negative",
	}
	_, errs := LoadFS(fsys, ".")
	var got []string
	for _, err := range errs {
		var le *LoadError
		if errors.As(err, &le) {
			got = append(got, le.Msg)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

// TestLoadPath: a single rule file loads as a directory holding just it
// would, errors name files by the path they were found at, and a path
// that does not exist is one error naming it.
func TestLoadPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "y.yaml")
	if err := os.WriteFile(file, []byte(brokenDocuments), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, file} {
		rules, errs := LoadPath(p)
		if len(rules) != 3 || len(errs) != 2 || !strings.HasPrefix(errs[0].Error(), file+":9: rule ym.two: ") {
			t.Errorf("LoadPath(%s): %d rules, errors %v", p, len(rules), errs)
		}
	}
	missing := filepath.Join(dir, "nosuch")
	if rules, errs := LoadPath(missing); len(rules) != 0 || len(errs) != 1 || errs[0].Error() != missing+": no such file or directory" {
		t.Errorf("LoadPath(%s): %d rules, errors %q", missing, len(rules), errs)
	}
	notRules := filepath.Join(dir, "events.json")
	os.WriteFile(notRules, []byte("{}"), 0o600)
	if _, errs := LoadPath(notRules); len(errs) != 1 || errs[0].Error() != notRules+": not a rule file (*.yaml or *.yml)" {
		t.Errorf("LoadPath(%s): errors %q", notRules, errs)
	}
}

// A Sigma rule given to Vigil is named as such, not only as its first
// unknown key.
func TestSigmaRuleIsRecognised(t *testing.T) {
	sigma := `title: Suspicious SSH message
id: e76b413a-83d0-4b94-8e4c-85db4a5b8bdc
status: test
logsource:
  product: linux
  service: sshd
detection:
  keywords:
    - 'unexpected internal error'
  condition: keywords
level: medium
`
	_, errs := Parse("sigma.yml", []byte(sigma))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "this is a Sigma rule") {
		t.Fatalf("errors %v, want one saying it is a Sigma rule", errs)
	}
}
