package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Marshal encodes e as nested JSON with sorted keys: "source.ip" becomes
// {"source":{"ip":...}}. A path that is both a value and a parent of other
// paths ("a" and "a.b") keeps the value under its dotted key, which
// Elasticsearch reads the same way.
func Marshal(e Event) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(256 + 48*len(e))
	if err := writeEvent(&buf, e); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeEvent writes e as nested JSON. Keys sorted segment by segment are
// written in one pass, opening and closing objects as the path prefix
// changes; an event where one path is both a value and a parent of other
// paths takes the slower tree writer.
func writeEvent(buf *bytes.Buffer, e Event) error {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePaths)
	for i := 1; i < len(keys); i++ {
		if isParentPath(keys[i-1], keys[i]) {
			return writeNested(buf, e)
		}
	}
	var open []string     // the objects currently open, outermost first
	first := []bool{true} // per depth: nothing written yet at that level
	buf.WriteByte('{')
	for _, k := range keys {
		// Walk k's parent segments: keep the open objects it shares,
		// close the others, open the new ones.
		depth, rest := 0, k
		for {
			dot := strings.IndexByte(rest, '.')
			if dot < 0 {
				break
			}
			seg := rest[:dot]
			rest = rest[dot+1:]
			if depth < len(open) && open[depth] == seg {
				depth++
				continue
			}
			for len(open) > depth {
				buf.WriteByte('}')
				open = open[:len(open)-1]
				first = first[:len(first)-1]
			}
			writeKey(buf, &first[len(first)-1], seg)
			buf.WriteByte('{')
			open = append(open, seg)
			first = append(first, true)
			depth++
		}
		for len(open) > depth {
			buf.WriteByte('}')
			open = open[:len(open)-1]
			first = first[:len(first)-1]
		}
		if err := writeMember(buf, &first[len(first)-1], rest, e[k]); err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
	}
	for range open {
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return nil
}

// comparePaths orders dotted paths segment by segment ("a.b" < "a_b" <
// "ab"), as if the dot were the smallest byte, so every path under one
// prefix sorts together.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if ca == '.' {
			return -1
		}
		if cb == '.' {
			return 1
		}
		return int(ca) - int(cb)
	}
	return len(a) - len(b)
}

// isParentPath says whether next (sorted right after prev) lies under prev.
func isParentPath(prev, next string) bool {
	return len(next) > len(prev) && next[len(prev)] == '.' && strings.HasPrefix(next, prev)
}

// MarshalJSON makes Event encode nested wherever it is embedded.
func (e Event) MarshalJSON() ([]byte, error) { return Marshal(e) }

// UnmarshalJSON makes Event decode (and flatten) wherever it is embedded.
func (e *Event) UnmarshalJSON(data []byte) error {
	ev, err := Unmarshal(data)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

type node struct {
	value    any
	hasValue bool
	children map[string]*node
}

func writeNested(buf *bytes.Buffer, e Event) error {
	root := &node{}
	for path, v := range e {
		n := root
		for _, part := range strings.Split(path, ".") {
			n = n.child(part)
		}
		n.value, n.hasValue = v, true
	}
	return root.write(buf)
}

func (n *node) child(name string) *node {
	if n.children == nil {
		n.children = make(map[string]*node, 4)
	}
	c := n.children[name]
	if c == nil {
		c = &node{}
		n.children[name] = c
	}
	return c
}

// write renders the children of n as one JSON object. A child that is both
// a value and a parent is written flat: its value under its own name, and
// its descendants under dotted names.
func (n *node) write(buf *bytes.Buffer) error {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	buf.WriteByte('{')
	first := true
	for _, name := range names {
		c := n.children[name]
		if c.hasValue {
			if err := writeMember(buf, &first, name, c.value); err != nil {
				return err
			}
			if c.children != nil {
				if err := c.writeFlat(buf, &first, name); err != nil {
					return err
				}
			}
			continue
		}
		writeKey(buf, &first, name)
		if err := c.write(buf); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func (n *node) writeFlat(buf *bytes.Buffer, first *bool, prefix string) error {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		path := prefix + "." + name
		if c.hasValue {
			if err := writeMember(buf, first, path, c.value); err != nil {
				return err
			}
		}
		if c.children != nil {
			if err := c.writeFlat(buf, first, path); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeKey(buf *bytes.Buffer, first *bool, name string) {
	if !*first {
		buf.WriteByte(',')
	}
	*first = false
	writeString(buf, name)
	buf.WriteByte(':')
}

func writeMember(buf *bytes.Buffer, first *bool, name string, v any) error {
	writeKey(buf, first, name)
	switch t := v.(type) {
	case Event:
		return writeEvent(buf, t)
	case []any:
		if simpleValues(t) {
			buf.WriteByte('[')
			for i, x := range t {
				if i > 0 {
					buf.WriteByte(',')
				}
				writeSimple(buf, x)
			}
			buf.WriteByte(']')
			return nil
		}
	default:
		if writeSimple(buf, v) {
			return nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("field %s: %w", name, err)
	}
	buf.Write(b)
	return nil
}

// writeSimple writes strings, integers and booleans the way
// encoding/json does, without reflection; it reports false (and writes
// nothing) for any other value.
func writeSimple(buf *bytes.Buffer, v any) bool {
	var scratch [24]byte
	switch t := v.(type) {
	case string:
		writeString(buf, t)
	case int64:
		buf.Write(strconv.AppendInt(scratch[:0], t, 10))
	case int:
		buf.Write(strconv.AppendInt(scratch[:0], int64(t), 10))
	case bool:
		buf.WriteString(strconv.FormatBool(t))
	default:
		return false
	}
	return true
}

// simpleValues says whether writeSimple writes every element.
func simpleValues(vs []any) bool {
	for _, v := range vs {
		switch v.(type) {
		case string, int64, int, bool:
		default:
			return false
		}
	}
	return true
}

// writeString writes s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does.
func writeString(buf *bytes.Buffer, s string) {
	simple := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			simple = false
			break
		}
	}
	if simple {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s) // a string always marshals
	buf.Write(b)
}

// Unmarshal decodes one JSON object into a flat Event. Nested objects are
// flattened into dotted paths; arrays are kept as values. Integers that fit
// int64 decode as int64, other numbers as float64. Anything after the
// object but white space is an error.
func Unmarshal(data []byte) (Event, error) {
	d := decoder{data: data, path: make([]byte, 0, 64), keys: make([][]byte, 0, 16)}
	d.space()
	if d.pos >= len(data) || data[d.pos] != '{' {
		return nil, d.errorf("not a JSON object")
	}
	d.pos++
	// Room for a typical event without growing, in one allocation of 32
	// slots (a hint above 28 takes 64): collectors write 10 to 25 fields.
	e := make(Event, 28)
	err := d.object(e, 0)
	if err == nil {
		d.space()
		if d.pos != len(data) {
			return nil, d.errorf("trailing data after the JSON object")
		}
		return e, nil
	}
	if errors.Is(err, errDuplicateKey) {
		return unmarshalTree(data)
	}
	return nil, err
}

// normalize turns json.Number into int64 or float64 and does the same
// inside arrays and objects held as values.
func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = normalize(t[i])
		}
		return t
	case map[string]any:
		for k := range t {
			t[k] = normalize(t[k])
		}
		return t
	}
	return v
}
