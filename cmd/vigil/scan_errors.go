package main

import (
	"fmt"
	"io"
	"sort"

	"github.com/vigil-siem/vigil/scan"
)

// maxErrorRules bounds the rules the scan summary lists evaluation
// errors of.
const maxErrorRules = 20

// printEvalErrors lists, most first, the rules whose expressions failed
// at run time in a scan, with the first error of each: an error is an
// event the rule could not match, so a rule with many looked at the data
// without being able to judge it, which its ALERTS column does not say.
func printEvalErrors(w io.Writer, rules []*scan.RuleSummary) {
	var failing []*scan.RuleSummary
	for _, r := range rules {
		if r.EvalErrors > 0 {
			failing = append(failing, r)
		}
	}
	if len(failing) == 0 {
		return
	}
	sort.SliceStable(failing, func(i, j int) bool {
		if failing[i].EvalErrors != failing[j].EvalErrors {
			return failing[i].EvalErrors > failing[j].EvalErrors
		}
		return failing[i].ID < failing[j].ID
	})
	fmt.Fprintf(w, "%d rules had evaluation errors (each one an event the rule could not match):\n", len(failing))
	for _, r := range failing[:min(len(failing), maxErrorRules)] {
		fmt.Fprintf(w, "  %s: %d, the first: %s\n", r.ID, r.EvalErrors, r.FirstEvalError)
	}
	if more := len(failing) - maxErrorRules; more > 0 {
		fmt.Fprintf(w, "  … and %d more rules\n", more)
	}
}
