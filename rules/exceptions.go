package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/vigil-siem/vigil/event"
)

// Exception leaves out of a rule the events it matches: either an
// expression (Expr), or a field whose value is one of Values (exact
// string match; a value written as a CIDR matches the addresses inside
// it; an array field matches when any element does). An excepted event
// does not take part in the rule at all: it raises no match, does not
// count towards a threshold, does not advance a sequence and is not
// learnt by new_terms.
type Exception struct {
	Field  string `yaml:"field"`
	Values []any  `yaml:"values"`
	Expr   string `yaml:"expr"`
}

// Exceptions is a rule's list of exceptions. In YAML it is a list of
// {field, values} and {expr} items, or one expression as a string.
type Exceptions []Exception

// UnmarshalYAML reads either an expression string or a list of items.
func (x *Exceptions) UnmarshalYAML(b []byte) error {
	var s string
	if err := yaml.Unmarshal(b, &s); err == nil {
		if strings.TrimSpace(s) != "" {
			*x = Exceptions{{Expr: s}}
		}
		return nil
	}
	var items []Exception
	if err := yaml.UnmarshalWithOptions(b, &items, yaml.Strict()); err != nil {
		return fmt.Errorf("exceptions: write an expression, or a list of {field, values} and {expr} items: %s", firstLine(err.Error()))
	}
	*x = items
	return nil
}

func (x Exceptions) validate() []string {
	var errs []string
	for i, e := range x {
		switch {
		case e.Expr != "" && (e.Field != "" || len(e.Values) > 0):
			errs = append(errs, fmt.Sprintf("exceptions[%d]: either expr, or field and values, not both", i))
		case e.Expr == "" && (e.Field == "" || len(e.Values) == 0):
			errs = append(errs, fmt.Sprintf("exceptions[%d]: needs expr, or field and values", i))
		}
	}
	return errs
}

// exception is a compiled Exception.
type exception struct {
	field  string
	values *valueList
	expr   *condition
}

func compileFieldException(e Exception) *exception {
	l := &valueList{values: map[string]bool{}}
	for _, v := range e.Values {
		s := KeyValue(v)
		if strings.Contains(s, "/") {
			if p, err := netip.ParsePrefix(s); err == nil {
				l.networks = append(l.networks, p.Masked())
				continue
			}
		}
		l.values[s] = true
	}
	return &exception{field: e.Field, values: l}
}

// excepted says whether any exception of the rule matches the event.
func (e *Engine) excepted(c *Compiled, ev event.Event) bool {
	if len(c.exceptions) == 0 {
		return false
	}
	if c.matchesException(e, ev) {
		e.stats.Excepted++
		return true
	}
	return false
}

func (c *Compiled) matchesException(e *Engine, ev event.Event) bool {
	for _, x := range c.exceptions {
		if x.expr != nil {
			if e.eval(x.expr, ev) {
				return true
			}
			continue
		}
		switch v := ev.Get(x.field).(type) {
		case nil:
		case []any:
			for _, item := range v {
				if x.values.contains(KeyValue(item)) {
					return true
				}
			}
		default:
			if x.values.contains(KeyValue(v)) {
				return true
			}
		}
	}
	return false
}
