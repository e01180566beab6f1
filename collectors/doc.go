// Package collectors turns log lines into ECS events: it holds the Parser
// contract every format parser implements and the registry of formats
// (registry.go: format name → constructor, the one list of what this
// binary can parse).
//
// Data enters as raw lines read by an input (collectors/file reads files;
// each line comes with its Source, the path and byte offset it was read
// at) and leaves as one event.Event per line, ready to be sent to the
// vigil.events topic. A parser never drops a line: what it cannot parse
// comes out flagged (event.kind pipeline_error, vigil.parse_error) with the
// raw line in event.original, so it can go to the DLQ with its reason.
//
// Every event's vigil.event_id is derived from its Source and raw bytes,
// so a line re-read after a crash (at-least-once) gets the same id and
// overwrites instead of duplicating downstream.
//
// Offline (vigil parse, replay, scan), Read parses a whole stream line by
// line with exact byte offsets; ReadParallel gives the same events in
// batches, parsed on several goroutines when the parser is a
// parsers.Forker.
//
// Layout: collectors/parsers holds the contract types format parsers share
// (a leaf, so they need not import this package); one folder per format
// (collectors/parsers/sshd) and per input (collectors/file).
package collectors
