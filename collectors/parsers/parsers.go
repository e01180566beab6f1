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
