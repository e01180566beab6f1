package rules

import (
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// TestWithoutTestsReadsTheSameRules: blanking the tests: sections out
// before decoding gives every rule of the pack as decoding the whole file
// does, on the same lines, with no tests.
func TestWithoutTestsReadsTheSameRules(t *testing.T) {
	files, err := ruleFiles(Pack(), ".")
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, f := range files {
		data, err := fs.ReadFile(Pack(), f)
		if err != nil {
			t.Fatal(err)
		}
		whole, lean := decodeYAML(f, data), decodeFile(f, data, true)
		if len(whole.docs) != len(lean.docs) || len(lean.errs) > 0 {
			t.Fatalf("%s: %d documents whole, %d without tests (errors %v)", f, len(whole.docs), len(lean.docs), lean.errs)
		}
		for i, w := range whole.docs {
			l := lean.docs[i]
			if w.err != nil || l.err != nil {
				t.Fatalf("%s: document %d: %v / %v", f, i, w.err, l.err)
			}
			if l.rule.Tests != nil {
				t.Errorf("%s: rule %s kept its tests", f, l.rule.ID)
			}
			want := *w.rule
			want.Tests = nil
			if !reflect.DeepEqual(*l.rule, want) || l.line != w.line {
				t.Errorf("%s: rule %s differs without its tests:\n got %+v (line %d)\nwant %+v (line %d)", f, w.rule.ID, *l.rule, l.line, want, w.line)
			}
			rules++
		}
	}
	if rules < 40 {
		t.Fatalf("only %d rules compared", rules)
	}
}

// TestBlankTests covers the shapes a tests: value takes, and that the
// lines of everything else stay where they were.
func TestBlankTests(t *testing.T) {
	in := strings.Join([]string{
		"id: a",
		"tests:",
		"- name: compact list at the key's indentation",
		"  events:",
		"    - {message: \"tests: not a key here\"}",
		"",
		"# a comment inside",
		"  - name: indented",
		"severity: low",
		"tests: [] # flow",
		"---",
		"id: b",
		"tests:\r",
		"  - x\r",
		"name: after CRLF\r",
		"tests_not_this: 1",
		"",
	}, "\n")
	want := strings.Join([]string{
		"id: a", "", "", "", "", "", "", "",
		"severity: low", "",
		"---",
		"id: b", "", "",
		"name: after CRLF\r",
		"tests_not_this: 1",
		"",
	}, "\n")
	if got := string(blankTests([]byte(in))); got != want {
		t.Errorf("blankTests:\n%q\nwant\n%q", got, want)
	}
}

// TestWithoutTestsKeepsErrorLines: a rule file whose rules have problems
// reports them on the same lines with or without its tests, and one that
// does not decode without its tests is decoded whole.
func TestWithoutTestsKeepsErrorLines(t *testing.T) {
	for name, src := range map[string]string{
		"a bad rule after tests":        "id: a\nname: A\nkind: match\nseverity: low\nrisk_score: 10\ncondition: 'true'\ntests:\n  - name: t\n    events: [{}]\n    expect: {count: 1}\n---\nid: b\nname: B\nkind: match\nseverity: extreme\nrisk_score: 10\ncondition: 'true'\n",
		"broken YAML outside the tests": "id: a\nname: [\ntests:\n  - name: t\nseverity: low\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, whole := Parse("r.yaml", []byte(src))
			_, lean := Parse("r.yaml", []byte(src), WithoutTests())
			if len(whole) == 0 {
				t.Fatal("no error whole: the case tests nothing")
			}
			if !reflect.DeepEqual(errTexts(whole), errTexts(lean)) {
				t.Errorf("errors differ:\nwhole %v\n lean %v", errTexts(whole), errTexts(lean))
			}
		})
	}
}

// TestWithoutTestsIgnoresBrokenTests: the tests are not read at all when
// rules only run, so a mistake in them (which lint and rules test report)
// does not keep the rule from running.
func TestWithoutTestsIgnoresBrokenTests(t *testing.T) {
	src := "id: a\nname: A\nkind: match\nseverity: low\nrisk_score: 10\ncondition: 'true'\ntests:\n  - name: [\n"
	if _, errs := Parse("r.yaml", []byte(src)); len(errs) == 0 {
		t.Fatal("the broken tests decode: the case tests nothing")
	}
	rs, errs := Parse("r.yaml", []byte(src), WithoutTests())
	if len(errs) > 0 || len(rs) != 1 {
		t.Fatalf("without tests: %d rules, errors %v; want the rule", len(rs), errs)
	}
}

func errTexts(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
