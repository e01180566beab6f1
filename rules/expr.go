package rules

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// condition is one compiled rule expression.
type condition struct {
	source  string
	program *vm.Program
}

// compileCondition compiles an expression over ECS field names. Dotted
// names (source.ip) and bare names (message) are rewritten into lookups
// of the event by full path, so a field that is absent is nil, never an
// error.
func compileCondition(src string) (*condition, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	calls := &callNames{}
	ast.Walk(&tree.Node, calls)
	for _, name := range calls.names {
		if _, builtin := builtin.Index[name]; !builtin && !vigilFunctions[name] {
			return nil, fmt.Errorf("unknown function %s()", name)
		}
	}
	p, err := expr.Compile(src,
		expr.Env(map[string]any{}),
		expr.AsBool(),
		expr.AllowUndefinedVariables(),
		expr.Patch(fieldPatcher{}),
		expr.Function("cidr", cidrFunc, new(func(any, string) bool)),
	)
	if err != nil {
		return nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	return &condition{source: src, program: p}, nil
}

// eval runs the condition on an event. A runtime error (a comparison of
// values of different types) counts as no match and is returned so the
// engine can count it.
func (c *condition) eval(e event.Event, machine *vm.VM) (bool, error) {
	out, err := machine.Run(c.program, map[string]any(e))
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// vigilFunctions are the helpers Vigil adds to expr's builtins.
var vigilFunctions = map[string]bool{"cidr": true}

// callNames collects the names of the functions an expression calls.
type callNames struct{ names []string }

func (c *callNames) Visit(node *ast.Node) {
	if call, ok := (*node).(*ast.CallNode); ok {
		if id, ok := call.Callee.(*ast.IdentifierNode); ok {
			c.names = append(c.names, id.Value)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// fieldPatcher rewrites identifiers and member chains that name event
// fields into $env["dotted.path"], so `source.geo.country_iso_code` reads
// the flat event's key of that name. expr walks the tree children first:
// an identifier is rewritten when it is visited, a member access on a
// rewritten path extends the path, and a call or let restores the names
// that turned out to be a function or a variable.
type fieldPatcher struct{}

func (fieldPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value != "$env" {
			ast.Patch(node, envLookup(n.Value))
		}
	case *ast.MemberNode:
		prop, ok := n.Property.(*ast.StringNode)
		if !ok || n.Method {
			return
		}
		if base, ok := envPath(n.Node); ok {
			ast.Patch(node, envLookup(base+"."+prop.Value))
		}
	case *ast.CallNode:
		if name, ok := envPath(n.Callee); ok && !strings.Contains(name, ".") {
			n.Callee = &ast.IdentifierNode{Value: name}
		}
	case *ast.VariableDeclaratorNode:
		ast.Walk(&n.Expr, restoreVariable{name: n.Name})
	}
}

// restoreVariable undoes the rewrite for a variable declared with let.
type restoreVariable struct{ name string }

func (r restoreVariable) Visit(node *ast.Node) {
	path, ok := envPath(*node)
	if !ok {
		return
	}
	head, rest, dotted := strings.Cut(path, ".")
	if head != r.name {
		return
	}
	var n ast.Node = &ast.IdentifierNode{Value: r.name}
	if dotted {
		for _, part := range strings.Split(rest, ".") {
			n = &ast.MemberNode{Node: n, Property: &ast.StringNode{Value: part}}
		}
	}
	ast.Patch(node, n)
}

func envLookup(path string) *ast.MemberNode {
	return &ast.MemberNode{Node: &ast.IdentifierNode{Value: "$env"}, Property: &ast.StringNode{Value: path}}
}

// envPath returns the path of a node built by envLookup.
func envPath(n ast.Node) (string, bool) {
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return "", false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "$env" {
		return "", false
	}
	s, ok := m.Property.(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func cidrFunc(params ...any) (any, error) {
	ip, _ := params[0].(string)
	network, _ := params[1].(string)
	if ip == "" || network == "" {
		return false, nil
	}
	prefix, err := netip.ParsePrefix(network)
	if err != nil {
		return false, fmt.Errorf("cidr: bad network %q", network)
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false, nil
	}
	return prefix.Contains(addr.Unmap()), nil
}
