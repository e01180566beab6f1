package rules

import "fmt"

// Compiled is a rule with its expressions compiled, ready to run.
type Compiled struct {
	Rule   *Rule
	where  *condition
	match  *condition   // match rules
	steps  []*condition // sequence rules, one per step
	stages []int        // sequence stages (steps expanded by count) → step index
	threat []Threat
	risk   int
}

type compileError struct {
	key string
	err error
}

func compile(r *Rule) (*Compiled, []compileError) {
	c := &Compiled{Rule: r, threat: threatFromTags(r.Tags), risk: r.RiskScore}
	if c.risk == 0 {
		c.risk = severityRisk[r.Severity]
	}
	var errs []compileError
	try := func(key, src string) *condition {
		if src == "" {
			return nil
		}
		cond, err := compileCondition(src)
		if err != nil {
			errs = append(errs, compileError{key: key, err: err})
		}
		return cond
	}
	c.where = try("where", r.Where)
	c.match = try("condition", r.Condition)
	for i, s := range r.Steps {
		c.steps = append(c.steps, try(fmt.Sprintf("steps[%d].condition", i), s.Condition))
		for range max(s.Count, 1) {
			c.stages = append(c.stages, i)
		}
	}
	return c, errs
}
