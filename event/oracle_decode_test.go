package event

// The single-pass decoder event.Unmarshal used before the allocation-lean
// rewrite, kept verbatim (identifiers prefixed with "old") as the oracle
// the differential tests and fuzz targets compare the current decoder
// with: the same events, the same accept/reject decisions, the same
// errors.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// oldUnmarshal decodes one JSON object into a flat Event. Nested objects are
// flattened into dotted paths; arrays are kept as values. Integers that fit
// int64 decode as int64, other numbers as float64. Anything after the
// object but white space is an error.
func oldUnmarshal(data []byte) (Event, error) {
	d := oldDecoder{data: data, path: make([]byte, 0, 64), keys: make([][]byte, 0, 16)}
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

// oldDecoder is a single-pass JSON reader that writes an object's leaves
// straight into a flat Event: no intermediate map tree. Values inside
// arrays are decoded like encoding/json does (objects as map[string]any).
// Anything unusual in a string (escapes, invalid UTF-8) is handed to
// encoding/json, so the results match it exactly.
type oldDecoder struct {
	data []byte
	pos  int
	path []byte   // the dotted path of the object being read
	keys [][]byte // the keys of the objects being read, for duplicates
	// doc is data as one string, made at the first string value that is
	// not interned: every plain string value is a substring of it, so an
	// event's strings cost one allocation, not one each.
	doc   string
	elems []any // the elements of the arrays being read
}

func (d *oldDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decode event: "+format+" at byte %d", append(args, d.pos)...)
}

func (d *oldDecoder) space() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// object reads the members of an object whose '{' was consumed, storing
// leaves under the path in d.path. Paths and keys the intern table knows
// are not allocated.
func (d *oldDecoder) object(e Event, depth int) error {
	if depth > 10000 {
		return d.errorf("exceeded max depth")
	}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return nil
	}
	base := len(d.path)
	seen := len(d.keys)
	defer func() { d.keys = d.keys[:seen] }()
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.errorf("expected a string key")
		}
		key, err := d.strBytes()
		if err != nil {
			return err
		}
		for _, k := range d.keys[seen:] {
			if bytes.Equal(k, key) {
				return errDuplicateKey
			}
		}
		d.keys = append(d.keys, key)
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.errorf("expected ':' after key %q", key)
		}
		d.pos++
		d.space()
		if base > 0 {
			d.path = append(d.path, '.')
		}
		d.path = append(d.path, key...)
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			d.pos++
			if err := d.object(e, depth+1); err != nil {
				return err
			}
		} else {
			v, err := d.value(depth + 1)
			if err != nil {
				return err
			}
			e[interned.intern(d.path)] = v
		}
		d.path = d.path[:base]
		d.space()
		if d.pos >= len(d.data) {
			return d.errorf("unexpected end of JSON")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.errorf("invalid character %q after object member", d.data[d.pos])
		}
	}
}

// value reads any JSON value at d.pos.
func (d *oldDecoder) value(depth int) (any, error) {
	if depth > 10000 {
		return nil, d.errorf("exceeded max depth")
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of JSON")
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return d.strValue()
	case c == '{':
		// An object inside an array: kept nested, as encoding/json would.
		start := d.pos
		if err := d.skip(depth); err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader(d.data[start:d.pos]))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("decode event: %w", err)
		}
		return NormalizeNumbers(m), nil
	case c == '[':
		d.pos++
		d.space()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			return []any{}, nil
		}
		// The elements gather on d.elems (nested arrays above them) and are
		// copied into a slice of their exact length at the end.
		base := len(d.elems)
		for {
			d.space()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.elems = append(d.elems, v)
			d.space()
			if d.pos >= len(d.data) {
				return nil, d.errorf("unexpected end of JSON")
			}
			switch d.data[d.pos] {
			case ',':
				d.pos++
			case ']':
				d.pos++
				out := slices.Clone(d.elems[base:])
				clear(d.elems[base:])
				d.elems = d.elems[:base]
				return out, nil
			default:
				return nil, d.errorf("invalid character %q in array", d.data[d.pos])
			}
		}
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number()
	}
	return nil, d.errorf("invalid character %q looking for a value", d.data[d.pos])
}

func (d *oldDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal")
	}
	d.pos += len(word)
	return nil
}

// number reads a JSON number: int64 when it is an integer that fits,
// float64 otherwise (as normalize does for json.Number).
func (d *oldDecoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	intStart := d.pos
	if n := digits(); n == 0 || n > 1 && d.data[intStart] == '0' {
		return nil, d.errorf("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if i, ok := oldSmallInt(d.data[start:d.pos]); ok {
		return i, nil
	}
	text := string(d.data[start:d.pos])
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Out of float64 range: encoding/json fails the same way.
		return nil, d.errorf("number %s out of range", text)
	}
	return f, nil
}

// oldSmallInt parses an integer of at most 18 digits (which always fits
// int64) without allocating; anything else is left to strconv.
func oldSmallInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// str reads a string at d.pos ('"'). Known strings are not allocated.
func (d *oldDecoder) str() (string, error) {
	start := d.pos
	raw, simple, err := d.scanString()
	if err != nil {
		return "", err
	}
	if simple {
		if len(raw) <= 32 {
			if s, ok := interned[string(raw)]; ok {
				return s, nil
			}
		}
		return d.substr(start+1, d.pos-1), nil
	}
	if s, ok := oldUnescape(raw); ok {
		return s, nil
	}
	var s string
	if err := unmarshalStd(d.data[start:d.pos], &s); err != nil {
		return "", err
	}
	return s, nil
}

// strValue is str as a value: a known string comes boxed already, so
// storing it in the event allocates nothing.
func (d *oldDecoder) strValue() (any, error) {
	start := d.pos
	raw, simple, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if simple {
		if len(raw) <= 32 {
			if v, ok := boxed[string(raw)]; ok {
				return v, nil
			}
		}
		return d.substr(start+1, d.pos-1), nil
	}
	if s, ok := oldUnescape(raw); ok {
		return s, nil
	}
	var s string
	if err := unmarshalStd(d.data[start:d.pos], &s); err != nil {
		return nil, err
	}
	return s, nil
}

// substr returns data[from:to] as a substring of d.doc.
func (d *oldDecoder) substr(from, to int) string {
	if from == to {
		return ""
	}
	if d.doc == "" {
		d.doc = string(d.data)
	}
	return d.doc[from:to]
}

// oldUnescape decodes a JSON string's raw content holding escapes. It
// declines (false) what it leaves to encoding/json: invalid UTF-8, \u
// escapes of surrogates, anything malformed.
func oldUnescape(raw []byte) (string, bool) {
	if !utf8.Valid(raw) {
		return "", false
	}
	buf := make([]byte, 0, len(raw))
	for {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			buf = append(buf, raw...)
			return string(buf), true
		}
		buf = append(buf, raw[:i]...)
		if i+1 >= len(raw) {
			return "", false
		}
		c := raw[i+1]
		raw = raw[i+2:]
		switch c {
		case '"', '\\', '/':
			buf = append(buf, c)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if len(raw) < 4 {
				return "", false
			}
			var r rune
			for _, h := range raw[:4] {
				switch {
				case '0' <= h && h <= '9':
					r = r<<4 | rune(h-'0')
				case 'a' <= h && h <= 'f':
					r = r<<4 | rune(h-'a'+10)
				case 'A' <= h && h <= 'F':
					r = r<<4 | rune(h-'A'+10)
				default:
					return "", false
				}
			}
			if utf16.IsSurrogate(r) {
				return "", false
			}
			buf = utf8.AppendRune(buf, r)
			raw = raw[4:]
		default:
			return "", false
		}
	}
}

// strBytes reads a string at d.pos ('"') and returns its decoded bytes:
// a slice of the input when it has no escapes, a copy otherwise.
func (d *oldDecoder) strBytes() ([]byte, error) {
	start := d.pos
	raw, simple, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if simple {
		return raw, nil
	}
	var s string
	if err := unmarshalStd(d.data[start:d.pos], &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// scanString moves past a string at d.pos ('"'), returning its raw
// content and whether it is plain (valid UTF-8 without escapes).
func (d *oldDecoder) scanString() (raw []byte, simple bool, err error) {
	start := d.pos
	d.pos++
	simple = true
	ascii := true
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c >= 0x20 && c != '"' && c != '\\' && c < 0x80:
			d.pos++
		case c == '"':
			d.pos++
			raw = d.data[start+1 : d.pos-1]
			return raw, simple && (ascii || utf8.Valid(raw)), nil
		case c == '\\':
			simple = false
			d.pos += 2
		case c < 0x20:
			return nil, false, d.errorf("invalid control character in string")
		default:
			ascii = false
			d.pos++
		}
	}
	return nil, false, d.errorf("unterminated string")
}

// skip moves past one value (used for objects inside arrays).
func (d *oldDecoder) skip(depth int) error {
	if depth > 10000 {
		return d.errorf("exceeded max depth")
	}
	switch d.data[d.pos] {
	case '{':
		d.pos++
		d.space()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return nil
		}
		for {
			d.space()
			if d.pos >= len(d.data) || d.data[d.pos] != '"' {
				return d.errorf("expected a string key")
			}
			if _, err := d.str(); err != nil {
				return err
			}
			d.space()
			if d.pos >= len(d.data) || d.data[d.pos] != ':' {
				return d.errorf("expected ':'")
			}
			d.pos++
			d.space()
			if d.pos >= len(d.data) {
				return d.errorf("unexpected end of JSON")
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.space()
			if d.pos >= len(d.data) {
				return d.errorf("unexpected end of JSON")
			}
			if d.data[d.pos] == '}' {
				d.pos++
				return nil
			}
			if d.data[d.pos] != ',' {
				return d.errorf("invalid character %q after object member", d.data[d.pos])
			}
			d.pos++
		}
	default:
		_, err := d.value(depth + 1)
		return err
	}
}

// boxed holds the strings of interned as values of type any, so that
// storing one in an event does not allocate its interface; read-only.
var boxed = boxAll(interned)

func boxAll(t internTable) map[string]any {
	m := make(map[string]any, len(t))
	for k, s := range t {
		m[k] = s
	}
	return m
}

// intern returns b as a string, without allocating when it is known.
func (t internTable) intern(b []byte) string {
	if s, ok := t[string(b)]; ok {
		return s
	}
	return string(b)
}
