package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// errDuplicateKey sends a document with a repeated key in one object to
// the map-based decoder, whose last-one-wins rule it then follows exactly.
var errDuplicateKey = errors.New("duplicate key")

// unmarshal is Unmarshal: one pass over the document.
func unmarshal(data []byte) (Event, error) {
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	d := decoder{data: data}
	d.space()
	if d.pos >= len(data) || data[d.pos] != '{' {
		return nil, d.errorf("not a JSON object")
	}
	d.pos++
	// Room for a typical event without growing, in one allocation of 32
	// slots (a hint above 28 takes 64): collectors write 10 to 25 fields.
	e := make(Event, 28)
	err := d.object(e, 0, sc)
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

// decoder is a single-pass JSON reader that writes an object's leaves
// straight into a flat Event: no intermediate map tree. Values inside
// arrays are decoded like encoding/json does (objects as map[string]any).
// Anything unusual in a string (escapes, invalid UTF-8) is handed to
// encoding/json, so the results match it exactly.
//
// It allocates little per event: known paths and values come from the
// known table, the bytes of the others share one buffer (text.go), and
// the headers and array elements of an event share chunks (box.go).
type decoder struct {
	data []byte
	pos  int
	// text holds the bytes of the event's strings and paths that are not
	// known, written once each and never changed: one allocation, sized
	// by the rest of the document, holds them all (see text.go).
	text strings.Builder
	box  boxes // the headers of the event's strings and arrays, and their elements
}

// scratch is the decoder's working memory, of which nothing outlives a
// call: pooled, as the compiler would move it to the heap every call.
type scratch struct {
	path  []byte   // the dotted path of the object being read
	keys  [][]byte // the keys of the objects being read, for duplicates
	elems []any    // the elements of the arrays being read
	// keysUsed and elemsUsed are the most keys and elements held, cleared
	// on release so the pool holds no references to the input.
	keysUsed, elemsUsed int
}

// scratchPool holds scratch memory for decoders.
var scratchPool = sync.Pool{New: func() any {
	return &scratch{path: make([]byte, 0, 128), keys: make([][]byte, 0, 32), elems: make([]any, 0, 32)}
}}

// maxPooled bounds the scratch slices kept for the next call: a freak
// document (thousands of keys in one object) does not pin its memory.
const maxPooled = 4096

// release returns sc to the pool, holding no references to the input.
func (sc *scratch) release() {
	if cap(sc.path) > maxPooled || cap(sc.keys) > maxPooled || cap(sc.elems) > maxPooled {
		return
	}
	clear(sc.keys[:sc.keysUsed])
	clear(sc.elems[:sc.elemsUsed])
	sc.path, sc.keys, sc.elems = sc.path[:0], sc.keys[:0], sc.elems[:0]
	sc.keysUsed, sc.elemsUsed = 0, 0
	scratchPool.Put(sc)
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decode event: "+format+" at byte %d", append(args, d.pos)...)
}

// space moves past white space. Documents Vigil writes have none: one
// compare (no byte above ' ' is space) settles the usual case.
func (d *decoder) space() {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return
	}
	d.spaceRun()
}

// spaceRun moves past a run of white space.
func (d *decoder) spaceRun() {
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
// leaves under the path in sc.path. Known paths are not allocated.
func (d *decoder) object(e Event, depth int, sc *scratch) error {
	if depth > 10000 {
		return d.errorf("exceeded max depth")
	}
	d.space()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return nil
	}
	base := len(sc.path)
	seen := len(sc.keys) // this object's keys follow; dropped at its end
	// keyBits has a bit per key read, from its length and end bytes: the
	// keys are compared only when a new one's bit is set already.
	var keyBits uint64
	for {
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return d.errorf("expected a string key")
		}
		key, err := d.strBytes()
		if err != nil {
			return err
		}
		bit := uint64(1) << keyBit(key)
		if keyBits&bit != 0 {
			for _, k := range sc.keys[seen:] {
				if bytes.Equal(k, key) {
					return errDuplicateKey
				}
			}
		}
		keyBits |= bit
		sc.keys = append(sc.keys, key)
		sc.keysUsed = max(sc.keysUsed, len(sc.keys))
		d.space()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.errorf("expected ':' after key %q", key)
		}
		d.pos++
		d.space()
		if base > 0 {
			sc.path = append(sc.path, '.')
		}
		sc.path = append(sc.path, key...)
		if d.pos < len(d.data) && d.data[d.pos] == '{' {
			d.pos++
			if err := d.object(e, depth+1, sc); err != nil {
				return err
			}
		} else {
			v, err := d.value(depth+1, sc)
			if err != nil {
				return err
			}
			if k := known.find(sc.path); k != nil {
				e[k.s] = v
			} else {
				e[d.keep(sc.path)] = v
			}
		}
		sc.path = sc.path[:base]
		d.space()
		if d.pos >= len(d.data) {
			return d.errorf("unexpected end of JSON")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			sc.keys = sc.keys[:seen]
			return nil
		default:
			return d.errorf("invalid character %q after object member", d.data[d.pos])
		}
	}
}

// keyBit maps a key to one of 64 bits by its length and end bytes.
func keyBit(key []byte) uint {
	if len(key) == 0 {
		return 0
	}
	return uint(len(key)*7+int(key[0])*3+int(key[len(key)-1])) & 63
}

// value reads any JSON value at d.pos.
func (d *decoder) value(depth int, sc *scratch) (any, error) {
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
		if err := d.skip(depth, sc); err != nil {
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
		// The elements gather on sc.elems (nested arrays above them) and are
		// copied into the chunk at the end.
		base := len(sc.elems)
		for {
			d.space()
			v, err := d.value(depth+1, sc)
			if err != nil {
				return nil, err
			}
			sc.elems = append(sc.elems, v)
			sc.elemsUsed = max(sc.elemsUsed, len(sc.elems))
			d.space()
			if d.pos >= len(d.data) {
				return nil, d.errorf("unexpected end of JSON")
			}
			switch d.data[d.pos] {
			case ',':
				d.pos++
			case ']':
				d.pos++
				out := d.box.array(sc.elems[base:])
				clear(sc.elems[base:])
				sc.elems = sc.elems[:base]
				return d.box.slice(out), nil
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

func (d *decoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return d.errorf("invalid literal")
	}
	d.pos += len(word)
	return nil
}

// number reads a JSON number: int64 when it is an integer that fits,
// float64 otherwise (as normalize does for json.Number).
func (d *decoder) number() (any, error) {
	start := d.pos
	if d.data[d.pos] == '-' {
		d.pos++
	}
	intStart := d.pos
	if n := d.digits(); n == 0 || n > 1 && d.data[intStart] == '0' {
		return nil, d.errorf("invalid number")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if d.digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if d.digits() == 0 {
			return nil, d.errorf("invalid number")
		}
	}
	if i, ok := smallInt(d.data[start:d.pos]); ok {
		return d.box.int(i), nil
	}
	text := string(d.data[start:d.pos])
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return d.box.int(i), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Out of float64 range: encoding/json fails the same way.
		return nil, d.errorf("number %s out of range", text)
	}
	return f, nil
}

// digits moves past a run of decimal digits and returns its length.
func (d *decoder) digits() int {
	start := d.pos
	for d.pos < len(d.data) && d.data[d.pos] >= '0' && d.data[d.pos] <= '9' {
		d.pos++
	}
	return d.pos - start
}

// validString moves past a string at d.pos ('"'), failing as decoding
// it would.
func (d *decoder) validString() error {
	start := d.pos
	raw, simple, err := d.scanString()
	if err != nil || simple {
		return err
	}
	if validEscapes(raw) {
		return nil
	}
	var s string
	return unmarshalStd(d.data[start:d.pos], &s)
}

// strValue reads a string value at d.pos ('"'): a known string comes
// boxed already, so storing it in the event allocates nothing; others
// are kept in d.text and boxed in the event's chunk.
func (d *decoder) strValue() (any, error) {
	start := d.pos
	raw, simple, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if simple {
		if k := known.find(raw); k != nil {
			return k.v, nil
		}
		return d.box.str(d.keep(raw)), nil
	}
	if s, ok := d.unescapeText(raw); ok {
		return d.box.str(s), nil
	}
	var s string
	if err := unmarshalStd(d.data[start:d.pos], &s); err != nil {
		return nil, err
	}
	return s, nil
}

// strBytes reads a string at d.pos ('"') and returns its decoded bytes:
// a slice of the input when it has no escapes, a copy otherwise.
func (d *decoder) strBytes() ([]byte, error) {
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

// Eight bytes at a time: swarOnes has 1 in each byte, swarHigh the top bit.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// plainWord says whether none of the eight bytes of w ends a string, starts
// an escape, is a control character or is not ASCII.
func plainWord(w uint64) bool {
	quote := w ^ (swarOnes * '"')
	slash := w ^ (swarOnes * '\\')
	special := (quote - swarOnes) &^ quote
	special |= (slash - swarOnes) &^ slash
	special |= (w - swarOnes*0x20) &^ w // a byte below 0x20
	special |= w                        // a byte from 0x80
	return special&swarHigh == 0
}

// shortString finds a quote in the eight bytes of w with only plain
// ASCII before it, and returns its position. The lowest flagged byte of
// each test below is exact (a borrow only runs up from a flagged byte).
func shortString(w uint64) (int, bool) {
	quote := w ^ (swarOnes * '"')
	quotes := (quote - swarOnes) &^ quote & swarHigh
	if quotes == 0 {
		return 0, false
	}
	slash := w ^ (swarOnes * '\\')
	special := (slash - swarOnes) &^ slash
	special |= (w - swarOnes*0x20) &^ w // a byte below 0x20
	special |= w                        // a byte from 0x80
	special &= swarHigh
	q := bits.TrailingZeros64(quotes)
	if special != 0 && bits.TrailingZeros64(special) < q {
		return 0, false
	}
	return q / 8, true
}

// plainASCII says whether b holds no backslash, control character or
// byte from 0x80.
func plainASCII(b []byte) bool {
	if bytes.IndexByte(b, '\\') >= 0 {
		return false
	}
	var bad uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		bad |= w - swarOnes*0x20 | w
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 || b[i] >= 0x80 {
			return false
		}
	}
	return bad&swarHigh == 0
}

// scanString moves past a string at d.pos ('"'), returning its raw
// content and whether it is plain (valid UTF-8 without escapes). Runs of
// plain ASCII are skipped eight bytes at a time.
func (d *decoder) scanString() (raw []byte, simple bool, err error) {
	start := d.pos
	d.pos++
	// A short string (most keys) ends within the next eight bytes.
	if d.pos+8 <= len(d.data) {
		if n, ok := shortString(binary.LittleEndian.Uint64(d.data[d.pos:])); ok {
			raw = d.data[d.pos : d.pos+n]
			d.pos += n + 1
			return raw, true, nil
		}
	}
	// Most others are plain ASCII up to the first quote, found at once.
	if q := bytes.IndexByte(d.data[d.pos:], '"'); q >= 0 {
		if span := d.data[d.pos : d.pos+q]; plainASCII(span) {
			d.pos += q + 1
			return span, true, nil
		}
	}
	simple = true
	ascii := true
	for {
		for d.pos+8 <= len(d.data) && plainWord(binary.LittleEndian.Uint64(d.data[d.pos:])) {
			d.pos += 8
		}
		if d.pos >= len(d.data) {
			break
		}
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
func (d *decoder) skip(depth int, sc *scratch) error {
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
			if err := d.validString(); err != nil {
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
			if err := d.skip(depth+1, sc); err != nil {
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
		_, err := d.value(depth+1, sc)
		return err
	}
}

// smallInt parses an integer of at most 18 digits (which always fits
// int64) without allocating; anything else is left to strconv.
func smallInt(b []byte) (int64, bool) {
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

func unmarshalStd(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	return nil
}

// unmarshalTree decodes through encoding/json into a map tree and
// flattens it: the slow path, for documents with duplicate keys.
func unmarshalTree(data []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decode event: trailing data after the JSON object")
	}
	e := make(Event, len(obj)+16)
	flatten(e, "", obj)
	return e, nil
}

func flatten(e Event, prefix string, obj map[string]any) {
	for k, v := range obj {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch t := v.(type) {
		case map[string]any:
			flatten(e, path, t)
		default:
			e[path] = NormalizeNumbers(v)
		}
	}
}
