package rules

import (
	"strings"
	"testing"
)

// TestEvalErrorsAreCountedPerRule checks that the engine tells which rule
// failed at run time, how often, and with what first message (of the
// expression that failed: the where, a step, an exception), in bounded
// memory however long the message.
func TestEvalErrorsAreCountedPerRule(t *testing.T) {
	src := `id: e.arith
name: arithmetic on a missing field
kind: match
severity: low
condition: source.bytes + 1 > 10
---
id: e.fine
name: no error
kind: match
severity: low
condition: event.outcome == "failure"
---
id: e.step
name: a step that fails
kind: sequence
severity: low
by: [source.ip]
maxspan: 1m
steps:
  - condition: event.outcome == "failure"
  - condition: 'source.port * 2 > 0 && "` + strings.Repeat("x", 400) + `" != ""'
---
id: e.exception
name: an exception that fails
kind: match
severity: low
condition: event.outcome == "failure"
exceptions:
  - expr: 'user.id / 2 == 1'
`
	compiled, errs := Parse("r.yaml", []byte(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e := NewEngine(compiled, EngineConfig{})
	for i := range 3 {
		e.Process(sshEvent(i, t0, "192.0.2.1", "root", "failure"))
	}
	got := e.EvalErrors()
	if _, ok := got["e.fine"]; ok {
		t.Errorf("e.fine has errors: %+v", got["e.fine"])
	}
	want := map[string]string{
		"e.arith":     "invalid operation: <nil> + int (1:14) in `source.bytes + 1 > 10`",
		"e.step":      "invalid operation: <nil> * int",
		"e.exception": "invalid operation: <nil> / int",
	}
	var total int64
	for id, msg := range want {
		x := got[id]
		total += x.Count
		if x.Count != 3 {
			t.Errorf("%s: %d errors, want 3 (one per event)", id, x.Count)
		}
		if !strings.Contains(x.First, msg) {
			t.Errorf("%s: first error %q, want it to contain %q", id, x.First, msg)
		}
		if strings.Contains(x.First, "\n") || len(x.First) > maxErrorText+len("……") {
			t.Errorf("%s: first error not one bounded line (%d bytes): %q", id, len(x.First), x.First)
		}
	}
	if s := e.Stats(); s.EvalErrors != total {
		t.Errorf("Stats.EvalErrors = %d, the rules' errors add up to %d", s.EvalErrors, total)
	}
}
