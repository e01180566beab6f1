package rules

import (
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// TestMissingFieldsInBuiltinsAreNotErrors pins the README's promise for
// expr's builtins and indexing: on an event without the field they give
// the answer an empty list, an empty string or nil gives, not a run-time
// error (which would be no match whatever the expression says).
func TestMissingFieldsInBuiltinsAreNotErrors(t *testing.T) {
	ev := event.Event{"event.action": "a"} // none of the fields below
	cases := []struct {
		expr string
		want bool
	}{
		{`none(event.type, {# == "x"})`, true},
		{`all(event.type, {# != "x"})`, true},
		{`any(event.type, {# == "x"})`, false},
		{`!any(event.type, {# == "x"})`, true},
		{`one(event.type, {# == "x"})`, false},
		{`count(event.type, {# == "x"}) == 0`, true},
		{`count(event.type) == 0`, true},
		{`len(filter(event.type, {# == "x"})) == 0`, true},
		{`len(map(event.type, {#})) == 0`, true},
		{`find(event.type, {# == "x"}) == nil`, true},
		{`sum(event.sequence) == 0`, true},
		{`reduce(event.type, #acc + 1, 0) == 0`, true},
		{`event.type | none(# == "x")`, true},
		{`join(process.args, " ") == ""`, true},
		{`len(concat(process.args, ["x"])) == 1`, true},
		{`len(keys(labels.missing)) == 0`, true},
		{`trim(user.name) == ""`, true},
		{`trimPrefix(user.name, "x") == ""`, true},
		{`len(split(user.name, ",")) == 1`, true}, // split("", ",") is [""], as in Go
		{`hasPrefix(user.name, "root")`, false},
		{`!hasSuffix(user.name, "root")`, true},
		{`indexOf(user.name, "x") == -1`, true},
		{`replace(user.name, "a", "b") == ""`, true},
		{`int(source.port) == nil`, true},
		{`int(source.port) > 1024`, false},
		{`float(source.bytes) == nil`, true},
		{`abs(source.bytes) == nil`, true},
		{`date(event.created) == nil`, true},
		{`duration(event.duration) == nil`, true},
		{`event.type[0] == nil`, true},
		{`event.type[-1] == nil`, true},
		{`threat.enrichments[0].indicator == nil`, true},
		{`process.args[1:] == nil`, true},
		{`len(process.args[1:]) == 0`, true},
		{`any(event.type[0], {# == "x"})`, false},
		{`trim(process.args[0]) == ""`, true},
		// The pack's spelling before the rewrite still works.
		{`none(event.type ?? [], {# == "x"})`, true},
	}
	machine := &vm.VM{}
	for _, c := range cases {
		cond, err := compileCondition(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got, err := cond.eval(ev, machine)
		if err != nil {
			t.Errorf("%s: run-time error %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
}

// TestNilSafeBuiltinsKeepTheirMeaning checks that the rewrite changes
// nothing for events that have the fields, and that indexing past the end
// of a list the event has is nil too, while a value of the wrong type is
// still the error it was.
func TestNilSafeBuiltinsKeepTheirMeaning(t *testing.T) {
	ev := event.Event{
		"event.type":         []any{"start", "process_started"},
		"process.args":       []any{"/bin/sh", "-c", "id"},
		"user.name":          "  root ",
		"source.port":        "2222",
		"event.sequence":     []any{1, 2, 3},
		"threat.enrichments": []any{map[string]any{"indicator": map[string]any{"type": "ipv4-addr"}}},
		"labels.env":         map[string]any{"tier": "prod"},
		"event.risk_score":   7.5,
	}
	cases := []struct {
		expr string
		want bool
	}{
		{`any(event.type, {# == "start"})`, true},
		{`none(event.type, {# == "start"})`, false},
		{`all(event.type, {# != "x"})`, true},
		{`count(event.type, {# startsWith "process"}) == 1`, true},
		{`sum(event.sequence) == 6`, true},
		{`join(process.args, " ") == "/bin/sh -c id"`, true},
		{`trim(user.name) == "root"`, true},
		{`hasPrefix(trim(user.name), "ro")`, true},
		{`int(source.port) == 2222`, true},
		{`int(source.port) > 1024`, true},
		{`event.type[0] == "start"`, true},
		{`event.type[-1] == "process_started"`, true},
		{`process.args[5] == nil`, true}, // past the end: nothing there
		{`process.args[1:] == ["-c", "id"]`, true},
		{`threat.enrichments[0].indicator.type == "ipv4-addr"`, true},
		{`threat.enrichments[1].indicator == nil`, true},
		{`keys(labels.env) == ["tier"]`, true},
	}
	machine := &vm.VM{}
	for _, c := range cases {
		cond, err := compileCondition(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got, err := cond.eval(ev, machine)
		if err != nil {
			t.Errorf("%s: run-time error %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
	// A field of the wrong type is not missing: its error is kept, for
	// the engine to count and the engineer to see.
	for _, src := range []string{`all(event.risk_score, {# > 0})`, `trim(event.sequence) == ""`, `event.risk_score[0] == nil`} {
		cond, err := compileCondition(src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if _, err := cond.eval(ev, machine); err == nil {
			t.Errorf("%s: no run-time error, want one (a number is not a list, a string or indexable)", src)
		}
	}
}
