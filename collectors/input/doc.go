// Package input holds what Vigil's inputs (collectors/file, stdin, syslog,
// http, journald) share: the Record an input hands on, the Handler it
// hands records to, the Counters behind every input's Stats, the Pump that
// batches records from a reading goroutine into Handler calls with bounded
// memory, and StateFile, the atomic on-disk registry of offsets and
// cursors.
//
// It is a leaf package (it imports only collectors/parsers for Source), so
// the input packages can use it and package collectors can alias its types
// without an import cycle.
//
// Data enters as records produced by an input's reader (a file, a socket, a
// pipe) and leaves through Handler calls; a batch counts as delivered only
// when the Handler returned nil. An input that keeps several batches in
// flight takes an AsyncHandler instead: it returns an Ack at once, and the
// batch counts as delivered once the Ack finished with nil (and every
// earlier batch's did).
package input
