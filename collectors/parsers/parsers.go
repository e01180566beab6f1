package parsers

import (
	"io"

	"github.com/vigil-siem/vigil/event"
)

// Source says where a line was read: a file path (or "stdin",
// "syslog:udp:1.2.3.4", ...) and the byte offset of the line's start.
type Source struct {
	Name   string
	Offset int64
}

// Values every parser writes for a line it could not parse.
const (
	// KindPipelineError is the event.kind of a flagged event.
	KindPipelineError = "pipeline_error"
	// TagParseFailure is the tag a flagged event carries.
	TagParseFailure = "_vigil_parse_failure"
)

// Start returns a new event for a line read at src: vigil.event_id is
// derived from src and the raw line, event.original holds original (the
// line as the parser presents it, usually without its line ending).
func Start(src Source, line []byte, original string) event.Event {
	e := event.New()
	e[event.FieldID] = event.MakeID(src.Name, src.Offset, line)
	e[event.FieldOriginal] = original
	return e
}

// Flag turns e into the flagged event of a line that could not be parsed:
// event.kind pipeline_error, vigil.parse_error = reason and the tag
// _vigil_parse_failure. Fields already set (the id, event.original) stay.
func Flag(e event.Event, reason string) event.Event {
	e["event.kind"] = KindPipelineError
	e[event.FieldParseError] = reason
	e["tags"] = []any{TagParseFailure}
	return e
}

// Line is implemented by formats with one record per line: syslog,
// access logs, JSON lines. It never fails and never drops: a line it
// cannot parse comes back flagged (see Flag).
type Line interface {
	Parse(src Source, line []byte) event.Event
}

// Forker is implemented by line formats whose state across lines (the
// year a BSD syslog timestamp lacks, inferred from the lines before) can be
// carried forward without parsing, so that a stream can be parsed by
// several goroutines at once and still give, line for line, the events one
// parser would: one goroutine Skips every line in order and Forks a copy at
// the start of each batch of lines, which parses that batch elsewhere.
type Forker interface {
	Line
	// Fork returns a parser in this one's state: it parses the lines that
	// follow as this parser would. The two share nothing mutable.
	Fork() Line
	// Skip moves the state past a line exactly as Parse would, without
	// building its event.
	Skip(line []byte)
}

// Document is implemented by formats whose records are not lines: a file
// that is one JSON array or {"Records":[...]} envelope (CloudTrail
// exports), concatenated pretty-printed JSON objects (Windows events
// rendered from EVTX). ParseDocument reads the whole stream and emits
// one event per record; a record it cannot parse is emitted flagged, and
// data that cannot be split into records at all is emitted as one flagged
// event holding (up to a limit) the bytes that were skipped. It returns
// only emit's error or a read error. Src.Offset of each record is the byte
// offset where it starts in the stream.
type Document interface {
	ParseDocument(name string, r io.Reader, emit func(event.Event) error) error
}
