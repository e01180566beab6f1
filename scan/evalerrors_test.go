package scan_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// A rule that fails at run time is told apart in the summary from one
// that found nothing: its number of errors and the first message, added
// up over the engines sharing the rules.
func TestScanSummaryCountsEvalErrorsPerRule(t *testing.T) {
	compiled, errs := rules.Parse("r.yaml", []byte(`id: s.arith
name: arithmetic on a missing field
kind: match
severity: low
condition: source.bytes + 1 > 10
---
id: s.fine
name: no error
kind: match
severity: low
condition: event.action == "a"
---
id: s.other
name: another
kind: match
severity: low
condition: source.port * 2 > 10
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	p, err := collectors.NewParser("jsonlines", collectors.ParserConfig{Reference: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Repeat(`{"@timestamp":"2025-01-01T00:00:00Z","event":{"action":"a"}}`+"\n", 5)
	for _, workers := range []int{1, 3} {
		sum, err := scan.Run(context.Background(), []scan.Input{{Name: "ev.json", Reader: strings.NewReader(lines), Parser: p}},
			scan.Options{Rules: compiled, Workers: workers}, func(rules.Alert) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*scan.RuleSummary{}
		for _, r := range sum.Rules {
			got[r.ID] = r
		}
		for id, msg := range map[string]string{"s.arith": "<nil> + int", "s.other": "<nil> * int"} {
			if r := got[id]; r.EvalErrors != 5 || !strings.Contains(r.FirstEvalError, msg) {
				t.Errorf("%d workers: %s: %d errors, first %q; want 5, the first about %s", workers, id, r.EvalErrors, r.FirstEvalError, msg)
			}
		}
		if r := got["s.fine"]; r.EvalErrors != 0 || r.FirstEvalError != "" || r.Alerts != 5 {
			t.Errorf("%d workers: s.fine: %+v", workers, r)
		}
	}
}
