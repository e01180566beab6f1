package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/expr-lang/expr/vm/runtime"

	"github.com/vigil-siem/vigil/event"
)

// condition is one compiled rule expression.
type condition struct {
	source  string
	program *vm.Program
	// needs are what an event must have for the expression to be true
	// (field equalities and memberships of its top-level conjuncts, see
	// index.go); an event lacking one is no match without running it.
	needs []requirement
	// matches are the re() calls one of which must match, per top-level
	// conjunct: the literal prefilters of their patterns decide most
	// events without running the expression.
	matches [][]fieldMatch
	// exact, when not nil, is the whole expression: a conjunction of
	// field == "constant" and field in ["constant", ...]. For an event
	// whose fields in it are strings or absent, the conjunction decides
	// the expression without running it (see decide).
	exact []requirement
}

// fieldMatch is re(field, constant pattern).
type fieldMatch struct {
	field string
	m     *matcher
}

// compileCondition compiles an expression with the helpers and no lists
// or caller functions.
func compileCondition(src string) (*condition, error) {
	e, _ := newEnv(&loadConfig{})
	c, _, err := e.compile(src)
	return c, err
}

// compile compiles an expression over ECS field names. Dotted names
// (source.ip) and bare names (message) are rewritten into lookups of the
// event by full path, so a field that is absent is nil, never an error.
// It returns the field names the expression reads.
func (e *env) compile(src string) (*condition, []string, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	calls := &callNames{}
	ast.Walk(&tree.Node, calls)
	for _, call := range calls.calls {
		name := call.Callee.(*ast.IdentifierNode).Value
		if _, builtin := builtin.Index[name]; !builtin && !e.known(name) {
			return nil, nil, fmt.Errorf("unknown function %s()", name)
		}
		if err := e.checkConstantArgs(name, call.Arguments); err != nil {
			return nil, nil, err
		}
	}
	// The fields read, found the way the compiler will rewrite them.
	ast.Walk(&tree.Node, fieldPatcher{})
	fields := &fieldNames{}
	ast.Walk(&tree.Node, fields)

	opts := []expr.Option{
		expr.Env(map[string]any{}),
		expr.AsBool(),
		expr.AllowUndefinedVariables(),
		expr.Patch(fieldPatcher{compare: true}),
		expr.Patch(nilSafe{}),
		expr.Patch(fastFields{}),
		expr.Function(fetchFunc, fetchOrNil),
	}
	for name, fn := range e.functions() {
		opts = append(opts, expr.Function(name, fn))
	}
	// re() with a constant pattern calls a function bound to the compiled
	// pattern, not the cache.
	if _, replaced := e.extra["re"]; !replaced {
		bound := boundPatterns{}
		for _, call := range calls.calls {
			if call.Callee.(*ast.IdentifierNode).Value != "re" || len(call.Arguments) != 2 {
				continue
			}
			pattern, ok := call.Arguments[1].(*ast.StringNode)
			if !ok || bound[pattern.Value] != "" {
				continue
			}
			m, err := e.compileRegex(pattern.Value)
			if err != nil {
				continue // reported by checkConstantArgs
			}
			// '#' cannot be written in an identifier: no rule's name clashes.
			name := fmt.Sprintf("re#%d", len(bound))
			bound[pattern.Value] = name
			opts = append(opts, expr.Function(name, matchFunc(m)))
		}
		if len(bound) > 0 {
			opts = append(opts, expr.Patch(bound))
		}
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s", firstLine(err.Error()))
	}
	c := &condition{source: src, program: p, needs: exprRequirements(src), exact: exactConjuncts(tree.Node)}
	if _, replaced := e.extra["re"]; !replaced {
		c.matches = e.regexNeeds(tree.Node)
	}
	return c, fields.names, nil
}

// checkConstantArgs validates at load what can be: a constant re() pattern
// (compiled now, into the cache), a constant cidr() network and a
// constant in_list() name.
func (e *env) checkConstantArgs(name string, args []ast.Node) error {
	if len(args) != 2 {
		return nil
	}
	s, ok := args[1].(*ast.StringNode)
	if !ok {
		return nil
	}
	switch name {
	case "re":
		if _, err := e.compileRegex(s.Value); err != nil {
			return err
		}
	case "cidr":
		if _, replaced := e.extra["cidr"]; replaced {
			return nil
		}
		if _, err := parseNetwork(s.Value); err != nil {
			return err
		}
	case "in_list":
		if _, ok := e.extra["in_list"]; ok {
			return nil
		}
		if e.lists[s.Value] == nil {
			known := "none loaded"
			if names := e.listNames(); len(names) > 0 {
				known = strings.Join(names, ", ")
			}
			return fmt.Errorf("in_list: unknown list %q (lists: %s)", s.Value, known)
		}
	}
	return nil
}

// eval runs the condition on an event. A runtime error (a comparison of
// values of different types) counts as no match and is returned so the
// engine can count it.
func (c *condition) eval(e event.Event, machine *vm.VM) (bool, error) {
	return c.evalFolded(e, machine, nil)
}

// evalFolded is eval with the prefilters reading the case of the event's
// strings from fc (nil: work it out each time).
func (c *condition) evalFolded(e event.Event, machine *vm.VM, fc *foldCache) (bool, error) {
	if c.exact != nil {
		if ok, decided := c.decide(e); decided {
			return ok, nil
		}
	}
	for i := range c.needs {
		if !c.needs[i].mayHold(e) {
			return false, nil
		}
	}
	for _, alts := range c.matches {
		if !mayMatch(alts, e, fc) {
			return false, nil
		}
	}
	out, err := machine.Run(c.program, map[string]any(e))
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// decide evaluates an exact condition from its conjuncts: false as soon
// as a field is absent or a string none of whose values it is, true when
// every field is a string that is one of them. A field of another type
// (an array, a number) leaves it undecided, for the expression to run:
// expr's == and in are exactly this on strings and nil, and neither can
// fail at run time.
func (c *condition) decide(e event.Event) (ok, decided bool) {
	decided = true
	for i := range c.exact {
		q := &c.exact[i]
		switch v := e[q.field].(type) {
		case nil:
			return false, true
		case string:
			if !slices.Contains(q.values, v) {
				return false, true
			}
		default:
			decided = false // an undecided conjunct; a later one may be false
		}
	}
	return decided, decided
}

// exactConjuncts returns the conjuncts of an expression (tree after
// fieldPatcher) that is nothing but a conjunction of field == "constant"
// ("constant" == field) and field in ["constant", ...]; nil for any other
// expression.
func exactConjuncts(n ast.Node) []requirement {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return nil
	}
	switch b.Operator {
	case "&&", "and":
		l := exactConjuncts(b.Left)
		r := exactConjuncts(b.Right)
		if l == nil || r == nil {
			return nil
		}
		return append(l, r...)
	case "==", "in":
		if r, ok := constantTest(b); ok {
			return []requirement{r}
		}
	}
	return nil
}

// constantTest is the requirement that field == "c", "c" == field or
// field in ["c", ...] states; ok is false for any other node.
func constantTest(b *ast.BinaryNode) (requirement, bool) {
	switch b.Operator {
	case "==":
		for _, side := range [][2]ast.Node{{b.Left, b.Right}, {b.Right, b.Left}} {
			if f, ok := envPath(side[0]); ok {
				if s, ok := side[1].(*ast.StringNode); ok {
					return requirement{field: f, values: []string{s.Value}}, true
				}
			}
		}
	case "in":
		f, ok := envPath(b.Left)
		arr, isArray := b.Right.(*ast.ArrayNode)
		if !ok || !isArray || len(arr.Nodes) == 0 {
			return requirement{}, false
		}
		vs := make([]string, 0, len(arr.Nodes))
		for _, x := range arr.Nodes {
			s, ok := x.(*ast.StringNode)
			if !ok {
				return requirement{}, false
			}
			vs = append(vs, s.Value)
		}
		return requirement{field: f, values: vs}, true
	}
	return requirement{}, false
}

// regexNeeds finds the re(field, "constant") calls that must hold for
// the expression (tree after fieldPatcher) to be true: a top-level
// conjunct that is such a call, or an or of such calls.
func (e *env) regexNeeds(n ast.Node) [][]fieldMatch {
	b, ok := n.(*ast.BinaryNode)
	if ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(e.regexNeeds(b.Left), e.regexNeeds(b.Right)...)
	}
	if alts, ok := e.regexAlternatives(n); ok {
		return [][]fieldMatch{alts}
	}
	return nil
}

// regexAlternatives returns the calls of an or of re(field, "constant")
// calls; false when n is anything else.
func (e *env) regexAlternatives(n ast.Node) ([]fieldMatch, bool) {
	switch n := n.(type) {
	case *ast.BinaryNode:
		if n.Operator != "||" && n.Operator != "or" {
			return nil, false
		}
		l, ok := e.regexAlternatives(n.Left)
		if !ok {
			return nil, false
		}
		r, ok := e.regexAlternatives(n.Right)
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "re" || len(n.Arguments) != 2 {
			return nil, false
		}
		field, ok := envPath(n.Arguments[0])
		if !ok {
			return nil, false
		}
		pattern, ok := n.Arguments[1].(*ast.StringNode)
		if !ok {
			return nil, false
		}
		m, err := e.compileRegex(pattern.Value)
		if err != nil {
			return nil, false
		}
		return []fieldMatch{{field: field, m: m}}, true
	case *ast.BuiltinNode:
		return e.anyRegexAlternatives(n)
	}
	return nil, false
}

// anyRegexAlternatives reads any([field, ...], {re(#, "constant")}) as
// the alternatives re(field, "constant"): it holds only when one of the
// fields is a string the pattern matches (re() of anything else is
// false).
func (e *env) anyRegexAlternatives(n *ast.BuiltinNode) ([]fieldMatch, bool) {
	if n.Name != "any" || len(n.Arguments) != 2 {
		return nil, false
	}
	arr, ok := n.Arguments[0].(*ast.ArrayNode)
	if !ok || len(arr.Nodes) == 0 {
		return nil, false
	}
	pred, ok := n.Arguments[1].(*ast.PredicateNode)
	if !ok {
		return nil, false
	}
	call, ok := pred.Node.(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return nil, false
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "re" {
		return nil, false
	}
	if p, ok := call.Arguments[0].(*ast.PointerNode); !ok || p.Name != "" {
		return nil, false
	}
	pattern, ok := call.Arguments[1].(*ast.StringNode)
	if !ok {
		return nil, false
	}
	m, err := e.compileRegex(pattern.Value)
	if err != nil {
		return nil, false
	}
	alts := make([]fieldMatch, 0, len(arr.Nodes))
	for _, el := range arr.Nodes {
		field, ok := envPath(el)
		if !ok {
			return nil, false
		}
		alts = append(alts, fieldMatch{field: field, m: m})
	}
	return alts, true
}

// mayMatch says whether one of the calls can match the event: its field
// is a string that passes its pattern's prefilter.
func mayMatch(alts []fieldMatch, e event.Event, fc *foldCache) bool {
	var field, s string // the field read last (alternatives often share it)
	ok := false
	for i, a := range alts {
		if i == 0 || a.field != field {
			field = a.field
			s, ok = e[field].(string)
		}
		if !ok {
			continue
		}
		if fc != nil && a.m.mayMatchFolded(s, a.field, fc) || fc == nil && a.m.mayMatch(s) {
			return true
		}
	}
	return false
}

// boundPatterns rewrites re(x, "constant") into a call of the function
// bound to that pattern (pattern → function name): re#N(x).
type boundPatterns map[string]string

func (b boundPatterns) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 2 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); !ok || id.Value != "re" {
		return
	}
	pattern, ok := call.Arguments[1].(*ast.StringNode)
	if !ok || b[pattern.Value] == "" {
		return
	}
	ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: b[pattern.Value]}, Arguments: call.Arguments[:1]})
}

// matchFunc is re() with its pattern compiled: re(s, pattern) is
// matchFunc(m)(s). A value that is not a string does not match.
func matchFunc(m *matcher) Function {
	return func(params ...any) (any, error) {
		if len(params) != 1 {
			return false, fmt.Errorf("re(str, pattern) takes 2 arguments, got %d", len(params)+1)
		}
		s, ok := params[0].(string)
		return ok && m.MatchString(s), nil
	}
}

// fieldNames collects the event fields an expression reads, after
// fieldPatcher rewrote them.
type fieldNames struct{ names []string }

func (f *fieldNames) Visit(node *ast.Node) {
	if p, ok := envPath(*node); ok {
		f.names = append(f.names, p)
	}
}

// callNames collects the calls of named functions in an expression.
type callNames struct{ calls []*ast.CallNode }

func (c *callNames) Visit(node *ast.Node) {
	if call, ok := (*node).(*ast.CallNode); ok {
		if _, ok := call.Callee.(*ast.IdentifierNode); ok {
			c.calls = append(c.calls, call)
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
// that turned out to be a function or a variable. With compare, the
// ordering operators become the safe comparisons of functions.go.
type fieldPatcher struct{ compare bool }

func (f fieldPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		if f.compare {
			if name := compareCalls[n.Operator]; name != "" && !(isLiteral(n.Left) && isLiteral(n.Right)) {
				ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: []ast.Node{n.Left, n.Right}})
			}
		}
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

// fastFields turns the lookups $env["a.b"] of dotted field paths into
// identifiers named "a.b", which expr compiles to a direct map index
// (OpLoadFast) instead of a reflective fetch. It runs after fieldPatcher,
// on the final tree. A dotted name can be neither a variable nor a
// function, so the identifier can only mean the field; bare names keep
// the $env lookup.
type fastFields struct{}

func (fastFields) Visit(node *ast.Node) {
	if path, ok := envPath(*node); ok && strings.Contains(path, ".") {
		ast.Patch(node, &ast.IdentifierNode{Value: path})
	}
}

// nilSafe keeps the promise that a field an event does not have is nil,
// never an error, where expr's builtins and its indexing would fail on
// nil: a rule over a dataset where a field is sometimes absent must not
// turn into evaluation errors on the events without it. It runs after
// fieldPatcher (the field lookups are $env["path"]) and before fastFields,
// and rewrites the tree at compile time: the events that have the field
// pay a jump at most, not a recovered error.
//
//   - the list a builtin iterates (any, all, none, count, filter, map, …)
//     is `field ?? []`: a missing list is empty, so none() and all() are
//     true, any() false, count() 0;
//   - the string a string builtin works on (trim, split, hasPrefix, …) is
//     `field ?? ""`;
//   - a conversion of a missing field (int, float, abs, date, …) is nil;
//   - an index or member of a field, field[0] or field[0].name, is
//     fetchOrNil: nil when the field is missing or the index is out of
//     range;
//   - a slice of a missing field, field[1:], is nil.
//
// Only values read from the event are rewritten: expr's own type errors on
// a value the rule built (a literal, a helper's result) stay errors.
type nilSafe struct{}

// builtinNil says what each builtin that fails on a nil argument takes a
// missing field as.
var builtinNil = map[string]nilAs{
	"all": nilList, "none": nilList, "any": nilList, "one": nilList,
	"filter": nilList, "map": nilList, "count": nilList, "sum": nilList,
	"find": nilList, "findIndex": nilList, "findLast": nilList, "findLastIndex": nilList,
	"groupBy": nilList, "sortBy": nilList, "reduce": nilList,
	"mean": nilList, "median": nilList, "take": nilList, "reverse": nilList,
	"uniq": nilList, "flatten": nilList, "join": nilList, "concat": nilList,
	"keys": nilMap, "values": nilMap, "toPairs": nilMap,

	"trim": nilString, "trimPrefix": nilString, "trimSuffix": nilString,
	"split": nilString, "splitAfter": nilString, "replace": nilString, "repeat": nilString,
	"indexOf": nilString, "lastIndexOf": nilString, "hasPrefix": nilString, "hasSuffix": nilString,
	"toBase64": nilString, "fromBase64": nilString,

	"int": nilResult, "float": nilResult, "abs": nilResult, "ceil": nilResult,
	"floor": nilResult, "round": nilResult, "fromJSON": nilResult, "date": nilResult,
	"duration": nilResult,
}

type nilAs int

const (
	nilList   nilAs = iota + 1 // the first argument (every one, concat's) nil is []
	nilMap                     // the first argument nil is {}
	nilString                  // the first argument nil is ""
	nilResult                  // the first argument nil makes the call nil
)

func (nilSafe) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BuiltinNode:
		how := builtinNil[n.Name]
		if how == 0 || len(n.Arguments) == 0 {
			return
		}
		args := n.Arguments[:1]
		if n.Name == "concat" {
			args = n.Arguments
		}
		for i, arg := range args {
			if !fromEvent(arg) {
				continue
			}
			switch how {
			case nilList:
				args[i] = orElse(arg, &ast.ArrayNode{})
			case nilMap:
				args[i] = orElse(arg, &ast.MapNode{})
			case nilString:
				args[i] = orElse(arg, &ast.StringNode{})
			case nilResult:
				// The field is read twice, to keep the builtin's own
				// call (and result type) for the events that have it.
				if path, ok := envPath(arg); ok {
					ast.Patch(node, nilIfMissing(path, n))
				}
			}
		}
	case *ast.MemberNode:
		// Member chains of field names are lookups by path already: a
		// member of a field left here is an index (field[0], field[i]) or
		// a member of one (field[0].name).
		if !n.Method && fromEvent(n.Node) {
			ast.Patch(node, &ast.CallNode{Callee: &ast.IdentifierNode{Value: fetchFunc}, Arguments: []ast.Node{n.Node, n.Property}})
		}
	case *ast.SliceNode:
		if path, ok := envPath(n.Node); ok {
			ast.Patch(node, nilIfMissing(path, n))
		}
	}
}

// fromEvent says whether n is a value read from the event: a field, or
// an index of one (after nilSafe rewrote it).
func fromEvent(n ast.Node) bool {
	if _, ok := envPath(n); ok {
		return true
	}
	call, ok := n.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	return ok && id.Value == fetchFunc
}

// orElse is `n ?? fallback`.
func orElse(n, fallback ast.Node) ast.Node {
	return &ast.BinaryNode{Operator: "??", Left: n, Right: fallback}
}

// nilIfMissing is `field == nil ? nil : then`.
func nilIfMissing(path string, then ast.Node) ast.Node {
	return &ast.ConditionalNode{
		Cond: &ast.BinaryNode{Operator: "==", Left: envLookup(path), Right: &ast.NilNode{}},
		Exp1: &ast.NilNode{},
		Exp2: then,
	}
}

// fetchFunc is the name nilSafe gives fetchOrNil; '#' cannot be written
// in an identifier, so no rule calls it or clashes with it.
const fetchFunc = "fetch#"

// fetchOrNil is expr's v[i] (or v.name on an object inside a field) that
// is nil where the event has nothing: v nil, or i out of v's range. A
// value that cannot be indexed at all (a number) is still an error.
func fetchOrNil(params ...any) (out any, err error) {
	if len(params) != 2 {
		return nil, fmt.Errorf("fetch takes 2 arguments, got %d", len(params))
	}
	v, i := params[0], params[1]
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if n, ok := i.(int); ok {
			if n < 0 {
				n += len(x) // expr's x[-1] is the last element
			}
			if n < 0 || n >= len(x) {
				return nil, nil
			}
			return x[n], nil
		}
	case map[string]any:
		if k, ok := i.(string); ok {
			return x[k], nil
		}
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array || rv.Kind() == reflect.String {
		if n, ok := asInt(i); ok {
			if n < 0 {
				n += int64(rv.Len())
			}
			if n < 0 || n >= int64(rv.Len()) {
				return nil, nil
			}
		}
	}
	// Anything else is expr's fetch, whose panic on a value that cannot
	// be indexed is the run-time error it would have been.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return runtime.Fetch(v, i), nil
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

var compareCalls = map[string]string{"<": cmpLT, ">": cmpGT, "<=": cmpLE, ">=": cmpGE}

func isLiteral(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode:
		return true
	}
	return false
}
