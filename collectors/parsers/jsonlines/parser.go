package jsonlines

import (
	"math"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// FieldWarning says what the parser could not do for a line it still
// passed through (no time field).
const FieldWarning = "vigil.parse_warning"

// Config sets defaults for documents that lack them.
type Config struct {
	// Dataset is event.dataset for documents without one; empty leaves
	// such documents without a dataset.
	Dataset string
}

// Parser turns JSON lines into events.
type Parser struct {
	dataset string
}

// New returns a parser.
func New(cfg Config) *Parser { return &Parser{dataset: cfg.Dataset} }

// Parse turns one line into one event; it never fails.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	s := strings.TrimRight(string(line), "\r\n")
	e := parsers.Start(src, line, s)
	if strings.TrimSpace(s) == "" {
		return parsers.Flag(e, "not a JSON object: empty line")
	}
	doc, err := event.Unmarshal([]byte(s))
	if err != nil {
		return parsers.Flag(e, "not a JSON object: "+err.Error())
	}
	for k, v := range doc {
		if strings.HasPrefix(k, "vigil.") {
			continue
		}
		if k == event.FieldOriginal {
			if _, ok := v.(string); !ok {
				continue
			}
		}
		e[k] = v
	}
	if _, ok := e["event.kind"]; !ok {
		e["event.kind"] = "event"
	}
	if _, ok := e["event.dataset"]; !ok && p.dataset != "" {
		e["event.dataset"] = p.dataset
	}
	if t, ok := timeOf(doc); ok && t.UTC().Year() >= 1 && t.UTC().Year() <= 9999 {
		e.SetTime(t)
	} else {
		delete(e, event.FieldTimestamp)
		e[FieldWarning] = "no time field (@timestamp, timestamp, time, ts, eventTime, TimeCreated, EventTime) with an RFC 3339 or epoch value"
	}
	return e
}

// timeOf returns the first recognisable time of a document.
func timeOf(doc event.Event) (time.Time, bool) {
	for _, k := range [...]string{"@timestamp", "timestamp", "time", "ts", "eventTime", "TimeCreated", "EventTime"} {
		switch v := doc[k].(type) {
		case string:
			if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
				return t, true
			}
			// "2020-10-18 07:50:06.220" and zone-less ISO forms, read as UTC.
			for _, layout := range []string{"2006-01-02T15:04:05.999999999-0700", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00"} {
				if t, err := time.Parse(layout, v); err == nil {
					return t, true
				}
			}
		case int64:
			return epoch(float64(v))
		case float64:
			return epoch(v)
		}
	}
	return time.Time{}, false
}

// epoch reads seconds, or milliseconds when the number is too large to be
// seconds of this era (after the year 5138).
func epoch(v float64) (time.Time, bool) {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return time.Time{}, false
	}
	if v > 1e11 {
		v /= 1000
	}
	if v > 1e11 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
