package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Field names Vigil sets on every event it reads.
const (
	FieldTimestamp  = "@timestamp"
	FieldID         = "vigil.event_id"
	FieldCollector  = "vigil.collector"
	FieldReceivedAt = "vigil.received_at"
	FieldOriginal   = "event.original"
	// FieldRepeat is the number of occurrences one event stands for, set
	// when syslog folded identical lines ("message repeated 5 times").
	FieldRepeat = "vigil.repeat_count"
	// FieldParseError says why a line could not be parsed; such an event is
	// still delivered, with event.kind pipeline_error and the raw line.
	FieldParseError = "vigil.parse_error"
)

// Event is one ECS event, keyed by dotted field path. Values are strings,
// numbers, booleans, []any, or map[string]any for values that are objects
// by nature (matched events inside an alert).
type Event map[string]any

// New returns an empty event with room for a typical parsed log line.
func New() Event { return make(Event, 24) }

// Get returns the value at a dotted path, or nil when it is absent.
func (e Event) Get(path string) any { return e[path] }

// String returns the value at path as a string, or "" when it is absent or
// not a string.
func (e Event) String(path string) string {
	s, _ := e[path].(string)
	return s
}

// Set stores a value at a dotted path. A nil value removes the field.
func (e Event) Set(path string, v any) {
	if v == nil {
		delete(e, path)
		return
	}
	e[path] = v
}

// SetString stores s at path unless s is empty: ECS leaves unknown fields
// out rather than storing empty strings.
func (e Event) SetString(path, s string) {
	if s != "" {
		e[path] = s
	}
}

// Time returns @timestamp as event time, and false when it is missing or
// not RFC 3339.
func (e Event) Time() (time.Time, bool) {
	switch v := e[FieldTimestamp].(type) {
	case time.Time:
		return v, true
	case string:
		return parseTime(v)
	}
	return time.Time{}, false
}

// parseTime is time.Parse(time.RFC3339Nano, s), with a fast path for the
// UTC times Vigil writes (2006-01-02T15:04:05Z, with .000 milliseconds
// or without).
func parseTime(s string) (time.Time, bool) {
	if t, ok := parseUTC(s); ok {
		return t, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// parseUTC reads exactly 2006-01-02T15:04:05Z or 2006-01-02T15:04:05.000Z;
// false sends anything else, valid or not, to time.Parse.
func parseUTC(s string) (time.Time, bool) {
	if len(s) != 20 && (len(s) != 24 || s[19] != '.') || s[len(s)-1] != 'Z' ||
		s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	ms := 0
	if len(s) == 24 {
		ms = num(20, 23)
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 || ms < 0 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, ms*1e6, time.UTC), true
}

// daysIn is the number of days of a month (1-12) of the Gregorian year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// SetTime stores t as @timestamp in RFC 3339 with milliseconds, in UTC.
func (e Event) SetTime(t time.Time) { e[FieldTimestamp] = FormatTime(t) }

// ID returns the event's vigil.event_id.
func (e Event) ID() string { return e.String(FieldID) }

// Clone returns a shallow copy: top-level values are shared, the map is not.
func (e Event) Clone() Event {
	if e == nil {
		return make(Event)
	}
	return maps.Clone(e) // copies the table whole, no rehashing
}

// timeLayout is how Vigil writes every date field.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// FormatTime renders a timestamp the way Vigil writes every date field:
// t.UTC().Format("2006-01-02T15:04:05.000Z07:00"), written by hand for
// the years 0 to 9999.
func FormatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	b := [24]byte{
		byte('0' + year/1000), byte('0' + year/100%10), byte('0' + year/10%10), byte('0' + year%10), '-',
		byte('0' + month/10), byte('0' + month%10), '-',
		byte('0' + day/10), byte('0' + day%10), 'T',
		byte('0' + hour/10), byte('0' + hour%10), ':',
		byte('0' + minute/10), byte('0' + minute%10), ':',
		byte('0' + sec/10), byte('0' + sec%10), '.',
		byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10), 'Z',
	}
	return string(b[:])
}

// MakeID derives a deterministic event id from where a record was read:
// the source (for a file, its path), the position in it, and the raw bytes.
// Reading the same line at the same place again yields the same id.
func MakeID(source string, offset int64, raw []byte) string {
	var id [idLen]byte
	putID(id[:], source, offset, raw)
	return string(id[:])
}

// MakeIDText returns MakeID(source, offset, raw) and string(raw), made
// in one allocation instead of two: for a parser that keeps the line as
// text (event.original, and substrings of it as field values).
func MakeIDText(source string, offset int64, raw []byte) (id, text string) {
	buf := make([]byte, len(raw)+idLen)
	copy(buf, raw)
	putID(buf[len(raw):], source, offset, raw)
	// buf is never written again, so strings may share it: the text and
	// the id each keep the whole buffer alive, and they live in the same
	// event.
	id = unsafe.String(&buf[len(raw)], idLen)
	if len(raw) > 0 {
		text = unsafe.String(&buf[0], len(raw))
	}
	return id, text
}

// idLen is the length of an event id: 16 bytes of SHA-256 in hex.
const idLen = 32

// putID writes the id of MakeID to dst[:idLen].
func putID(dst []byte, source string, offset int64, raw []byte) {
	// One buffer on the stack for lines up to ~450 bytes: the hash costs
	// no allocation.
	var stack [512]byte
	buf := append(stack[:0], source...)
	buf = append(buf, 0)
	buf = appendDecimal(buf, offset)
	buf = append(buf, 0)
	buf = append(buf, raw...)
	sum := sha256.Sum256(buf)
	hex.Encode(dst[:idLen], sum[:16])
}

// appendDecimal is strconv.AppendInt(buf, n, 10), a third of its cost
// for the offsets of every line putID hashes.
func appendDecimal(buf []byte, n int64) []byte {
	if n < 0 {
		if n == math.MinInt64 {
			return strconv.AppendInt(buf, n, 10)
		}
		buf = append(buf, '-')
		n = -n
	}
	var digits [19]byte
	i := len(digits)
	for n >= 10 {
		i--
		digits[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	digits[i] = byte('0' + n)
	return append(buf, digits[i:]...)
}

// Stringify renders a scalar field value as text, for keys and messages.
func Stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case int64:
		return strconv.FormatInt(t, 10)
	case int:
		return strconv.Itoa(t)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// InRange says whether t can be written as @timestamp: years 1 to 9999 in
// UTC. A parser that reads "0000-01-01T00:00:00+01:00" (year 0 in another
// zone is year -1 in UTC) must treat it as unparseable.
func InRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// NormalizeNumbers turns the json.Number values of a value decoded with
// UseNumber (in place, through arrays and objects) into int64 when they
// fit, else float64: the numbers Unmarshal gives.
func NormalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = NormalizeNumbers(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = NormalizeNumbers(t[k])
		}
	}
	return v
}
