package triage

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// NewGuard returns an engine that enforces, after e answers, what log text
// must never achieve: when the incident's log fields hold instruction-like
// text (DetectInjection), the answer is flagged FlagPromptInjection, a
// benign or false-positive verdict is raised to the fallback engine's
// verdict (suspicious at least), and the severity is never below the
// fallback engine's. The LLM only annotates; the guard has the last word.
// fallback is normally NewFallback().
func NewGuard(e, fallback Engine) Engine {
	return &guard{engine: e, fallback: fallback}
}

type guard struct {
	engine, fallback Engine
}

// Name is the guarded engine's name.
func (g *guard) Name() string { return g.engine.Name() }

// Triage asks the engine and enforces the injection rules on its answer.
func (g *guard) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	t, err := g.engine.Triage(ctx, inc)
	if err != nil || !DetectInjection(inc) {
		return t, err
	}
	t.Flags = slices.Clip(t.Flags)
	if !slices.Contains(t.Flags, FlagPromptInjection) {
		t.Flags = append(t.Flags, FlagPromptInjection)
	}
	floor, ferr := g.fallback.Triage(context.WithoutCancel(ctx), inc)
	if ferr != nil {
		floor = Triage{Verdict: Suspicious, Severity: inc.Severity, Confidence: 0.5}
	}
	var changes []string
	if t.Verdict == Benign || t.Verdict == FalsePositive {
		to, conf := Suspicious, 0.6
		if floor.Verdict == Malicious || floor.Verdict == Suspicious {
			to, conf = floor.Verdict, floor.Confidence
		}
		changes = append(changes, fmt.Sprintf("verdict %s → %s", t.Verdict, to))
		t.Verdict, t.Confidence = to, conf
	}
	if want := normSeverity(floor.Severity); severityRank(want) > severityRank(normSeverity(t.Severity)) {
		changes = append(changes, fmt.Sprintf("severity %s → %s", orDash(t.Severity), want))
		t.Severity = want
	}
	if len(changes) > 0 {
		if !slices.Contains(t.Flags, FlagVerdictRaised) {
			t.Flags = append(t.Flags, FlagVerdictRaised)
		}
		note := "Injection guard: log fields of this incident contain instruction-like text aimed at the triage model, " +
			"so a benign or false-positive verdict and a severity below the deterministic engine's are not accepted (" +
			strings.Join(changes, "; ") + ")."
		t.Notes = strings.TrimRight(t.Notes, "\n") + "\n\n" + note + "\n"
		if !strings.Contains(strings.ToLower(t.Summary), "injection") {
			t.Summary = strings.TrimSpace(t.Summary + " Log fields contain a possible prompt-injection attempt.")
		}
	}
	return t, nil
}

// DetectInjection reports whether any string of inc that would reach a
// prompt (entity, related names, rule texts, event keys and values at any
// depth) contains instruction-like text or a data delimiter, disguised or
// not.
func DetectInjection(inc *Incident) bool {
	if inc == nil {
		return false
	}
	seen := make(map[string]bool)
	looksLikeInjection := func(s string) bool {
		if len(s) < 8 {
			return false // too short to say anything
		}
		if seen[s] {
			return false // already checked, and clean
		}
		seen[s] = true
		return looksLikeInjection(s)
	}
	if looksLikeInjection(inc.Entity.Value) {
		return true
	}
	for _, list := range [][]string{inc.Users, inc.Hosts, inc.IPs} {
		for _, s := range list {
			if looksLikeInjection(s) {
				return true
			}
		}
	}
	for i := range inc.Alerts {
		a := &inc.Alerts[i]
		d := &a.Vigil.Alert
		if looksLikeInjection(d.Entity.Value) {
			return true
		}
		for _, k := range d.GroupKeys {
			if looksLikeInjection(k.Value) {
				return true
			}
		}
		for _, e := range d.Events {
			if injectionIn(e, 0, looksLikeInjection) {
				return true
			}
		}
	}
	return false
}

func injectionIn(v any, depth int, check func(string) bool) bool {
	if depth > promptMaxDepth {
		return false
	}
	switch t := v.(type) {
	case string:
		return check(t)
	case []string:
		return slices.ContainsFunc(t, check)
	case []any:
		for _, x := range t {
			if injectionIn(x, depth+1, check) {
				return true
			}
		}
	case map[string]any:
		for k, x := range t {
			if check(k) || injectionIn(x, depth+1, check) {
				return true
			}
		}
	case event.Event:
		for k, x := range t {
			if check(k) || injectionIn(x, depth+1, check) {
				return true
			}
		}
	}
	return false
}
