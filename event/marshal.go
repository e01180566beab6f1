package event

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// AppendMarshal appends e, encoded exactly as Marshal encodes it, to dst
// and returns the extended slice. On error it returns dst as it was (its
// bytes past len(dst) may have been written) and the error. A caller that
// reuses one buffer encodes without allocating.
func AppendMarshal(dst []byte, e Event) ([]byte, error) {
	n := len(dst)
	out, err := appendEvent(dst, e)
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// The layout of an event's JSON (key order, braces, commas, escaped keys)
// depends only on its set of keys, and the events of one log format share
// a few key sets. A plan is that layout computed once: the literal bytes
// to write before each value, in sorted key order. Plans are cached by a
// hash of the key set and checked against the event while writing (every
// key of the plan must be in the event, which has as many keys), so a
// hash collision only costs speed.
const (
	planSlots    = 256  // cache slots (a power of two); a plan lives in the slot of its hash
	recentSlots  = 64   // slots of the plan last used per event size (a power of two)
	maxPlanKeys  = 128  // events with more keys are laid out each time
	maxPlanBytes = 8192 // nor are events whose layout needs more literal bytes
)

// plan is the cached layout of one key set; immutable once stored.
type plan struct {
	hash  uint64
	keys  []string // sorted as the JSON is written; nil for a key set seen only once so far
	names []string // the last segment of each key, for error messages
	// lit[offs[i]:offs[i+1]] goes before the value of keys[i]; after the
	// last value comes lit[offs[len(keys)]:].
	offs     []int32
	lit      []byte
	tree     bool // some path is both a value and a parent: the tree writer lays it out
	tooLarge bool // the key set is written without a plan (keys is nil)
	// size is the length of a recent output, for Marshal to allocate:
	// updated when an output is longer, or less than half as long.
	size atomic.Int32
}

// planCache is a direct-mapped cache of plans. It is the package's one
// piece of shared mutable state: bounded (planSlots plans of at most
// maxPlanKeys keys and maxPlanBytes bytes), safe for concurrent use, and
// invisible in the output.
type planCache struct {
	slots  [planSlots]atomic.Pointer[plan]
	recent [recentSlots]atomic.Pointer[plan] // by number of keys
}

// plans is the cache every Marshal uses.
var plans planCache

// hashSeed seeds keySetHash; fixed for the life of the process.
var hashSeed = maphash.MakeSeed()

// keySetHash is a hash of e's keys that does not depend on map order.
func keySetHash(e Event) uint64 {
	sum := uint64(len(e)) * 0x9e3779b97f4a7c15
	for k := range e {
		sum += maphash.String(hashSeed, k)
	}
	return sum
}

// appendEvent appends e as nested JSON: through the plan of its key set
// when that has been seen before, else by sorting its keys. The plan last
// used for events of e's size is tried first, which spares hashing the
// keys of a stream of one format.
func appendEvent(dst []byte, e Event) ([]byte, error) {
	if len(e) == 0 {
		return append(dst, '{', '}'), nil
	}
	if len(e) > maxPlanKeys {
		return appendSorted(dst, e)
	}
	recent := &plans.recent[len(e)&(recentSlots-1)]
	if p := recent.Load(); p != nil {
		if out, ok, err := p.append(dst, e); ok {
			return out, err
		}
	}
	h := keySetHash(e)
	slot := &plans.slots[h&(planSlots-1)]
	p := slot.Load()
	if p == nil || p.hash != h {
		// First sighting: a one-off key set must not cost a plan.
		slot.Store(&plan{hash: h})
		return appendSorted(dst, e)
	}
	if p.tooLarge {
		return appendSorted(dst, e)
	}
	if p.keys != nil {
		if out, ok, err := p.append(dst, e); ok {
			recent.Store(p)
			return out, err
		}
	}
	if p = newPlan(h, e); p.tooLarge {
		slot.Store(p)
		return appendSorted(dst, e)
	}
	slot.Store(p)
	recent.Store(p)
	out, _, err := p.append(dst, e)
	return out, err
}

// sizeHint is the capacity Marshal allocates for e: about the size of
// the last event written through the plan recent for e's size.
func sizeHint(e Event) int {
	if len(e) > 0 && len(e) <= maxPlanKeys {
		if p := plans.recent[len(e)&(recentSlots-1)].Load(); p != nil && p.size.Load() > 0 {
			n := int(p.size.Load())
			return n + n/8 + 16
		}
	}
	return 256 + 48*len(e)
}

// newPlan lays out e's key set, or returns a plan marked tooLarge when
// the layout would be too large to cache.
func newPlan(h uint64, e Event) *plan {
	keys := make([]string, 0, len(e))
	size := 0
	for k := range e {
		keys = append(keys, k)
		size += len(k)
	}
	if size > maxPlanBytes/2 {
		return &plan{hash: h, tooLarge: true}
	}
	slices.SortFunc(keys, comparePaths)
	p := &plan{hash: h, keys: keys}
	for i := 1; i < len(keys); i++ {
		if isParentPath(keys[i-1], keys[i]) {
			p.tree = true
			return p
		}
	}
	p.names = make([]string, len(keys))
	p.offs = make([]int32, 1, len(keys)+1)
	lit, _ := appendLayout(make([]byte, 0, 2*size+8), keys, func(lit []byte, i int, name string) ([]byte, error) {
		p.names[i] = name
		p.offs = append(p.offs, int32(len(lit)))
		return lit, nil
	})
	if len(lit) > maxPlanBytes {
		return &plan{hash: h, tooLarge: true}
	}
	p.lit = lit
	return p
}

// append writes e through the plan. It reports false, having written
// nothing, when e's key set is not the plan's.
func (p *plan) append(dst []byte, e Event) ([]byte, bool, error) {
	if len(e) != len(p.keys) {
		return dst, false, nil
	}
	if p.tree {
		for _, k := range p.keys {
			if _, ok := e[k]; !ok {
				return dst, false, nil
			}
		}
		out, err := appendNested(dst, e)
		return out, true, err
	}
	start := len(dst)
	lit, offs := p.lit, p.offs
	for i, k := range p.keys {
		v, ok := e[k]
		if !ok {
			return dst[:start], false, nil
		}
		dst = append(dst, lit[offs[i]:offs[i+1]]...)
		var err error
		if dst, err = appendValue(dst, p.names[i], v); err != nil {
			// The error is e's only if the rest of its keys are the plan's.
			for _, rest := range p.keys[i+1:] {
				if _, ok := e[rest]; !ok {
					return dst[:start], false, nil
				}
			}
			return dst[:start], true, fmt.Errorf("field %s: %w", k, err)
		}
	}
	dst = append(dst, lit[offs[len(p.keys)]:]...)
	if n, last := int32(min(len(dst)-start, math.MaxInt32)), p.size.Load(); n > last || n < last/2 {
		p.size.Store(n)
	}
	return dst, true, nil
}

// appendSorted writes e without a plan: it sorts the keys and lays them
// out, values in place.
func appendSorted(dst []byte, e Event) ([]byte, error) {
	var arr [32]string
	keys := arr[:0]
	if len(e) > len(arr) {
		keys = make([]string, 0, len(e))
	}
	for k := range e {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePaths)
	for i := 1; i < len(keys); i++ {
		if isParentPath(keys[i-1], keys[i]) {
			return appendNested(dst, e)
		}
	}
	return appendLayout(dst, keys, func(dst []byte, i int, name string) ([]byte, error) {
		out, err := appendValue(dst, name, e[keys[i]])
		if err != nil {
			return out, fmt.Errorf("field %s: %w", keys[i], err)
		}
		return out, nil
	})
}

// appendLayout writes keys (sorted by comparePaths, none the parent of
// another) as nested JSON in one pass, opening and closing objects as the
// path prefix changes; value writes the value of keys[i], whose last
// segment is name, after its key.
func appendLayout(dst []byte, keys []string, value func(dst []byte, i int, name string) ([]byte, error)) ([]byte, error) {
	var openArr [8]string
	var firstArr [9]bool
	open := openArr[:0]                 // the objects currently open, outermost first
	first := append(firstArr[:0], true) // per depth: nothing written yet at that level
	dst = append(dst, '{')
	for i, k := range keys {
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
				dst = append(dst, '}')
				open = open[:len(open)-1]
				first = first[:len(first)-1]
			}
			dst = appendKey(dst, &first[len(first)-1], seg)
			dst = append(dst, '{')
			open = append(open, seg)
			first = append(first, true)
			depth++
		}
		for len(open) > depth {
			dst = append(dst, '}')
			open = open[:len(open)-1]
			first = first[:len(first)-1]
		}
		dst = appendKey(dst, &first[len(first)-1], rest)
		var err error
		if dst, err = value(dst, i, rest); err != nil {
			return dst, err
		}
	}
	for range open {
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

func appendKey(dst []byte, first *bool, name string) []byte {
	if !*first {
		dst = append(dst, ',')
	}
	*first = false
	dst = appendString(dst, name)
	return append(dst, ':')
}

// appendValue writes one field value the way encoding/json does: strings,
// integers, booleans, finite floats and arrays of them without
// reflection, events nested, anything else through encoding/json. name
// (the key the value is written under) goes into encoding/json's errors.
func appendValue(dst []byte, name string, v any) ([]byte, error) {
	switch t := v.(type) {
	case string:
		return appendString(dst, t), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case float64:
		if !math.IsInf(t, 0) && !math.IsNaN(t) {
			return appendFloat(dst, t), nil
		}
	case Event:
		return appendEvent(dst, t)
	case []any:
		if simpleValues(t) {
			dst = append(dst, '[')
			for i, x := range t {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendSimple(dst, x)
			}
			return append(dst, ']'), nil
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("field %s: %w", name, err)
	}
	return append(dst, b...), nil
}

// appendSimple writes a value simpleValues accepts.
func appendSimple(dst []byte, v any) []byte {
	switch t := v.(type) {
	case string:
		return appendString(dst, t)
	case int64:
		return strconv.AppendInt(dst, t, 10)
	case int:
		return strconv.AppendInt(dst, int64(t), 10)
	case bool:
		return strconv.AppendBool(dst, t)
	case float64:
		return appendFloat(dst, t)
	}
	return dst
}

// simpleValues says whether appendSimple writes every element: strings,
// integers, booleans and finite floats.
func simpleValues(vs []any) bool {
	for _, v := range vs {
		switch t := v.(type) {
		case string, int64, int, bool:
		case float64:
			if math.IsInf(t, 0) || math.IsNaN(t) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// appendFloat writes a finite float64 as encoding/json does: like
// ECMAScript, in exponent form below 1e-6 and from 1e21 on.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7.
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// jsonSafe marks the ASCII bytes a JSON string holds as they are, with
// encoding/json's HTML escaping (<, > and & are escaped); read-only.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string exactly as encoding/json does:
// HTML characters, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD. Runs of bytes that need nothing are copied whole.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start, i := 0, 0
	for i < len(s) {
		for i+8 <= len(s) && !needsEscape(load64(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load64 reads s[i:i+8] as a little-endian word.
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// needsEscape says whether one of the 8 bytes of x is not jsonSafe: a
// control character, a byte of a multi-byte character, or one of " \ < > &.
func needsEscape(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	// (v - lo) &^ v has the high bit of a byte set above a zero byte of v,
	// (x - lo*0x20) &^ x above a byte below 0x20; bytes with the high bit
	// set are caught by x itself. " (0x22) and & (0x26) differ only in bit
	// 2, < (0x3c) and > (0x3e) only in bit 1.
	quoteAmp := (x | lo*0x04) ^ lo*0x26
	angle := (x | lo*0x02) ^ lo*0x3e
	backslash := x ^ lo*'\\'
	m := (x - lo*0x20) &^ x
	m |= (quoteAmp - lo) &^ quoteAmp
	m |= (angle - lo) &^ angle
	m |= (backslash - lo) &^ backslash
	return (m|x)&hi != 0
}

// pathNode is one segment of the tree the tree writer builds.
type pathNode struct {
	value    any
	hasValue bool
	children map[string]*pathNode
}

// appendNested writes an event where some path is both a value and a
// parent of other paths ("a" and "a.b") by building the tree of its
// paths.
func appendNested(dst []byte, e Event) ([]byte, error) {
	root := &pathNode{}
	for path, v := range e {
		n := root
		for _, part := range strings.Split(path, ".") {
			n = n.child(part)
		}
		n.value, n.hasValue = v, true
	}
	return root.append(dst)
}

func (n *pathNode) child(name string) *pathNode {
	if n.children == nil {
		n.children = make(map[string]*pathNode, 4)
	}
	c := n.children[name]
	if c == nil {
		c = &pathNode{}
		n.children[name] = c
	}
	return c
}

// sortedNames returns the names of n's children in byte order.
func (n *pathNode) sortedNames() []string {
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// append renders the children of n as one JSON object. A child that is
// both a value and a parent is written flat: its value under its own
// name, and its descendants under dotted names.
func (n *pathNode) append(dst []byte) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	var err error
	for _, name := range n.sortedNames() {
		c := n.children[name]
		if c.hasValue {
			dst = appendKey(dst, &first, name)
			if dst, err = appendValue(dst, name, c.value); err != nil {
				return dst, err
			}
			if c.children != nil {
				if dst, err = c.appendFlat(dst, &first, name); err != nil {
					return dst, err
				}
			}
			continue
		}
		dst = appendKey(dst, &first, name)
		if dst, err = c.append(dst); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func (n *pathNode) appendFlat(dst []byte, first *bool, prefix string) ([]byte, error) {
	var err error
	for _, name := range n.sortedNames() {
		c := n.children[name]
		path := prefix + "." + name
		if c.hasValue {
			dst = appendKey(dst, first, path)
			if dst, err = appendValue(dst, path, c.value); err != nil {
				return dst, err
			}
		}
		if c.children != nil {
			if dst, err = c.appendFlat(dst, first, path); err != nil {
				return dst, err
			}
		}
	}
	return dst, nil
}
