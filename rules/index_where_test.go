package rules

import "testing"

// TestWhereIsRequirement: only a where that is exactly the index
// requirement may be skipped for an indexed candidate.
func TestWhereIsRequirement(t *testing.T) {
	for _, c := range []struct {
		where string
		want  bool
	}{
		{`event.dataset == "system.auth"`, true},
		{`event.dataset in ["apache.access", "nginx.access"]`, true},
		{`event.module == "windows"`, true},
		{`event.dataset == "system.auth" && event.outcome == "failure"`, false},
		{`event.dataset != "system.auth"`, false},
		{`"system.auth" == event.dataset`, false},
		{`event.dataset in ["a", x]`, false},
		{`event.dataset == "a" || event.dataset == "b"`, false},
	} {
		r := &Rule{Kind: KindMatch, Where: c.where}
		req := ruleRequirement(r)
		got := req != nil && whereIsRequirement(c.where, req)
		if got != c.want {
			t.Errorf("%s: got %v, want %v", c.where, got, c.want)
		}
	}
}

// TestIndexedWhereOnArrayField: an event whose indexed field is an array
// is a candidate of the index but must still run where (== on an array
// is false), so skipping where never changes a match.
func TestIndexedWhereOnArrayField(t *testing.T) {
	r := parseRule(t, `id: t.where
name: Where
kind: match
severity: low
where: event.dataset == "system.auth"
condition: event.outcome == "failure"
`)
	for _, c := range []struct {
		dataset any
		want    int
	}{
		{"system.auth", 1},
		{[]any{"system.auth"}, 0},
		{"nginx.access", 0},
	} {
		for _, noIndex := range []bool{false, true} {
			e := NewEngine([]*Compiled{r}, EngineConfig{NoIndex: noIndex})
			got := e.Process(map[string]any{"event.dataset": c.dataset, "event.outcome": "failure"})
			if len(got) != c.want {
				t.Errorf("dataset %v, noIndex %v: %d alerts, want %d", c.dataset, noIndex, len(got), c.want)
			}
		}
	}
}
