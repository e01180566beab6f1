package parsers

import (
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
