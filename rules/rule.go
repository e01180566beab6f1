package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Rule kinds.
const (
	KindMatch     = "match"
	KindSequence  = "sequence"
	KindThreshold = "threshold"
	KindNewTerms  = "new_terms"
)

// Rule is one detection as written in a rule file.
type Rule struct {
	ID          string   `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Kind        string   `yaml:"kind"`
	Severity    string   `yaml:"severity"`
	RiskScore   int      `yaml:"risk_score"`
	Tags        []string `yaml:"tags"`
	References  []string `yaml:"references"`
	Version     int      `yaml:"version"`
	Enabled     *bool    `yaml:"enabled"`
	// Where filters the events a rule looks at at all (expr).
	Where string `yaml:"where"`
	// Exceptions leave out the events they match (see Exception).
	Exceptions Exceptions `yaml:"exceptions"`
	// Condition is the expression of a match rule; threshold and new_terms
	// rules count or learn the events it matches (all when empty).
	Condition string `yaml:"condition"`
	// By are the group keys: a sequence's join keys, a match rule's keys.
	// The first one is the alert's entity.
	By []string `yaml:"by"`
	// MaxSpan bounds a sequence, measured from its first event.
	MaxSpan Duration `yaml:"maxspan"`
	Steps   []Step   `yaml:"steps"`
	// Until ends a sequence's pending matches: an event it matches discards
	// the partial matches of its key (EQL's until).
	Until *Until `yaml:"until"`
	// Threshold configures a threshold rule.
	Threshold *Threshold `yaml:"threshold"`
	// NewTerms configures a new_terms rule.
	NewTerms *NewTerms `yaml:"new_terms"`
	// Suppress keeps one alert per key per window.
	Suppress *Suppress `yaml:"suppress"`
	// Tests are the rule's own tests, run by RunTests.
	Tests []RuleTest `yaml:"tests"`

	// File and Line say where the rule was read from.
	File string `yaml:"-"`
	Line int    `yaml:"-"`
}

// Step is one stage of a sequence rule.
type Step struct {
	Name      string `yaml:"name"`
	Condition string `yaml:"condition"`
	// Count is how many matching events the step needs (EQL runs), default 1.
	Count int `yaml:"count"`
	// By are the step's own join keys, appended to the rule's by and
	// matched by position across steps (EQL's [a] by x [b] by y): every
	// step of a rule has the same number of them, or none has any.
	By []string `yaml:"by"`
	// Missing makes the step an absence: the sequence matches only if no
	// event matches it between the previous step and the next one, or,
	// for a last step, within maxspan of the first event (decided when the
	// watermark passes first + maxspan).
	Missing bool `yaml:"missing"`
}

// Until is a sequence's expiration event: one that matches Condition
// discards the pending partial matches of its key. By are its own join
// keys, like a step's.
type Until struct {
	Condition string   `yaml:"condition"`
	By        []string `yaml:"by"`
}

// Threshold is a threshold rule's window and condition: the number of
// matching events (or of distinct values of a field) per by key within a
// sliding window. Exactly one of Gt, Gte, Eq, Lt is set.
type Threshold struct {
	Window   Duration `yaml:"window"`
	Distinct string   `yaml:"distinct"`
	Gt       *int     `yaml:"gt"`
	Gte      *int     `yaml:"gte"`
	Eq       *int     `yaml:"eq"`
	Lt       *int     `yaml:"lt"`
}

// NewTerms is a new_terms rule's term: the value (or tuple of values) of
// Fields, per by key, not seen within HistoryWindow.
type NewTerms struct {
	Fields        []string `yaml:"fields"`
	HistoryWindow Duration `yaml:"history_window"`
	// LearnFor is how long after the first event the rule sees it only
	// learns, without alerting.
	LearnFor Duration `yaml:"learn_for"`
	// MaxKeys bounds the remembered terms (least recently seen evicted).
	MaxKeys int `yaml:"max_keys"`
}

// Suppress keeps the first alert of each key and counts the others raised
// within For of it (vigil.alert.suppressed_count).
type Suppress struct {
	By  []string `yaml:"by"`
	For Duration `yaml:"for"`
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// durationSyntax says how to write a Duration, for the errors.
const durationSyntax = "write a number and a unit, no space: 90s, 10m, 1.5h, 1h30m; the units are ns, us, ms, s, m, h, and d for whole days: 7d"

// UnmarshalYAML reads the duration from its node as UnmarshalText does.
// The node gives the scalar as written (a TextUnmarshaler is handed the
// node re-formatted as text, which costs about a millisecond per value)
// and its path and line, so a bad value is reported at its key.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	var err error
	switch n := node.(type) {
	case *ast.StringNode:
		err = d.UnmarshalText([]byte(n.Value))
	case ast.ScalarNode: // 0, 10 (no unit), 1.5
		err = d.UnmarshalText([]byte(n.GetToken().Value))
	default:
		err = fmt.Errorf("bad duration: a %s, not a scalar (%s)", strings.ToLower(node.Type().String()), durationSyntax)
	}
	if err != nil {
		return &valueError{path: node.GetPath(), line: node.GetToken().Position.Line, err: err}
	}
	return nil
}

// UnmarshalText parses Go durations ("90s", "10m", "1h30m") and whole
// days ("7d", at most ten years).
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return fmt.Errorf("bad duration %q (%s, at most 3650d)", b, durationSyntax)
		}
		*d = Duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q (%s)", b, durationSyntax)
	}
	*d = Duration(v)
	return nil
}

// String renders the duration as Go does ("10m0s").
func (d Duration) String() string { return time.Duration(d).String() }

// IsStateful says whether the rule keeps state across events (sequence,
// threshold, new_terms), and so needs a positive and a negative test.
func (r *Rule) IsStateful() bool {
	return r.Kind == KindSequence || r.Kind == KindThreshold || r.Kind == KindNewTerms
}

// Severities in ascending order, with their default risk scores.
var severityRisk = map[string]int{"low": 21, "medium": 47, "high": 73, "critical": 99}

// SeverityRank orders severities: low 1 … critical 4, unknown 0.
func SeverityRank(s string) int {
	switch s {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 0
}

// IsEnabled says whether the rule runs (rules are enabled unless they say not).
func (r *Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// validate checks what the YAML schema cannot; each problem names the key.
// written says whether the rule file has a key (threshold.window), to
// tell a missing duration from one written as 0s.
func (r *Rule) validate(written func(key string) bool) []string {
	var errs []string
	if r.ID == "" {
		errs = append(errs, "id: missing")
	}
	if r.Name == "" {
		errs = append(errs, "name: missing")
	}
	if _, ok := severityRisk[r.Severity]; !ok {
		errs = append(errs, fmt.Sprintf("severity: %q is not one of low, medium, high, critical", r.Severity))
	}
	if r.RiskScore < 0 || r.RiskScore > 100 {
		errs = append(errs, fmt.Sprintf("risk_score: %d is outside 0-100", r.RiskScore))
	}
	for _, tag := range r.Tags {
		if strings.HasPrefix(tag, "attack.") && !validAttackTag(tag) {
			errs = append(errs, "tags: "+attackTagProblem(tag))
		}
	}
	if r.Kind != KindSequence && len(r.Steps) > 0 {
		errs = append(errs, "steps: only sequence rules have steps")
	}
	if r.Kind != KindSequence && r.Until != nil {
		errs = append(errs, "until: only sequence rules have until")
	}
	if r.Kind != KindSequence && r.MaxSpan != 0 {
		errs = append(errs, "maxspan: only sequence rules have a maxspan")
	}
	if r.Kind != KindThreshold && r.Threshold != nil {
		errs = append(errs, "threshold: only threshold rules have a threshold")
	}
	if r.Kind != KindNewTerms && r.NewTerms != nil {
		errs = append(errs, "new_terms: only new_terms rules have new_terms")
	}
	errs = append(errs, r.Exceptions.validate()...)
	if s := r.Suppress; s != nil {
		if len(s.By) == 0 {
			errs = append(errs, "suppress.by: missing (the keys to keep one alert per)")
		}
		errs = append(errs, positiveDuration("suppress.for", s.For, written, "how long to suppress, e.g. 1h")...)
	}
	for i, t := range r.Tests {
		errs = append(errs, t.validate(i)...)
	}
	switch r.Kind {
	case KindMatch:
		if r.Condition == "" {
			errs = append(errs, "condition: a match rule needs a condition")
		}
	case KindThreshold:
		errs = append(errs, r.validateThreshold(written)...)
	case KindNewTerms:
		errs = append(errs, r.validateNewTerms()...)
	case KindSequence:
		if len(r.Steps) == 0 {
			errs = append(errs, "steps: a sequence rule needs at least one step")
		}
		errs = append(errs, r.validateSequenceKeys()...)
		errs = append(errs, positiveDuration("maxspan", r.MaxSpan, written, "a sequence rule needs one, e.g. 10m")...)
		if r.Condition != "" {
			errs = append(errs, "condition: a sequence rule has steps, not a condition")
		}
		total := 0
		for i, s := range r.Steps {
			if s.Condition == "" {
				errs = append(errs, fmt.Sprintf("steps[%d].condition: missing", i))
			}
			if s.Count < 0 || s.Count > maxStepCount {
				errs = append(errs, fmt.Sprintf("steps[%d].count: %d is outside 1-%d", i, s.Count, maxStepCount))
			}
			if s.Missing {
				switch {
				case i == 0:
					errs = append(errs, "steps[0].missing: the first step cannot be missing (nothing to measure the absence from)")
				case r.Steps[i-1].Missing:
					errs = append(errs, fmt.Sprintf("steps[%d].missing: two missing steps in a row; write one step whose condition covers both", i))
				case s.Count > 1:
					errs = append(errs, fmt.Sprintf("steps[%d].count: a missing step has no count", i))
				}
			}
			total += max(s.Count, 1)
		}
		if total > maxStages {
			errs = append(errs, fmt.Sprintf("steps: %d stages in all (counts included), the most is %d", total, maxStages))
		}
	case "":
		errs = append(errs, "kind: missing (match, threshold, sequence or new_terms)")
	default:
		errs = append(errs, fmt.Sprintf("kind: %q is not match, threshold, sequence or new_terms", r.Kind))
	}
	return errs
}

// validateSequenceKeys checks a sequence's join keys: the rule's by, plus
// per-step (and until) keys of the same length in every step.
func (r *Rule) validateSequenceKeys() []string {
	var errs []string
	n := -1
	for i, s := range r.Steps {
		if n >= 0 && len(s.By) != n {
			errs = append(errs, fmt.Sprintf("steps[%d].by: %d keys, but steps[0].by has %d (per-step keys are matched by position)", i, len(s.By), n))
		}
		if n < 0 {
			n = len(s.By)
		}
	}
	if len(r.By) == 0 && n <= 0 {
		errs = append(errs, "by: a sequence rule needs join keys (by, or by on every step)")
	}
	if u := r.Until; u != nil {
		if u.Condition == "" {
			errs = append(errs, "until.condition: missing")
		}
		if n >= 0 && len(u.By) != n {
			errs = append(errs, fmt.Sprintf("until.by: %d keys, but the steps have %d each (matched by position)", len(u.By), n))
		}
	}
	return errs
}

func (r *Rule) validateThreshold(written func(key string) bool) []string {
	th := r.Threshold
	if th == nil {
		return []string{"threshold: a threshold rule needs threshold: {window: 10m, gte: 10}"}
	}
	var errs []string
	errs = append(errs, positiveDuration("threshold.window", th.Window, written, "e.g. 10m")...)
	set := 0
	for _, c := range []struct {
		key string
		v   *int
		min int
	}{{"gt", th.Gt, 0}, {"gte", th.Gte, 1}, {"eq", th.Eq, 1}, {"lt", th.Lt, 2}} {
		if c.v == nil {
			continue
		}
		set++
		if *c.v < c.min {
			errs = append(errs, fmt.Sprintf("threshold.%s: %d is below %d", c.key, *c.v, c.min))
		}
	}
	if set != 1 {
		errs = append(errs, "threshold: needs exactly one of gt, gte, eq, lt")
	}
	return errs
}

func (r *Rule) validateNewTerms() []string {
	nt := r.NewTerms
	if nt == nil {
		return []string{"new_terms: a new_terms rule needs new_terms: {fields: [...], history_window: 7d}"}
	}
	var errs []string
	if len(nt.Fields) == 0 {
		errs = append(errs, "new_terms.fields: missing (the fields whose values are the term)")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"new_terms.history_window", nt.HistoryWindow}, {"new_terms.learn_for", nt.LearnFor}} {
		if d.v < 0 {
			errs = append(errs, fmt.Sprintf("%s: %s is negative", d.key, d.v))
		}
	}
	if nt.MaxKeys < 0 {
		errs = append(errs, fmt.Sprintf("new_terms.max_keys: %d is negative", nt.MaxKeys))
	}
	return errs
}

// positiveDuration checks a duration the rule needs: a key not written
// is missing, one written as 0s or less is not positive.
func positiveDuration(key string, d Duration, written func(key string) bool, hint string) []string {
	switch {
	case d > 0:
		return nil
	case !written(key):
		return []string{fmt.Sprintf("%s: missing (%s)", key, hint)}
	}
	return []string{fmt.Sprintf("%s: must be positive, not %s (%s)", key, d, hint)}
}

const (
	maxStepCount = 1000
	maxStages    = 1000
)
