package sshd

import (
	"path"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// sudo parses sudo's command log line:
// "U : [REASON ; ]TTY=T ; PWD=D ; USER=R ; [GROUP=G ; ][ENV=... ; ]COMMAND=C".
// A REASON ("user NOT in sudoers", "3 incorrect password attempts") means
// the command was refused. The event describes the command's process; sudo
// itself is its parent.
func sudo(e event.Event, bx *event.Boxes, msg string) {
	user, rest, ok := strings.Cut(strings.TrimSpace(msg), " : ")
	if !ok || user == "" {
		return
	}
	var pwd, runAs, group, reason, command string
	found := false
	for rest != "" {
		if cmd, ok := cutPrefix(rest, "COMMAND="); ok {
			command, found = cmd, true
			break
		}
		part, next, _ := strings.Cut(rest, " ; ")
		switch {
		case strings.HasPrefix(part, "TTY="), strings.HasPrefix(part, "ENV="):
		case strings.HasPrefix(part, "PWD="):
			pwd = part[len("PWD="):]
		case strings.HasPrefix(part, "USER="):
			runAs = part[len("USER="):]
		case strings.HasPrefix(part, "GROUP="):
			group = part[len("GROUP="):]
		default:
			if reason == "" {
				reason = part
			}
		}
		rest = next
	}
	if !found {
		return
	}
	outcome := outcomeSuccess
	if reason != "" {
		outcome = outcomeFailure
		e["event.reason"] = reason
	}
	classify(e, bx, "process", "start", ActionSudo, outcome)
	setUser(e, bx, user)
	if runAs != "" {
		e["user.effective.name"] = runAs
	}
	if group != "" {
		e["user.effective.group.name"] = group
	}
	if pid, ok := e["process.pid"]; ok {
		e["process.parent.pid"] = pid
		delete(e, "process.pid")
	}
	e["process.parent.name"] = "sudo"
	delete(e, "process.name")
	if pwd != "" {
		e["process.working_directory"] = pwd
	}
	command = strings.TrimSpace(command)
	if command == "" {
		return
	}
	e["process.command_line"] = command
	fields := strings.Fields(command)
	args := make([]any, len(fields))
	for i, f := range fields {
		args[i] = f
	}
	e["process.args"] = args
	e["process.executable"] = fields[0]
	e["process.name"] = path.Base(fields[0])
}

// su parses su's own lines: "(to R) U on TTY", "FAILED su for R by U",
// "Successful su for R by U".
func su(e event.Event, bx *event.Boxes, msg string) {
	if rest, ok := cutPrefix(msg, "(to "); ok {
		target, tail, ok := strings.Cut(rest, ") ")
		if !ok {
			return
		}
		user, _, _ := strings.Cut(tail, " on ")
		classify(e, bx, "session", "start", ActionSu, outcomeSuccess)
		setUser(e, bx, user)
		e["user.effective.name"] = target
		return
	}
	outcome := outcomeSuccess
	rest, ok := cutPrefix(msg, "Successful su for ")
	if !ok {
		if rest, ok = cutPrefix(msg, "FAILED su for "); !ok {
			return
		}
		outcome = outcomeFailure
	}
	target, user, ok := strings.Cut(rest, " by ")
	if !ok {
		return
	}
	classify(e, bx, "authentication", "start", ActionSu, outcome)
	setUser(e, bx, strings.TrimSpace(user))
	e["user.effective.name"] = target
}
