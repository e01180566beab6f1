package sshd

import (
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// pamMessage interprets what a PAM module logs after its
// "pam_unix(sshd:auth): " prefix (or, in the old Red Hat form, after
// "sshd(pam_unix)[12]: ").
func pamMessage(e event.Event, bx *event.Boxes, msg string) {
	switch {
	case strings.HasPrefix(msg, "authentication failure;"):
		classify(e, bx, "authentication", "info", ActionPAMAuthFailure, outcomeFailure)
		pamFields(e, bx, msg)
	case strings.HasPrefix(msg, "check pass; user unknown"):
		classify(e, bx, "authentication", "info", ActionPAMUserUnknown, outcomeFailure)
	case strings.HasPrefix(msg, "session opened for user "):
		classify(e, bx, "session", "start", ActionSessionOpened, outcomeSuccess)
		setUser(e, bx, sessionUser(msg[len("session opened for user "):]))
	case strings.HasPrefix(msg, "session closed for user "):
		classify(e, bx, "session", "end", ActionSessionClosed, outcomeSuccess)
		setUser(e, bx, sessionUser(msg[len("session closed for user "):]))
	case strings.HasPrefix(msg, "password changed for "):
		e["event.category"] = []any{"iam"}
		e["event.type"] = []any{"user", "change"}
		e["event.action"] = ActionPasswordChanged
		e["event.outcome"] = outcomeSuccess
		setUser(e, bx, strings.TrimSpace(msg[len("password changed for "):]))
	}
}

// sessionUser reads the user of "U[(uid=N)][ by X]".
func sessionUser(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '(' {
			return s[:i]
		}
	}
	return s
}

// pamMore parses what follows "PAM ": "N more authentication failure[s]; KV".
func pamMore(e event.Event, bx *event.Boxes, rest string) {
	n, tail, ok := strings.Cut(rest, " more authentication failure")
	if !ok {
		return
	}
	count, err := strconv.ParseInt(n, 10, 64)
	if err != nil || count < 1 {
		return
	}
	classify(e, bx, "authentication", "info", ActionPAMAuthFailure, outcomeFailure)
	e[event.FieldRepeat] = bx.Int(count)
	pamFields(e, bx, tail)
}

// pamFields reads "logname= uid=0 euid=0 tty=ssh ruser= rhost=H  user=U":
// rhost is the peer, user the account tried (the rest of the line, since a
// name tried by an attacker may hold spaces), ruser the requesting user.
func pamFields(e event.Event, bx *event.Boxes, s string) {
	if i := strings.Index(s, " user="); i >= 0 {
		if u := strings.TrimSpace(s[i+len(" user="):]); u != "" {
			setUser(e, bx, u)
		}
		s = s[:i]
	}
	if v := pamValue(s, " rhost="); v != "" {
		setAddr(e, bx, v)
	}
	if v := pamValue(s, " ruser="); v != "" {
		addRelated(e, bx, "related.user", v)
	}
}

// pamValue returns the value of key (" rhost=") up to the next space.
func pamValue(s, key string) string {
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	v, _ := cutSpace(s[i+len(key):])
	return v
}
