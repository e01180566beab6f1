// Package sshd parses auth.log / secure lines (sshd, PAM, sudo, su and the
// shadow-utils account tools, as rsyslog writes them on Debian, Ubuntu and
// Red Hat) into ECS events with event.dataset "system.auth".
//
// Lines enter one at a time through Parser.Parse together with where they
// were read (parsers.Source); each leaves as exactly one event.Event. A
// line that is syslog but says something the parser does not know becomes
// a plain event (message, host, process, @timestamp, no category). A line
// that is not syslog at all becomes a flagged event (event.kind
// pipeline_error, vigil.parse_error says why, event.original keeps it).
//
// The header is "Mmm dd hh:mm:ss host prog[pid]: msg" (BSD syslog, RFC
// 3164), with or without pid, with the old Red Hat tag "sshd(pam_unix)[pid]:",
// or with an RFC 3339 timestamp instead of the BSD one. It is read by
// scanning, not by regular expressions, because it is the hot path.
//
// BSD syslog timestamps carry no year and no zone. The zone is
// Config.Location (default UTC). The year is inferred:
//
//   - the first line of a stream takes the year of Config.Reference
//     (default: now; a file input passes the file's modification time),
//     unless that would put it more than two days after the reference, in
//     which case it is the previous year (a December log read in January);
//   - every later line keeps the stream's year, and when the clock jumps
//     back by more than about six months (December to January) the year
//     moves on by one.
//
// That inference is per-stream state: use one Parser per stream (per file);
// a Parser is not safe for concurrent use. The state changes only with the
// timestamps, so Parser is a parsers.Forker: Skip carries it past a line
// without building the event, and Fork hands a copy to another goroutine,
// which is how vigil scan parses one file on several CPUs.
package sshd
