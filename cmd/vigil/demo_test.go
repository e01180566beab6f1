package main

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/triage"
)

// The demo's summary says how many incidents the LLM judged and how many
// fell back, and why: a wrong key must not pass for the LLM's verdicts.
func TestDemoFallbackLine(t *testing.T) {
	res := &pipeline.DemoResult{Verdicts: make([]triage.Verdict, 3)}
	if got := demoFallbackLine(res); got != "the LLM judged all 3 incident(s)" {
		t.Errorf("no fallback: %q", got)
	}
	res.Fallbacks = map[string]int{
		triage.FallbackReason([]string{triage.FlagLLMFailed, triage.FlagLLMAuth}):     2,
		triage.FallbackReason([]string{triage.FlagLLMFailed, triage.FlagCircuitOpen}): 1,
	}
	got := demoFallbackLine(res)
	for _, want := range []string{"the LLM judged 0 of 3 incident(s); 3 fell back", "refused the key (HTTP 401/403): check OPENAI_API_KEY ×2",
		"circuit breaker is open after repeated LLM failures ×1"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
