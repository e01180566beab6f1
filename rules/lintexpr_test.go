package rules

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Lint warns about expressions that load but cannot be what was meant:
// == or != between an ECS list field and one value, and a condition that
// is a bare field; the right forms raise nothing.
func TestLintWarnsAboutListComparisonsAndBareFields(t *testing.T) {
	rule := func(id, cond string) string {
		return "id: " + id + "\nname: " + id + "\nkind: match\nseverity: low\ncondition: '" + cond + "'\n"
	}
	fsys := fstest.MapFS{"r.yaml": {Data: []byte(strings.Join([]string{
		rule("t.eq", `event.category == "authentication" && event.outcome == "failure"`),
		rule("t.ne", `"root" != related.user`),
		rule("t.bare", `source.ip`),
		rule("t.in", `"authentication" in event.category && not ("root" in related.user)`),
		rule("t.scalar", `user.name == "root" && source.ip != nil`),
	}, "---\n"))}}
	want := map[string]string{
		"t.eq":   `event.category is a list in ECS (event.category == "authentication" is false when the event holds ["authentication"]): write "authentication" in event.category`,
		"t.ne":   `related.user is a list in ECS (related.user != "root" is true when the event holds ["root"]): write not ("root" in related.user)`,
		"t.bare": `the expression is the field source.ip, not a test`,
	}
	got := map[string]string{}
	for _, f := range Lint(fsys, ".") {
		if f.Severity != SeverityWarning {
			t.Errorf("unexpected error: %s", f)
			continue
		}
		id, msg, _ := strings.Cut(strings.TrimPrefix(f.Msg, "rule "), ": condition: ")
		got[id] = msg
	}
	for id, w := range want {
		if !strings.HasPrefix(got[id], w) {
			t.Errorf("%s: warning %q, want one starting %q", id, got[id], w)
		}
	}
	for _, id := range []string{"t.in", "t.scalar"} {
		if got[id] != "" {
			t.Errorf("%s: warned %q about a right expression", id, got[id])
		}
	}
}
