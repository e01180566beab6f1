package input

import (
	"context"

	"github.com/vigil-siem/vigil/collectors/parsers"
)

// Record is one raw record read by an input, with where it came from.
type Record struct {
	// Source names the stream (a file path, "stdin", "syslog:tcp:IP:port",
	// ...) and the record's byte offset in it; parsers derive the event id
	// from it, so it must be the same when the record is read again.
	Source parsers.Source
	// Data is the record without its line ending or framing. It belongs to
	// the handler: the input does not reuse it.
	Data []byte
	// Truncated says the record was longer than the input's size limit and
	// Data holds only its start.
	Truncated bool
	// InvalidUTF8 says Data is not valid UTF-8; it is kept byte for byte.
	InvalidUTF8 bool
	// Peer is the sender's address (syslog, http), empty for local inputs.
	Peer string
	// Meta holds input-specific facts (e.g. the journald cursor); often nil.
	Meta map[string]string
}

// Handler takes a batch of records. A batch counts as delivered (offsets
// and cursors may advance, an HTTP request may be answered 200) only when
// Handler returned nil. An input never calls its Handler concurrently.
type Handler func(ctx context.Context, batch []Record) error
