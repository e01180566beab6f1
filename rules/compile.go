package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Compiled is a rule with its expressions compiled, ready to run.
type Compiled struct {
	Rule      *Rule
	where     *condition
	match     *condition   // match, threshold and new_terms rules (nil: every event)
	steps     []*condition // sequence rules, one per step
	stages    []int        // sequence stages (steps expanded by count) → step index
	run       int          // sequence: leading stages kept as a run (seqrun.go), 0 for none
	stepKeys  [][]string   // sequence: per step, the rule's by plus the step's by
	until     *condition   // sequence: the expiration event
	untilKeys []string     // sequence: the rule's by plus until's by
	hash      string       // of the rule as written, to tell a changed rule on reload and restore
	require   *requirement // what an event must have to be a candidate (nil: every event)
	gate      *requirement // what an event must have for the rule to act on it (see gate.go)
	// whereIsRequire: the where expression is exactly require (field ==
	// "v" or field in ["v", ...]), so an indexed candidate whose field
	// holds a string has passed it already.
	whereIsRequire bool
	exceptions     []*exception
	threat         []Threat
	risk           int
	threshold      thresholdTest
	warnings       []error
}

// Warnings returns what is suspicious but not wrong in the rule, such as
// field names that are not ECS, each as a *LoadError (file:line).
func (c *Compiled) Warnings() []error { return c.warnings }

type compileError struct {
	key  string
	err  error
	warn bool
}

func compile(r *Rule, e *env) (*Compiled, []compileError) {
	c := &Compiled{Rule: r, threat: threatFromTags(r.Tags), risk: r.RiskScore}
	if c.risk == 0 {
		c.risk = severityRisk[r.Severity]
	}
	var errs []compileError
	fields := func(key string, names ...string) {
		for _, f := range names {
			if msg := checkField(f); msg != "" {
				errs = append(errs, compileError{key: key, err: fmt.Errorf("%s", msg), warn: true})
			}
		}
	}
	try := func(key, src string) *condition {
		if src == "" {
			return nil
		}
		cond, names, err := e.compile(src)
		if err != nil {
			errs = append(errs, compileError{key: key, err: err})
		}
		fields(key, names...)
		for _, w := range expressionWarnings(src) {
			errs = append(errs, compileError{key: key, err: fmt.Errorf("%s", w), warn: true})
		}
		return cond
	}
	c.where = try("where", r.Where)
	c.match = try("condition", r.Condition)
	for i, s := range r.Steps {
		c.steps = append(c.steps, try(fmt.Sprintf("steps[%d].condition", i), s.Condition))
		for range min(max(s.Count, 1), maxStepCount) {
			c.stages = append(c.stages, i)
		}
		c.stepKeys = append(c.stepKeys, append(append([]string{}, r.By...), s.By...))
		fields(fmt.Sprintf("steps[%d].by", i), s.By...)
	}
	c.run = runLength(c)
	if u := r.Until; u != nil {
		c.until = try("until.condition", u.Condition)
		c.untilKeys = append(append([]string{}, r.By...), u.By...)
		fields("until.by", u.By...)
	}
	c.hash = ruleHash(r)
	c.require = ruleRequirement(r)
	c.whereIsRequire = c.where != nil && c.require != nil && whereIsRequirement(r.Where, c.require)
	for i, x := range r.Exceptions {
		if x.Expr != "" {
			c.exceptions = append(c.exceptions, &exception{expr: try(fmt.Sprintf("exceptions[%d].expr", i), x.Expr)})
			continue
		}
		fields(fmt.Sprintf("exceptions[%d].field", i), x.Field)
		c.exceptions = append(c.exceptions, compileFieldException(x))
	}
	fields("by", r.By...)
	if r.Suppress != nil {
		fields("suppress.by", r.Suppress.By...)
	}
	if th := r.Threshold; th != nil {
		if th.Distinct != "" {
			fields("threshold.distinct", th.Distinct)
		}
		c.threshold = newThresholdTest(th)
	}
	if nt := r.NewTerms; nt != nil {
		fields("new_terms.fields", nt.Fields...)
	}
	c.gate = ruleGate(c)
	return c, errs
}

// window is a threshold rule's window, a new_terms rule's history.
func (c *Compiled) window() time.Duration {
	switch {
	case c.Rule.Threshold != nil:
		return time.Duration(c.Rule.Threshold.Window)
	case c.Rule.NewTerms != nil:
		return time.Duration(c.Rule.NewTerms.HistoryWindow)
	}
	return time.Duration(c.Rule.MaxSpan)
}

// ruleHash identifies a rule's content (not where it was read from, nor
// its tests): equal hashes run the same way.
func ruleHash(r *Rule) string {
	cp := *r
	cp.File, cp.Line, cp.Tests = "", 0, nil
	b, err := json.Marshal(&cp)
	if err != nil {
		return "" // never equal to another rule's hash below
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
