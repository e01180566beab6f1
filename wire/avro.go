package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/vigil-siem/vigil/event"
)

// maxDepth bounds nesting in both directions, as event.Unmarshal does for
// JSON.
const maxDepth = 10000

// appendEvent appends the Avro binary encoding of ev (one Event record of
// Schema) to dst. Map keys are written sorted, so one event always
// encodes to the same bytes.
func appendEvent(dst []byte, ev event.Event) ([]byte, error) {
	if len(ev) == 0 {
		return append(dst, 0), nil
	}
	keys := make([]string, 0, len(ev))
	for k := range ev {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = appendLong(dst, int64(len(keys)))
	var err error
	for _, k := range keys {
		dst = appendString(dst, k)
		// A nil []any at the top level is written as [] by event.Marshal,
		// nested ones as null (encoding/json).
		if v, ok := ev[k].([]any); ok && v == nil {
			dst = append(dst, branchArray<<1, 0)
			continue
		}
		if dst, err = appendValue(dst, ev[k], 0); err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
	}
	return append(dst, 0), nil
}

// appendValue appends one Value: the union branch, then its value. Types
// with no branch of their own (float32, time.Time, structs, event.Event)
// are written as the JSON value encoding/json makes of them, so the
// decoded event marshals to the same JSON.
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	switch t := v.(type) {
	case nil:
		return append(dst, branchNull<<1), nil
	case string:
		return appendString(append(dst, branchString<<1), t), nil
	case bool:
		if t {
			return append(dst, branchBoolean<<1, 1), nil
		}
		return append(dst, branchBoolean<<1, 0), nil
	case int64:
		return appendLong(append(dst, branchLong<<1), t), nil
	case int:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case int32:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case int16:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case int8:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case uint32:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case uint16:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case uint8:
		return appendLong(append(dst, branchLong<<1), int64(t)), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v has no JSON form", t)
		}
		if i, ok := jsonInteger(t); ok {
			return appendLong(append(dst, branchLong<<1), i), nil
		}
		return binary.LittleEndian.AppendUint64(append(dst, branchDouble<<1), math.Float64bits(t)), nil
	case []any:
		if t == nil {
			return append(dst, branchNull<<1), nil
		}
		dst = append(dst, branchArray<<1)
		if len(t) == 0 {
			return append(dst, 0), nil
		}
		dst = appendLong(dst, int64(len(t)))
		var err error
		for i, x := range t {
			if dst, err = appendValue(dst, x, depth+1); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return append(dst, 0), nil
	case []string:
		if t == nil {
			return append(dst, branchNull<<1), nil
		}
		dst = append(dst, branchArray<<1)
		if len(t) == 0 {
			return append(dst, 0), nil
		}
		dst = appendLong(dst, int64(len(t)))
		for _, s := range t {
			dst = appendString(append(dst, branchString<<1), s)
		}
		return append(dst, 0), nil
	case map[string]any:
		if t == nil {
			return append(dst, branchNull<<1), nil
		}
		dst = append(dst, branchMap<<1)
		if len(t) == 0 {
			return append(dst, 0), nil
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = appendLong(dst, int64(len(keys)))
		var err error
		for _, k := range keys {
			dst = appendString(dst, k)
			if dst, err = appendValue(dst, t[k], depth+1); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return append(dst, 0), nil
	}
	generic, err := jsonValue(v)
	if err != nil {
		return nil, err
	}
	return appendValue(dst, generic, depth)
}

// jsonInteger says whether JSON writes f as an integer that fits a long
// (2230.0 is written 2230), and returns that integer: such a float is
// carried as a long, which is what a consumer of the JSON record reads.
// -0 stays a double, since JSON writes it "-0".
func jsonInteger(f float64) (int64, bool) {
	if f != math.Trunc(f) || f == 0 && math.Signbit(f) {
		return 0, false
	}
	if math.Abs(f) < 1<<53 {
		return int64(f), true
	}
	if math.Abs(f) >= 1e21 { // encoding/json switches to exponent form
		return 0, false
	}
	i, err := strconv.ParseInt(strconv.FormatFloat(f, 'f', -1, 64), 10, 64)
	return i, err == nil
}

// jsonValue turns a value of any other type into what decoding its JSON
// form gives: strings, int64 (integers that fit), float64, bools, nil,
// []any and map[string]any.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%T has no JSON form: %w", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("%T: re-read its JSON form: %w", v, err)
	}
	return event.NormalizeNumbers(out), nil
}

func appendLong(dst []byte, n int64) []byte {
	return binary.AppendUvarint(dst, uint64(n<<1)^uint64(n>>63))
}

func appendString(dst []byte, s string) []byte {
	return append(appendLong(dst, int64(len(s))), s...)
}

// reader decodes Avro binary from a byte slice. Every length and count
// is checked against the bytes left before anything is allocated. As in
// event.Unmarshal, string values are substrings of one copy of the
// record, made at the first string value: an event's strings cost one
// allocation, not one each. Field names go through readEvent's intern
// instead, so they do not hold the record.
type reader struct {
	b   []byte
	doc string // b as a string, once a string value needed it
	pos int
}

// errTruncated says the record ended before the schema did.
var errTruncated = errors.New("record ends early (truncated?)")

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("Avro byte %d: %s", r.pos, fmt.Sprintf(format, args...))
}

func (r *reader) long() (int64, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if r.pos >= len(r.b) {
			return 0, r.errorf("%v", errTruncated)
		}
		c := r.b[r.pos]
		r.pos++
		if shift == 63 && c > 1 {
			return 0, r.errorf("varint overflows a long")
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

// bytes reads the bytes of a string.
func (r *reader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(r.b)-r.pos) {
		return nil, r.errorf("string of %d bytes with %d left", n, len(r.b)-r.pos)
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// str reads a string value.
func (r *reader) str() (string, error) {
	b, err := r.bytes()
	if err != nil || len(b) == 0 {
		return "", err
	}
	if r.doc == "" {
		r.doc = string(r.b)
	}
	end := r.pos
	return r.doc[end-len(b) : end], nil
}

// blockCount reads the item count of the next array or map block; minSize
// is the fewest bytes one item takes. A negative count is followed by
// the block's size in bytes, which is read and ignored.
func (r *reader) blockCount(minSize int) (int, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, r.errorf("bad block count")
		}
		n = -n
		size, err := r.long()
		if err != nil {
			return 0, err
		}
		if size < 0 {
			return 0, r.errorf("negative block size")
		}
	}
	if left := len(r.b) - r.pos; n > int64(left/minSize) {
		return 0, r.errorf("block of %d items with %d bytes left", n, left)
	}
	return int(n), nil
}

// readEvent decodes one Event record; the record must use every byte.
// intern, when not nil, returns the field name for its bytes.
func readEvent(b []byte, intern func([]byte) string) (event.Event, error) {
	r := reader{b: b}
	ev := make(event.Event, 32)
	for {
		n, err := r.blockCount(2)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			break
		}
		for range n {
			kb, err := r.bytes()
			if err != nil {
				return nil, err
			}
			var k string
			if intern != nil {
				k = intern(kb)
			} else {
				k = string(kb)
			}
			v, err := r.value(0)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", quoteKey(k), err)
			}
			ev[k] = v
		}
	}
	if r.pos != len(r.b) {
		return nil, r.errorf("%d bytes after the record", len(r.b)-r.pos)
	}
	return ev, nil
}

// value decodes one Value.
func (r *reader) value(depth int) (any, error) {
	if depth > maxDepth {
		return nil, r.errorf("nested too deeply")
	}
	branch, err := r.long()
	if err != nil {
		return nil, err
	}
	switch branch {
	case branchNull:
		return nil, nil
	case branchBoolean:
		if r.pos >= len(r.b) {
			return nil, r.errorf("%v", errTruncated)
		}
		c := r.b[r.pos]
		r.pos++
		if c > 1 {
			return nil, r.errorf("boolean byte %d", c)
		}
		return c == 1, nil
	case branchLong:
		return r.long()
	case branchDouble:
		if len(r.b)-r.pos < 8 {
			return nil, r.errorf("%v", errTruncated)
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.pos:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, r.errorf("double %v has no JSON form", f)
		}
		r.pos += 8
		return f, nil
	case branchString:
		return r.str()
	case branchArray:
		out := []any{}
		for {
			n, err := r.blockCount(1)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return out, nil
			}
			out = slices.Grow(out, n)
			for range n {
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
		}
	case branchMap:
		out := map[string]any{}
		for {
			n, err := r.blockCount(2)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return out, nil
			}
			for range n {
				k, err := r.str()
				if err != nil {
					return nil, err
				}
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", quoteKey(k), err)
				}
				out[k] = v
			}
		}
	}
	return nil, r.errorf("union branch %d of Value (0-%d)", branch, branchCount-1)
}

// quoteKey renders a decoded key for an error message: quoted, and cut
// at 64 bytes, since it is outside input.
func quoteKey(k string) string {
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return strconv.Quote(k)
}
