package rules

import (
	"fmt"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// expressionWarnings are what is legal but cannot be meant in a rule
// expression, found in its source: a comparison of an ECS list field
// with one value (== on event.category is false when the event holds the
// list ["authentication"], as ECS events do), and an expression that is a
// field, not a test (condition: source.ip). Lint reports
// them as warnings; the rule still loads.
func expressionWarnings(src string) []string {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil // reported as the expression's error
	}
	ast.Walk(&tree.Node, fieldPatcher{})
	var out []string
	// (A constant that is not a boolean is a compile error already.)
	if field, ok := envPath(tree.Node); ok {
		out = append(out, fmt.Sprintf("the expression is the field %s, not a test: it matches only when the field holds true; to test that it is there, write %s != nil", field, field))
	}
	w := &listComparisons{}
	ast.Walk(&tree.Node, w)
	return append(out, w.found...)
}

// listComparisons finds field == constant (and !=) where the field is a
// list in ECS.
type listComparisons struct{ found []string }

func (l *listComparisons) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok || (b.Operator != "==" && b.Operator != "!=") {
		return
	}
	field, value := b.Left, b.Right
	if _, ok := envPath(field); !ok {
		field, value = b.Right, b.Left
	}
	name, ok := envPath(field)
	if !ok || !ecsArrayFields()[name] || !isLiteral(value) {
		return
	}
	lit := value.String()
	if b.Operator == "==" {
		l.found = append(l.found, fmt.Sprintf("%s is a list in ECS (%s == %s is false when the event holds [%s]): write %s in %s", name, name, lit, lit, lit, name))
	} else {
		l.found = append(l.found, fmt.Sprintf("%s is a list in ECS (%s != %s is true when the event holds [%s]): write not (%s in %s)", name, name, lit, lit, lit, name))
	}
}
