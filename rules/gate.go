package rules

import (
	"slices"

	"github.com/vigil-siem/vigil/event"
)

// The rule index picks candidates by one requirement per rule, usually
// event.dataset: an sshd event is a candidate of every rule about
// system.auth, and each of them then reads its condition's fields to find
// that the event is not the kind it wants ("Received disconnect" is no
// login, no sudo, no useradd). A rule's gate is a second requirement,
// taken from what the rule's conditions need (usually event.action), that
// must hold for the rule to do anything with an event at all. The index
// checks each gate field once per event for all the rules gated on it, so
// an event no rule wants costs a couple of field reads, not a few per
// candidate rule.
//
// A gate leaves out only events that evalRule would drop with no effect
// (no alert, no state, no counter): the rule's where is its index
// requirement or absent (so skipping it skips no expression that could
// fail), and for a sequence there are no exceptions (evaluated, and
// counted, before its steps).

// ruleGate returns the rule's gate, nil when it has none.
func ruleGate(c *Compiled) *requirement {
	if c.where != nil && !c.whereIsRequire {
		return nil
	}
	var conds []*condition
	switch c.Rule.Kind {
	case KindMatch, KindThreshold, KindNewTerms:
		conds = []*condition{c.match}
	case KindSequence:
		if len(c.exceptions) > 0 || len(c.steps) == 0 {
			return nil
		}
		conds = append(conds, c.steps...)
		if c.Rule.Until != nil {
			conds = append(conds, c.until)
		}
	default:
		return nil
	}
	for _, cond := range conds {
		if cond == nil {
			return nil
		}
	}
	// A field every condition needs, the most selective kind first; its
	// values are the union of what the conditions accept.
	fields := make([]string, 0, len(conds[0].needs))
	for _, q := range conds[0].needs {
		fields = append(fields, q.field)
	}
	rank := func(f string) int {
		if i := slices.Index(indexPreference, f); i >= 0 {
			return i
		}
		return len(indexPreference)
	}
	slices.SortStableFunc(fields, func(a, b string) int { return rank(a) - rank(b) })
next:
	for _, f := range fields {
		var values []string
		for _, cond := range conds {
			i := slices.IndexFunc(cond.needs, func(q requirement) bool { return q.field == f })
			if i < 0 {
				continue next
			}
			for _, v := range cond.needs[i].values {
				if !slices.Contains(values, v) {
					values = append(values, v)
				}
			}
		}
		return &requirement{field: f, values: values}
	}
	return nil
}

// gateIndex holds the gates of an engine's rules, grouped by field.
type gateIndex struct {
	fields  []string
	gated   [][]uint64         // per field: bitset of the rules gated on it
	byValue []map[string][]int // per field: value → rule positions
	allow   []uint64           // scratch bitset
}

func newGateIndex(rules []*Compiled, words int) *gateIndex {
	g := &gateIndex{allow: make([]uint64, words)}
	for i, c := range rules {
		q := c.gate
		if q == nil {
			continue
		}
		f := slices.Index(g.fields, q.field)
		if f < 0 {
			f = len(g.fields)
			g.fields = append(g.fields, q.field)
			g.gated = append(g.gated, make([]uint64, words))
			g.byValue = append(g.byValue, map[string][]int{})
		}
		g.gated[f][i/64] |= 1 << (i % 64)
		for _, v := range q.values {
			g.byValue[f][v] = append(g.byValue[f][v], i)
		}
	}
	return g
}

// filter clears from set the rules whose gate the event fails, with the
// semantics of requirement.mayHold.
func (g *gateIndex) filter(ev event.Event, set []uint64) {
	for f, field := range g.fields {
		if !overlaps(set, g.gated[f]) {
			continue // no candidate is gated on this field: do not read it
		}
		clear(g.allow)
		switch v := ev[field].(type) {
		case nil:
		case string:
			g.mark(g.byValue[f][v])
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					g.mark(g.byValue[f][s])
				}
			}
		case []string:
			for _, s := range v {
				g.mark(g.byValue[f][s])
			}
		default:
			continue // a value of another type may hold: keep them all
		}
		for w := range set {
			set[w] &^= g.gated[f][w] &^ g.allow[w]
		}
	}
}

func (g *gateIndex) mark(rules []int) {
	for _, i := range rules {
		g.allow[i/64] |= 1 << (i % 64)
	}
}

// overlaps reports whether two bitsets share a rule.
func overlaps(a, b []uint64) bool {
	for w := range a {
		if a[w]&b[w] != 0 {
			return true
		}
	}
	return false
}

// anyRule reports whether the bitset has a rule.
func anyRule(set []uint64) bool {
	for _, w := range set {
		if w != 0 {
			return true
		}
	}
	return false
}
