package estest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// member is one name/value pair of a JSON object.
type member struct {
	name  string
	value any
}

// object is a JSON object that keeps its members in document order, as
// Elasticsearch's streaming parser sees them.
type object []member

// decodeOrdered parses one JSON value keeping object members in order
// (objects become object, arrays []any, numbers json.Number), and refuses
// trailing data.
func decodeOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readOrdered(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	return v, nil
}

func readOrdered(dec *json.Decoder) (any, error) {
	t, err := dec.Token()
	if err == io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return t, nil // string, json.Number, bool or nil
	}
	switch d {
	case '{':
		o := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			name, _ := k.(string)
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, member{name, v})
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return o, nil
	case '[':
		a := []any{}
		for dec.More() {
			v, err := readOrdered(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return a, nil
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// encodeOrdered writes a value from decodeOrdered back as compact JSON,
// numbers as they were written.
func encodeOrdered(buf *bytes.Buffer, v any) {
	switch t := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, m := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeString(buf, m.name)
			buf.WriteByte(':')
			encodeOrdered(buf, m.value)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			encodeOrdered(buf, e)
		}
		buf.WriteByte(']')
	case string:
		encodeString(buf, t)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		if t {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	default:
		buf.WriteString("null")
	}
}

func encodeString(buf *bytes.Buffer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	buf.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// sourceContext is a request's choice of _source: whether to return it,
// and which fields (Elasticsearch's FetchSourceContext).
type sourceContext struct {
	fetch              bool
	includes, excludes []string
}

// sourceFromParams reads the _source, _source_includes and
// _source_excludes URL parameters; nil when none is given.
func sourceFromParams(get func(string) (string, bool)) *sourceContext {
	var (
		fetch              *bool
		includes, excludes []string
	)
	if v, ok := get("_source"); ok {
		switch v {
		case "true", "false":
			b := v == "true"
			fetch = &b
		default:
			includes = splitParam(v)
		}
	}
	if v, ok := get("_source_includes"); ok {
		includes = splitParam(v)
	}
	if v, ok := get("_source_excludes"); ok {
		excludes = splitParam(v)
	}
	if fetch == nil && includes == nil && excludes == nil {
		return nil
	}
	return &sourceContext{fetch: fetch == nil || *fetch, includes: includes, excludes: excludes}
}

// splitParam splits a comma-separated parameter value, dropping empty
// parts, as Strings.splitStringByCommaToArray does.
func splitParam(v string) []string {
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// filtered reports whether the context selects fields (rather than the
// whole _source or none of it).
func (c *sourceContext) filtered() bool {
	return c != nil && c.fetch && (len(c.includes) > 0 || len(c.excludes) > 0)
}

// filter applies the includes and excludes to a stored _source the way
// Elasticsearch 8 filters a _source's bytes: field paths split on dots,
// "*" matching within one name and "**" any number of names, an included
// object bringing everything under it; excludes are applied first. Member
// order and number literals are kept.
func (c *sourceContext) filter(src []byte) (json.RawMessage, error) {
	v, err := decodeOrdered(src)
	if err != nil {
		return nil, err
	}
	o, ok := v.(object)
	if !ok {
		return nil, fmt.Errorf("_source is not a JSON object")
	}
	if root := compileFilter(c.excludes); root != nil {
		o = filterObject(o, []*filterNode{root}, false)
	}
	if root := compileFilter(c.includes); root != nil {
		o = filterObject(o, []*filterNode{root}, true)
	}
	var buf bytes.Buffer
	encodeOrdered(&buf, o)
	return buf.Bytes(), nil
}

// filterNode is a node of a compiled field filter (Elasticsearch's
// FilterPath): final nodes match their field and everything under it.
type filterNode struct {
	pattern string
	final   bool
	terms   map[string]*filterNode
	wild    []*filterNode
}

// compileFilter builds the filter tree of a list of field paths; nil when
// the list is empty.
func compileFilter(filters []string) *filterNode {
	if len(filters) == 0 {
		return nil
	}
	type build struct {
		final    bool
		children map[string]*build
	}
	newBuild := func(final bool) *build { return &build{final: final, children: map[string]*build{}} }
	var insert func(n *build, f string)
	insert = func(n *build, f string) {
		split, escapes := -1, false
		for i := 0; i < len(f); i++ {
			if f[i] == '.' {
				split = i
				break
			}
			if f[i] == '\\' && i+1 < len(f) && f[i+1] == '.' {
				i++
				escapes = true
			}
		}
		field := f
		if split > 0 {
			field = f[:split]
		}
		if escapes {
			field = strings.ReplaceAll(field, `\.`, ".")
		}
		if split <= 0 {
			n.children[field] = newBuild(true)
			return
		}
		child := n.children[field]
		if child == nil {
			child = newBuild(false)
			n.children[field] = child
		}
		if !child.final {
			insert(child, f[split+1:])
		}
	}
	root := newBuild(false)
	for _, f := range filters {
		if f = strings.TrimSpace(f); f != "" {
			insert(root, f)
		}
	}
	var convert func(pattern string, b *build) *filterNode
	convert = func(pattern string, b *build) *filterNode {
		n := &filterNode{pattern: pattern, final: b.final, terms: map[string]*filterNode{}}
		for name, c := range b.children {
			if strings.Contains(name, "*") {
				n.wild = append(n.wild, convert(name, c))
			} else {
				n.terms[name] = convert(name, c)
			}
		}
		return n
	}
	return convert("", root)
}

// matches reports whether the field name ends a filter path here; when it
// does not, it adds the nodes that may match the field's children to next.
// A name with dots in it ("a.b") is matched as the path it spells.
func (n *filterNode) matches(name string, next *[]*filterNode) bool {
	if dot := strings.IndexByte(name, '.'); dot > 0 && dot < len(name)-1 {
		var prefix []*filterNode
		if n.matches(name[:dot], &prefix) {
			return true
		}
		for _, p := range prefix {
			if p.matches(name[dot+1:], next) {
				return true
			}
		}
		return false
	}
	if t := n.terms[name]; t != nil {
		if t.final {
			return true
		}
		*next = append(*next, t)
	}
	for _, w := range n.wild {
		if wildcardMatch(w.pattern, name) {
			if w.final {
				return true
			}
			*next = append(*next, w)
		}
	}
	if n.pattern == "**" {
		*next = append(*next, n)
	}
	return false
}

// filterObject keeps (include) or drops (exclude) the members the filters
// match. Objects and arrays on the way to a match are filtered in turn and
// dropped when nothing is left of them; scalars on the way are dropped by
// an include filter and kept by an exclude filter.
func filterObject(o object, filters []*filterNode, include bool) object {
	out := object{}
	for _, m := range o {
		var next []*filterNode
		matched := false
		for _, f := range filters {
			if f.matches(m.name, &next) {
				matched = true
				break
			}
		}
		switch {
		case matched:
			if include {
				out = append(out, m)
			}
		case len(next) == 0:
			if !include {
				out = append(out, m)
			}
		default:
			if v, ok := filterValue(m.value, next, include); ok {
				out = append(out, member{m.name, v})
			}
		}
	}
	return out
}

func filterValue(v any, filters []*filterNode, include bool) (any, bool) {
	switch t := v.(type) {
	case object:
		r := filterObject(t, filters, include)
		return r, len(r) > 0 || (!include && len(t) == 0)
	case []any:
		r := []any{}
		for _, e := range t {
			if fv, ok := filterValue(e, filters, include); ok {
				r = append(r, fv)
			}
		}
		return r, len(r) > 0 || (!include && len(t) == 0)
	}
	return v, !include
}

// wildcardMatch matches name against a pattern in which "*" matches any
// run of characters (Elasticsearch's Glob.globMatch).
func wildcardMatch(pattern, name string) bool {
	// Greedy matching with backtracking to the last star.
	p, n, star, mark := 0, 0, -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p, mark = star+1, mark+1
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
