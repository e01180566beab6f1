// Package journald is Vigil's systemd-journal input: it runs
// `journalctl -o json` (following the journal, from the last checkpointed
// cursor) and hands each JSON entry on as one record.
//
// Data enters as journalctl's standard output, one JSON object per line,
// and leaves as input.Record batches: Source "journald" with the entry's
// __REALTIME_TIMESTAMP (µs) as offset, Meta["cursor"] the entry's
// __CURSOR. After the handler returned nil for a batch, the cursor of its
// last entry is written to the registry (atomically), and a restart passes
// it to --after-cursor: entries delivered but not yet checkpointed when the
// process died are sent again (at-least-once), none is skipped. When the
// handler is slow, the input stops reading, the pipe fills and journalctl
// waits.
package journald
