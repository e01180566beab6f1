// Package auditd parses raw Linux audit records, as auditd writes them to
// /var/log/audit/audit.log ("type=SYSCALL msg=audit(1604994492.718:123):
// key=value ..."), into ECS events with event.dataset "auditd.log".
//
// Data enters two ways:
//
//   - Parser.Parse (parsers.Line): one event per record line. The record's
//     key=value pairs are kept under auditd.log.* (hex-encoded values such
//     as proctitle and EXECVE arguments decoded) and mapped to ECS
//     (process.*, user.*, file.path, event.outcome).
//   - Parser.ParseDocument (parsers.Document): the records of one audit
//     event (the same msg=audit(time:serial)) are joined into ONE event:
//     process.args and process.command_line from EXECVE, file.path from
//     PATH, process.working_directory from CWD, process.title from
//     PROCTITLE, event.action from the SYSCALL or the record type.
//
// A line that is not an audit record becomes a flagged event (event.kind
// pipeline_error, vigil.parse_error says why) and is never dropped.
// Parse holds no state and is safe for concurrent use; ParseDocument keeps
// the events still open in one stream on its own stack.
package auditd
