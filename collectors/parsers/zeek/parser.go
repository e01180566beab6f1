package zeek

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Module is the event.module of every Zeek event; event.dataset is
// "zeek." plus the log's path (zeek.conn, zeek.dce_rpc, ...).
const Module = "zeek"

// Config configures a Parser.
type Config struct {
	// Path is the log's path (conn, dns, dce_rpc, ...) when the stream
	// does not say: JSON without "_path", TSV without "#path". Default:
	// the source's file name up to its first dot ("dns.head1000.json" is
	// dns).
	Path string
}

// Parser turns Zeek log lines, TSV or JSON, into ECS events. It keeps the
// TSV header of its stream (#separator, #fields, #types, ...), so use one
// Parser per stream (per file); it is not safe for concurrent use.
type Parser struct {
	path string

	// The TSV header read so far.
	sep, setSep, empty, unset string
	tsvPath                   string
	fields, types             []string
}

// New returns a parser for one stream.
func New(cfg Config) *Parser {
	return &Parser{path: cfg.Path, sep: "\t", setSep: ",", empty: "(empty)", unset: "-"}
}

// Parse turns one line into one event, or into nil for a TSV header line
// ("#fields ...", "#close ..."): header lines are not records, and the
// caller skips nil. A record it cannot read (not JSON, a TSV line before
// its #fields header or with the wrong number of fields, no ts) comes
// back flagged.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	raw := bytes.TrimRight(line, "\r\n")
	if len(raw) > 0 && raw[0] == '#' {
		p.header(string(raw))
		return nil
	}
	e := parsers.Start(src, line, string(raw))
	var rec map[string]any
	var reason string
	switch {
	case len(bytes.TrimSpace(raw)) == 0:
		reason = "empty line"
	case raw[0] == '{':
		rec, reason = decodeJSON(raw)
	default:
		rec, reason = p.tsv(string(raw))
	}
	if reason != "" {
		return parsers.Flag(e, reason)
	}
	path := p.logPath(src, rec)
	ts, ok := rec["ts"].(time.Time)
	if !ok || ts.Year() < 1 || ts.Year() > 9999 {
		return parsers.Flag(e, "zeek "+path+" record without a valid ts")
	}
	e.SetTime(ts)
	fill(e, path, rec)
	return e
}

func (p *Parser) logPath(src parsers.Source, rec map[string]any) string {
	if s, ok := rec["_path"].(string); ok && s != "" {
		return s
	}
	if p.tsvPath != "" {
		return p.tsvPath
	}
	if p.path != "" {
		return p.path
	}
	base := filepath.Base(src.Name)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	if base == "" || base == "." || base == string(filepath.Separator) {
		return "unknown"
	}
	return base
}

// header reads a TSV header line. Unknown directives (#open, #close) are
// ignored.
func (p *Parser) header(s string) {
	if v, ok := strings.CutPrefix(s, "#separator "); ok {
		p.sep = unescape(v)
		return
	}
	if p.sep == "" {
		p.sep = "\t"
	}
	key, val, _ := strings.Cut(s[1:], p.sep)
	switch key {
	case "set_separator":
		p.setSep = val
	case "empty_field":
		p.empty = val
	case "unset_field":
		p.unset = val
	case "path":
		p.tsvPath = val
	case "fields":
		p.fields = strings.Split(val, p.sep)
	case "types":
		p.types = strings.Split(val, p.sep)
	}
}

func decodeJSON(raw []byte) (map[string]any, string) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, "not JSON: " + err.Error()
	}
	if dec.InputOffset() != int64(len(bytes.TrimRight(raw, " \t"))) {
		return nil, "not JSON: data after the object at byte " + strconv.FormatInt(dec.InputOffset(), 10)
	}
	for k, v := range obj {
		obj[k] = event.NormalizeNumbers(v)
	}
	if s, ok := obj["ts"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			obj["ts"] = t
		}
	} else if f, ok := obj["ts"].(float64); ok {
		if t, ok := epoch(f); ok {
			obj["ts"] = t
		}
	} else if n, ok := obj["ts"].(int64); ok {
		if t, ok := epoch(float64(n)); ok {
			obj["ts"] = t
		}
	}
	return obj, ""
}

// epoch turns seconds since 1970 into a time, rounded to microseconds as
// Zeek writes them; false for values that are not finite or outside the
// years 1970-9999.
func epoch(f float64) (time.Time, bool) {
	if math.IsNaN(f) || f < 0 || f > 253402300799 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
}

// tsv reads one TSV record by the stream's #fields and #types.
func (p *Parser) tsv(s string) (map[string]any, string) {
	if p.fields == nil {
		return nil, "zeek TSV record before its #fields header"
	}
	vals := strings.Split(s, p.sep)
	if len(vals) != len(p.fields) {
		return nil, "zeek TSV record has " + strconv.Itoa(len(vals)) + " fields, the #fields header " + strconv.Itoa(len(p.fields))
	}
	rec := make(map[string]any, len(vals))
	for i, v := range vals {
		if v == p.unset {
			continue
		}
		typ := "string"
		if i < len(p.types) {
			typ = p.types[i]
		}
		x, ok := p.value(typ, v)
		if !ok {
			return nil, "zeek TSV field " + p.fields[i] + ": " + strconv.Quote(v) + " is not a " + typ
		}
		rec[p.fields[i]] = x
	}
	return rec, ""
}

// value converts one TSV value of a Zeek type to what the JSON writer
// would have written: numbers, booleans, ISO times (ts as time.Time), and
// arrays for set and vector.
func (p *Parser) value(typ, v string) (any, bool) {
	if inner, ok := container(typ); ok {
		if v == p.empty {
			return []any{}, true
		}
		parts := strings.Split(v, p.setSep)
		list := make([]any, 0, len(parts))
		for _, part := range parts {
			x, ok := p.value(inner, part)
			if !ok {
				return nil, false
			}
			list = append(list, x)
		}
		return list, true
	}
	switch typ {
	case "time":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, false
		}
		return epoch(f)
	case "interval", "double":
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	case "count", "int", "port":
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	case "bool":
		switch v {
		case "T":
			return true, true
		case "F":
			return false, true
		}
		return nil, false
	}
	if v == p.empty {
		return "", true
	}
	return unescape(v), true
}

func container(typ string) (string, bool) {
	for _, c := range [...]string{"set[", "vector["} {
		if inner, ok := strings.CutPrefix(typ, c); ok && strings.HasSuffix(inner, "]") {
			return inner[:len(inner)-1], true
		}
	}
	return "", false
}

// unescape undoes Zeek's TSV escaping: \xHH and \\.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if s[i+1] == '\\' {
				b.WriteByte('\\')
				i++
				continue
			}
			if s[i+1] == 'x' && i+3 < len(s) {
				if n, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(n))
					i += 3
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Fork implements parsers.Forker: a copy holds the TSV header read so far
// (header lines replace its slices, never change them in place).
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: it reads a header line as Parse does;
// records change nothing.
func (p *Parser) Skip(line []byte) {
	if raw := bytes.TrimRight(line, "\r\n"); len(raw) > 0 && raw[0] == '#' {
		p.header(string(raw))
	}
}
