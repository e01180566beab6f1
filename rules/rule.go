package rules

import (
	"fmt"
	"strings"
	"time"
)

// Rule kinds.
const (
	KindMatch    = "match"
	KindSequence = "sequence"
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
	// Condition is the expression of a match rule.
	Condition string `yaml:"condition"`
	// By are the group keys: a sequence's join keys, a match rule's keys.
	// The first one is the alert's entity.
	By []string `yaml:"by"`
	// MaxSpan bounds a sequence, measured from its first event.
	MaxSpan Duration `yaml:"maxspan"`
	Steps   []Step   `yaml:"steps"`

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
}

// Duration is a time.Duration written as "10m" in YAML.
type Duration time.Duration

// UnmarshalText parses "90s", "10m", "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (write e.g. 30s, 10m, 1h)", b)
	}
	*d = Duration(v)
	return nil
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
func (r *Rule) validate() []string {
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
			errs = append(errs, fmt.Sprintf("tags: %q is not an ATT&CK tag (attack.t1110, attack.t1110.001 or attack.credential_access)", tag))
		}
	}
	switch r.Kind {
	case KindMatch:
		if r.Condition == "" {
			errs = append(errs, "condition: a match rule needs a condition")
		}
		if len(r.Steps) > 0 {
			errs = append(errs, "steps: only sequence rules have steps")
		}
	case KindSequence:
		if len(r.Steps) == 0 {
			errs = append(errs, "steps: a sequence rule needs at least one step")
		}
		if len(r.By) == 0 {
			errs = append(errs, "by: a sequence rule needs join keys")
		}
		if r.MaxSpan <= 0 {
			errs = append(errs, "maxspan: a sequence rule needs a maxspan (e.g. 10m)")
		}
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
			total += max(s.Count, 1)
		}
		if total > maxStages {
			errs = append(errs, fmt.Sprintf("steps: %d stages in all (counts included), the most is %d", total, maxStages))
		}
	case "":
		errs = append(errs, "kind: missing (match or sequence)")
	default:
		errs = append(errs, fmt.Sprintf("kind: %q is not match or sequence", r.Kind))
	}
	return errs
}

const (
	maxStepCount = 1000
	maxStages    = 1000
)
