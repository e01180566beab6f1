// Package file is Vigil's file input: it reads log files (paths or globs)
// line by line, from the start, optionally following appended data, and
// hands the lines to a handler in batches.
//
// Data enters as bytes on disk and leaves as []Line (path, exact byte
// offset, line without its line ending, truncation flag). Run moves past a
// batch only once the handler returned nil, so a caller that returns after
// Kafka acknowledged the batch commits file offsets only after the ack;
// Offsets reports where each file would resume.
package file
