package windows

import (
	"io"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Limits of ParseDocument.
const (
	// MaxRecordBytes is the largest JSON value read as one record; a
	// larger one is emitted flagged (its first MaxJunkBytes) and skipped.
	MaxRecordBytes = parsers.MaxRecordBytes
	// MaxJunkBytes is how much of skipped data a flagged event keeps.
	MaxJunkBytes = parsers.MaxJunkBytes
)

// ParseDocument reads a stream of Windows events that are not one per
// line: EVTX exports rendered as concatenated pretty-printed JSON objects,
// a JSON array of events, or JSON lines. Each object (or array element) is
// one record, parsed as Parse does, with Src.Offset at its first byte.
// Bytes between values that are not JSON become one flagged event per run.
func (p *Parser) ParseDocument(name string, r io.Reader, emit func(event.Event) error) error {
	return parsers.ScanJSONValues(r, func(off int64, raw []byte) error {
		if raw[0] == '[' {
			return parsers.ArrayElements(raw, func(elemOff int, elem []byte) error {
				return emit(p.Parse(parsers.Source{Name: name, Offset: off + int64(elemOff)}, elem))
			}, func(reason string) error {
				e := parsers.Start(parsers.Source{Name: name, Offset: off}, raw, parsers.Clip(raw))
				return emit(parsers.Flag(e, reason))
			})
		}
		return emit(p.Parse(parsers.Source{Name: name, Offset: off}, raw))
	}, func(off int64, raw []byte, reason string) error {
		e := parsers.Start(parsers.Source{Name: name, Offset: off}, raw, string(raw))
		return emit(parsers.Flag(e, reason))
	})
}
