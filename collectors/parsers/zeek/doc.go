// Package zeek parses Zeek logs into ECS events with event.module "zeek"
// and event.dataset "zeek.<path>" (zeek.conn, zeek.dce_rpc, ...), as
// Elastic's Zeek integration names them.
//
// Both of Zeek's writers are read, line by line through Parser.Parse: JSON
// (one object per line, with "_path", ISO "ts" and dotted keys such as
// "id.orig_h") and TSV (a "#separator", "#fields", "#types" header, "-"
// for unset, "(empty)" for empty, a "#close" trailer). The same record
// gives the same event in either writer. A TSV header line is not a
// record: Parse returns nil for it and the caller skips it. Because the
// header is per-stream state, use one Parser per stream (per file).
//
// id.orig_h/p and id.resp_h/p become source.* and destination.*, uid
// event.id and zeek.session_id, proto network.transport; every other field
// stays under Elastic's zeek.<path>.* namespace, and the logs that matter
// to detection fill more ECS (dce_rpc operation as event.action, ntlm and
// kerberos user and outcome, ssh outcome, dns question, notice as an
// alert). A line that cannot be read becomes a flagged event (event.kind
// pipeline_error).
package zeek
