// Package jsonlines parses one JSON object per line (NDJSON: events that
// are already ECS, as Beats, Logstash or Vector write them; or any other
// JSON log, such as Zeek's or Suricata's) into events.
//
// Lines enter one at a time through Parser.Parse with where they were
// read (parsers.Source); each leaves as exactly one event.Event. The
// object's fields pass through as they are, flattened into dotted paths
// (event.Unmarshal); the parser adds vigil.event_id, event.original (the
// line, unless the document carries its own), event.kind "event" when the
// document has none, and @timestamp from the first recognisable time
// field (@timestamp, timestamp, time, ts, eventTime, TimeCreated,
// EventTime: RFC 3339 text, also without zone (read as UTC) or with a
// +0100 offset, or epoch seconds or milliseconds); a document without one
// passes through without @timestamp and with vigil.parse_warning. Fields under vigil.* in the document are dropped: they
// are Vigil's bookkeeping and must not be forged by log content. A line
// that is not a JSON object becomes a flagged event (event.kind
// pipeline_error, vigil.parse_error says why).
//
// A Parser holds no state and is safe for concurrent use.
package jsonlines
