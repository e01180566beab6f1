package collectors

import (
	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Source says where a line was read: a file path (or "stdin",
// "syslog:udp:1.2.3.4", ...) and the byte offset of the line's start.
// It is defined in the leaf package parsers so that format parsers can
// implement Parser without importing this package.
type Source = parsers.Source

// Parser turns one raw line into one ECS event. It never fails and never
// drops: a line it cannot parse becomes a flagged event (event.kind
// "pipeline_error", vigil.parse_error = reason, event.original = the line,
// tags ["_vigil_parse_failure"]). Every event carries vigil.event_id =
// event.MakeID(src.Name, src.Offset, line) and event.original.
type Parser interface {
	Parse(src Source, line []byte) event.Event
}

// IsFlagged reports whether e is the flagged event of a line its parser
// could not parse.
func IsFlagged(e event.Event) bool {
	return e["event.kind"] == parsers.KindPipelineError
}
