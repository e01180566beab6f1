package rules

import (
	"math/bits"
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/vigil-siem/vigil/event"
)

// Rules are indexed by what they require of an event: an equality of a
// field with a string constant (event.dataset == "system.auth"), an in
// list of string constants (event.action in ["a", "b"]), a constant in an
// array field ('authentication' in event.category), found in the where
// expression (and, for match, threshold and new_terms rules, in the
// condition) as a conjunct, or on the same field on both sides of an or.
// An event is evaluated only against the rules whose requirement its
// field satisfies (an array field by any element) and the rules that
// have none. A requirement is only ever a necessary condition, so the
// index never changes what a rule matches.

// requirement is one field that must hold one of values.
type requirement struct {
	field  string
	values []string
}

// mayHold says whether ev can meet the requirement: false only when the
// field is absent, a string that is not one of the values, or an array
// none of whose elements is; any other value is left to the expression.
func (q *requirement) mayHold(ev event.Event) bool {
	switch v := ev[q.field].(type) {
	case nil:
		return false
	case string:
		return slices.Contains(q.values, v)
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && slices.Contains(q.values, s) {
				return true
			}
		}
		return false
	case []string:
		for _, s := range v {
			if slices.Contains(q.values, s) {
				return true
			}
		}
		return false
	}
	return true
}

// indexPreference orders the fields a rule is indexed by, most selective
// first; any other field comes after these.
var indexPreference = []string{
	"event.dataset", "event.module", "event.provider", "event.code",
	"event.action", "event.category", "event.type", "event.kind",
}

// ruleRequirement finds the requirement a rule is indexed by, or nil.
func ruleRequirement(r *Rule) *requirement {
	reqs := exprRequirements(r.Where)
	if r.Kind != KindSequence {
		reqs = append(reqs, exprRequirements(r.Condition)...)
	}
	if len(reqs) == 0 {
		return nil
	}
	rank := func(q requirement) int {
		if i := slices.Index(indexPreference, q.field); i >= 0 {
			return i
		}
		return len(indexPreference)
	}
	best := reqs[0]
	for _, q := range reqs[1:] {
		if rank(q) < rank(best) {
			best = q
		}
	}
	return &best
}

func exprRequirements(src string) []requirement {
	if src == "" {
		return nil
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil
	}
	ast.Walk(&tree.Node, fieldPatcher{})
	return requirements(tree.Node)
}

// whereIsRequirement says whether the expression is nothing but req: one
// `field == "v"` or `field in ["v", ...]` with string literals, on the
// field req is about. For an event whose field holds a string, the index
// then decides the expression exactly.
func whereIsRequirement(src string, req *requirement) bool {
	tree, err := parser.Parse(src)
	if err != nil {
		return false
	}
	ast.Walk(&tree.Node, fieldPatcher{})
	b, ok := tree.Node.(*ast.BinaryNode)
	if !ok {
		return false
	}
	f, ok := envPath(b.Left)
	if !ok || f != req.field {
		return false
	}
	var vs []string
	switch b.Operator {
	case "==":
		s, ok := b.Right.(*ast.StringNode)
		if !ok {
			return false
		}
		vs = []string{s.Value}
	case "in":
		arr, ok := b.Right.(*ast.ArrayNode)
		if !ok {
			return false
		}
		for _, x := range arr.Nodes {
			s, ok := x.(*ast.StringNode)
			if !ok {
				return false
			}
			vs = append(vs, s.Value)
		}
	default:
		return false
	}
	return slices.Equal(vs, req.values)
}

// requirements returns what must hold for the node to be true.
func requirements(n ast.Node) []requirement {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil
	}
	switch b.Operator {
	case "&&", "and":
		return append(requirements(b.Left), requirements(b.Right)...)
	case "||", "or":
		for _, l := range requirements(b.Left) {
			for _, r := range requirements(b.Right) {
				if l.field == r.field {
					return []requirement{{field: l.field, values: append(append([]string{}, l.values...), r.values...)}}
				}
			}
		}
	case "==", "in":
		if r, ok := constantTest(b); ok {
			return []requirement{r}
		}
		// "c" in field: an array field holding c.
		if f, ok := envPath(b.Right); ok && b.Operator == "in" {
			if s, ok := b.Left.(*ast.StringNode); ok {
				return []requirement{{field: f, values: []string{s.Value}}}
			}
		}
	}
	return nil
}

// ruleIndex finds the candidate rules of an event, in the engine's rule
// order.
type ruleIndex struct {
	fields  []string
	byValue []map[string][]int // per field: value → rule positions
	always  []uint64           // bitset of the rules without a requirement
	set     []uint64           // scratch bitset
	out     []int              // scratch result
	gates   *gateIndex         // second requirements, checked once per field
}

func newRuleIndex(rules []*Compiled) *ruleIndex {
	words := (len(rules) + 63) / 64
	ix := &ruleIndex{always: make([]uint64, words), set: make([]uint64, words), gates: newGateIndex(rules, words)}
	for i, c := range rules {
		q := c.require
		if q == nil {
			ix.always[i/64] |= 1 << (i % 64)
			continue
		}
		f := slices.Index(ix.fields, q.field)
		if f < 0 {
			f = len(ix.fields)
			ix.fields = append(ix.fields, q.field)
			ix.byValue = append(ix.byValue, map[string][]int{})
		}
		for _, v := range q.values {
			if !slices.Contains(ix.byValue[f][v], i) {
				ix.byValue[f][v] = append(ix.byValue[f][v], i)
			}
		}
	}
	return ix
}

// candidates returns the positions of the rules the event may match, in
// order. The slice is reused by the next call.
func (ix *ruleIndex) candidates(ev event.Event) []int {
	copy(ix.set, ix.always)
	for f, field := range ix.fields {
		switch v := ev[field].(type) {
		case string:
			ix.mark(ix.byValue[f][v])
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					ix.mark(ix.byValue[f][s])
				}
			}
		case []string:
			for _, s := range v {
				ix.mark(ix.byValue[f][s])
			}
		}
	}
	if anyRule(ix.set) {
		ix.gates.filter(ev, ix.set)
	}
	ix.out = ix.out[:0]
	for w, word := range ix.set {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			ix.out = append(ix.out, w*64+b)
			word &^= 1 << b
		}
	}
	return ix.out
}

func (ix *ruleIndex) mark(rules []int) {
	for _, i := range rules {
		ix.set[i/64] |= 1 << (i % 64)
	}
}
