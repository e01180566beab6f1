package sshd

import "github.com/vigil-siem/vigil/event"

// ParseMessage applies the auth mapping of this package to a message that
// another parser already split from its syslog header (the syslog parser,
// for auth lines forwarded over the network). program is the tag
// ("sshd", "sudo", or the old Red Hat form "sshd(pam_unix)"), msg the text
// after "prog[pid]: ". It sets the ECS fields the message means
// (event.category, event.type, event.action, event.outcome, user.*,
// source.*, process.* of a sudo command, related.*) and reports whether it
// recognised the message; it sets neither event.dataset nor the header
// fields, which stay the caller's.
func ParseMessage(e event.Event, program, msg string) bool {
	var bx event.Boxes
	prog, module := program, ""
	if n := len(prog); n > 2 && prog[n-1] == ')' {
		if j := indexByte(prog, '('); j > 0 {
			prog, module = prog[:j], prog[j+1:n-1]
		}
	}
	interpret(e, &bx, prog, module, msg)
	_, ok := e["event.action"]
	return ok
}
