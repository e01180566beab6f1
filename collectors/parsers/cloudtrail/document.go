package cloudtrail

import (
	"bytes"
	"encoding/json"
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

// ParseDocument reads a CloudTrail stream: the {"Records":[...]} envelope
// CloudTrail writes to S3, a JSON array of records (as Stratus Red Team's
// detonation logs are), JSON lines, or several of those one after the
// other. Each record becomes one event, with Src.Offset at its first byte.
// Bytes that are not JSON become one flagged event per run.
func (p *Parser) ParseDocument(name string, r io.Reader, emit func(event.Event) error) error {
	return parsers.ScanJSONValues(r, func(off int64, raw []byte) error {
		flag := func(reason string) error {
			e := parsers.Start(parsers.Source{Name: name, Offset: off}, raw, parsers.Clip(raw))
			return emit(parsers.Flag(e, reason))
		}
		each := func(elemOff int, elem []byte) error {
			return emit(p.Parse(parsers.Source{Name: name, Offset: off + int64(elemOff)}, elem))
		}
		if raw[0] == '[' {
			return parsers.ArrayElements(raw, each, flag)
		}
		if start, end, ok := recordsArray(raw); ok {
			return parsers.ArrayElements(raw[start:end], func(elemOff int, elem []byte) error {
				return each(start+elemOff, elem)
			}, flag)
		}
		return emit(p.Parse(parsers.Source{Name: name, Offset: off}, raw))
	}, func(off int64, raw []byte, reason string) error {
		e := parsers.Start(parsers.Source{Name: name, Offset: off}, raw, string(raw))
		return emit(parsers.Flag(e, reason))
	})
}

// recordsArray finds the "Records" array of an envelope object: the
// offsets of its [ and one past its ]. ok is false for any other object.
func recordsArray(raw []byte) (start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, 0, false
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return 0, 0, false
		}
		valStart := parsers.SkipSeparators(raw, int(dec.InputOffset()))
		if valStart < len(raw) && raw[valStart] == ':' {
			valStart = parsers.SkipSeparators(raw, valStart+1)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return 0, 0, false
		}
		if key == "Records" && len(v) > 0 && v[0] == '[' {
			return valStart, int(dec.InputOffset()), true
		}
	}
	return 0, 0, false
}
