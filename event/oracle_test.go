package event

// The writer event.Marshal used before the plan cache, kept verbatim
// (identifiers prefixed with "old") as the oracle the differential tests
// compare the current writer with, byte for byte and error for error.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// oldMarshal encodes e as nested JSON with sorted keys: "source.ip" becomes
// {"source":{"ip":...}}. A path that is both a value and a parent of other
// paths ("a" and "a.b") keeps the value under its dotted key, which
// Elasticsearch reads the same way.
func oldMarshal(e Event) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(256 + 48*len(e))
	if err := oldWriteEvent(&buf, e); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// oldWriteEvent writes e as nested JSON. Keys sorted segment by segment are
// written in one pass, opening and closing objects as the path prefix
// changes; an event where one path is both a value and a parent of other
// paths takes the slower tree writer.
func oldWriteEvent(buf *bytes.Buffer, e Event) error {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, oldComparePaths)
	for i := 1; i < len(keys); i++ {
		if oldIsParentPath(keys[i-1], keys[i]) {
			return oldWriteNested(buf, e)
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
			oldWriteKey(buf, &first[len(first)-1], seg)
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
		if err := oldWriteMember(buf, &first[len(first)-1], rest, e[k]); err != nil {
			return fmt.Errorf("field %s: %w", k, err)
		}
	}
	for range open {
		buf.WriteByte('}')
	}
	buf.WriteByte('}')
	return nil
}

// oldComparePaths orders dotted paths segment by segment ("a.b" < "a_b" <
// "ab"), as if the dot were the smallest byte, so every path under one
// prefix sorts together.
func oldComparePaths(a, b string) int {
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

// oldIsParentPath says whether next (sorted right after prev) lies under prev.
func oldIsParentPath(prev, next string) bool {
	return len(next) > len(prev) && next[len(prev)] == '.' && strings.HasPrefix(next, prev)
}

type oldNode struct {
	value    any
	hasValue bool
	children map[string]*oldNode
}

func oldWriteNested(buf *bytes.Buffer, e Event) error {
	root := &oldNode{}
	for path, v := range e {
		n := root
		for _, part := range strings.Split(path, ".") {
			n = n.child(part)
		}
		n.value, n.hasValue = v, true
	}
	return root.write(buf)
}

func (n *oldNode) child(name string) *oldNode {
	if n.children == nil {
		n.children = make(map[string]*oldNode, 4)
	}
	c := n.children[name]
	if c == nil {
		c = &oldNode{}
		n.children[name] = c
	}
	return c
}

// write renders the children of n as one JSON object. A child that is both
// a value and a parent is written flat: its value under its own name, and
// its descendants under dotted names.
func (n *oldNode) write(buf *bytes.Buffer) error {
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
			if err := oldWriteMember(buf, &first, name, c.value); err != nil {
				return err
			}
			if c.children != nil {
				if err := c.writeFlat(buf, &first, name); err != nil {
					return err
				}
			}
			continue
		}
		oldWriteKey(buf, &first, name)
		if err := c.write(buf); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func (n *oldNode) writeFlat(buf *bytes.Buffer, first *bool, prefix string) error {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := n.children[name]
		path := prefix + "." + name
		if c.hasValue {
			if err := oldWriteMember(buf, first, path, c.value); err != nil {
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

func oldWriteKey(buf *bytes.Buffer, first *bool, name string) {
	if !*first {
		buf.WriteByte(',')
	}
	*first = false
	oldWriteString(buf, name)
	buf.WriteByte(':')
}

func oldWriteMember(buf *bytes.Buffer, first *bool, name string, v any) error {
	oldWriteKey(buf, first, name)
	switch t := v.(type) {
	case Event:
		return oldWriteEvent(buf, t)
	case []any:
		if oldSimpleValues(t) {
			buf.WriteByte('[')
			for i, x := range t {
				if i > 0 {
					buf.WriteByte(',')
				}
				oldWriteSimple(buf, x)
			}
			buf.WriteByte(']')
			return nil
		}
	default:
		if oldWriteSimple(buf, v) {
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

// oldWriteSimple writes strings, integers and booleans the way
// encoding/json does, without reflection; it reports false (and writes
// nothing) for any other value.
func oldWriteSimple(buf *bytes.Buffer, v any) bool {
	var scratch [24]byte
	switch t := v.(type) {
	case string:
		oldWriteString(buf, t)
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

// oldSimpleValues says whether oldWriteSimple writes every element.
func oldSimpleValues(vs []any) bool {
	for _, v := range vs {
		switch v.(type) {
		case string, int64, int, bool:
		default:
			return false
		}
	}
	return true
}

// oldWriteString writes s as a JSON string. Invalid UTF-8 is replaced by
// U+FFFD, as encoding/json does.
func oldWriteString(buf *bytes.Buffer, s string) {
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
