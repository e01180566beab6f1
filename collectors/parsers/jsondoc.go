package parsers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Limits of the JSON document readers (Windows and CloudTrail exports).
const (
	// MaxRecordBytes is the largest JSON value read as one record; a
	// larger one is emitted flagged (its first MaxJunkBytes) and skipped.
	MaxRecordBytes = 64 << 20
	// MaxJunkBytes is how much of skipped data a flagged event keeps.
	MaxJunkBytes = 64 << 10
)

// Clip returns raw as a string of at most MaxJunkBytes, for a flagged
// event's event.original.
func Clip(raw []byte) string {
	if len(raw) > MaxJunkBytes {
		raw = raw[:MaxJunkBytes]
	}
	return string(raw)
}

// ScanJSONValues splits r into top-level JSON objects and arrays by counting
// brackets outside strings. value gets each one with the offset of its
// first byte; junk gets runs of other non-blank bytes up to the end of
// their line or the next object (at most MaxJunkBytes of them; a [ inside
// a run starts no value), truncated values at the end of the stream and
// values over MaxRecordBytes, with a reason. It returns the first error of
// value, junk or the reader.
func ScanJSONValues(r io.Reader, value func(off int64, raw []byte) error, junk func(off int64, raw []byte, reason string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		buf       []byte
		pos       int64 // offset of the next byte read
		start     int64 // offset of buf[0]
		depth     int
		inString  bool
		escaped   bool
		inValue   bool
		oversized bool
		junkRun   bool
	)
	flushJunk := func() error {
		if !junkRun {
			return nil
		}
		junkRun = false
		b := buf
		buf = buf[:0]
		return junk(start, b, "not JSON: data between records skipped")
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return fmt.Errorf("read at byte %d: %w", pos, err)
			}
			if inValue {
				return junk(start, buf, "truncated JSON value at end of stream")
			}
			return flushJunk()
		}
		pos++
		if !inValue {
			switch {
			case c == '\n' && junkRun:
				// A run of junk ends with its line: a log of another
				// format is flagged line by line, each line whole.
				buf = bytes.TrimSuffix(buf, []byte("\r"))
				if err := flushJunk(); err != nil {
					return err
				}
			case c == '{' || c == '[' && !junkRun:
				// An object starts a value anywhere, after junk too
				// ({"a":1},{"b":2}, or a prefix before a record): the
				// records are objects. An array starts one only where no
				// junk precedes it on its line: inside a line of
				// another format a bracket (sshd[24200]) is no value.
				if err := flushJunk(); err != nil {
					return err
				}
				inValue, depth, inString, escaped, oversized = true, 1, false, false, false
				start = pos - 1
				buf = append(buf[:0], c)
			case c == ' ' || c == '\t' || c == '\r' || c == '\n' || (pos <= 3 && (c == 0xEF || c == 0xBB || c == 0xBF)):
				if junkRun && len(buf) < MaxJunkBytes {
					buf = append(buf, c)
				}
			default:
				if !junkRun {
					junkRun, start, buf = true, pos-1, buf[:0]
				}
				if len(buf) < MaxJunkBytes {
					buf = append(buf, c)
				}
			}
			continue
		}
		if !oversized {
			buf = append(buf, c)
			if len(buf) > MaxRecordBytes {
				oversized = true
				if err := junk(start, buf[:MaxJunkBytes], fmt.Sprintf("JSON value larger than %d bytes skipped", MaxRecordBytes)); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				inValue = false
				if oversized {
					continue
				}
				b := buf
				buf = buf[:0]
				if err := value(start, b); err != nil {
					return err
				}
			}
		}
	}
}

// ArrayElements calls fn for each element of the JSON array raw with the
// offset of its first byte in raw. An array that is not valid JSON is
// reported once through bad.
func ArrayElements(raw []byte, fn func(off int, elem []byte) error, bad func(reason string) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return bad("invalid JSON array: " + err.Error())
	}
	type span struct{ off, end int }
	var spans []span
	for dec.More() {
		off := SkipSeparators(raw, int(dec.InputOffset()))
		var m json.RawMessage
		if err := dec.Decode(&m); err != nil {
			return bad(fmt.Sprintf("invalid JSON array element at byte %d: %v", off, err))
		}
		spans = append(spans, span{off, int(dec.InputOffset())})
	}
	for _, s := range spans {
		if err := fn(s.off, raw[s.off:s.end]); err != nil {
			return err
		}
	}
	return nil
}

// SkipSeparators returns the index of the first byte at or after i that
// is not white space or a comma (between array elements).
func SkipSeparators(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\r' || raw[i] == '\n' || raw[i] == ',') {
		i++
	}
	return i
}

// DecodeJSONObject decodes one JSON object (numbers as json.Number) and
// returns it, or the reason it is not one; unit names what raw is in the
// reason ("line", "record").
func DecodeJSONObject(raw []byte, unit string) (map[string]any, string) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, "not JSON: empty " + unit
	}
	if raw[0] != '{' {
		return nil, "not JSON: " + unit + " does not start with {"
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, "not JSON: " + err.Error()
	}
	if dec.InputOffset() != int64(len(raw)) {
		return nil, "not JSON: data after the object at byte " + strconv.FormatInt(dec.InputOffset(), 10)
	}
	return obj, ""
}
