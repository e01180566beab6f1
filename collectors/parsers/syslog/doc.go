// Package syslog parses syslog messages as they arrive over the network
// (UDP/TCP 514: "<PRI>" then RFC 3164 or RFC 5424) into ECS events with
// event.dataset "syslog", using github.com/leodido/go-syslog/v4.
//
// Lines enter one at a time through Parser.Parse with where they were
// read (parsers.Source; "syslog:udp:1.2.3.4" for the network input); each
// leaves as exactly one event.Event. A message starting "<PRI>1 " (or
// "1 " without PRI) is RFC 5424, anything else RFC 3164. Both machines run
// in best-effort mode: a message that is readable up to some point keeps
// what was read and says what was wrong in vigil.parse_warning; a message
// without a usable timestamp becomes a flagged event (event.kind
// pipeline_error, vigil.parse_error says why).
//
// Header fields go to log.syslog.* (priority, facility, severity,
// hostname, appname, procid, msgid, version, structured_data), host.name
// and host.hostname, process.name and process.pid; the text to message. RFC 5424 structured
// data is kept under log.syslog.structured_data as {SD-ID: {param: value}}.
// A message that carries "@cee: {json}" (rsyslog's CEE, as Windows event
// forwarders send it) keeps the JSON's string keys under labels.cee_*
// (labels are flat keyword pairs) and its "msg" as message.
//
// Messages of the auth programs (sshd, sudo, su, the shadow-utils tools,
// passwd, login, and anything logged through PAM) get the auth mapping of
// package sshd: event.category, event.action, user.*, source.*; such an
// event takes event.dataset "system.auth" so the auth rules see it as
// they see auth.log.
//
// RFC 3164 timestamps carry no year and no zone: the year is that of
// Config.Reference (default: when the parser was created), one less when
// that would put the message more than two days after the reference; the
// zone is Config.Location (default UTC). A Parser holds the go-syslog
// machines, which are not safe for concurrent use: use one per stream.
package syslog
