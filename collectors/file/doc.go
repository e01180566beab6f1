// Package file is Vigil's file input: it reads log files (paths or globs)
// line by line, optionally following appended data, new files, rotation
// (rename or copytruncate), truncation and delete+recreate, and hands the
// records (lines, or lines joined by multiline settings) to a handler in
// batches.
//
// Data enters as bytes on disk and leaves as []Line (path, exact byte
// offset, record without its line ending, truncation and invalid-UTF-8
// flags), or as input.Record through RunRecords. Files are tracked by
// device+inode and a fingerprint of their first bytes, not by name. Run
// moves past a batch, and may write its offsets to the registry (an
// atomically replaced JSON file), only once the handler returned nil, so a
// caller that returns after Kafka acknowledged the batch commits file
// offsets only after the ack; a restart resumes from the registry
// (at-least-once). RunAsync keeps up to Config.InFlight batches handed on
// but not yet acknowledged, and still advances offsets strictly in order,
// never past a batch whose Ack is unfinished or failed.
package file
