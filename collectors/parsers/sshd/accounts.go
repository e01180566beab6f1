package sshd

import (
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// accounts parses shadow-utils lines (useradd, groupadd, usermod, userdel,
// gpasswd) into ECS iam events.
func accounts(e event.Event, bx *event.Boxes, msg string) {
	switch {
	case strings.HasPrefix(msg, "new user: "):
		kv := keyValues(msg[len("new user: "):])
		if kv["name"] == "" {
			return
		}
		iam(e, bx, ActionUserCreated, "user", "creation")
		setUser(e, bx, kv["name"])
		e.SetString("user.id", kv["UID"])
		e.SetString("group.id", kv["GID"])
	case strings.HasPrefix(msg, "new group: "):
		kv := keyValues(msg[len("new group: "):])
		if kv["name"] == "" {
			return
		}
		iam(e, bx, ActionGroupCreated, "group", "creation")
		e["group.name"] = kv["name"]
		e.SetString("group.id", kv["GID"])
	case strings.HasPrefix(msg, "add '"):
		// usermod: "add 'U' to group 'G'" or "add 'U' to shadow group 'G'"
		user, rest, ok := strings.Cut(msg[len("add '"):], "' to ")
		if !ok {
			return
		}
		rest = strings.TrimPrefix(rest, "shadow ")
		group, ok := cutPrefix(rest, "group '")
		if !ok {
			return
		}
		iam(e, bx, ActionUserAddedToGroup, "group", "change")
		setUser(e, bx, user)
		e["group.name"] = strings.TrimSuffix(group, "'")
	case strings.HasPrefix(msg, "user ") && strings.Contains(msg, " to group "):
		// gpasswd: "user U added by R to group G"
		user, rest, ok := strings.Cut(msg[len("user "):], " added by ")
		if !ok {
			return
		}
		_, group, ok := strings.Cut(rest, " to group ")
		if !ok {
			return
		}
		iam(e, bx, ActionUserAddedToGroup, "group", "change")
		setUser(e, bx, user)
		e["group.name"] = group
	case strings.HasPrefix(msg, "delete user '"):
		iam(e, bx, ActionUserDeleted, "user", "deletion")
		setUser(e, bx, strings.TrimSuffix(msg[len("delete user '"):], "'"))
	}
}

func iam(e event.Event, bx *event.Boxes, action, kind, change string) {
	e["event.category"] = []any{"iam"}
	e["event.type"] = []any{kind, change}
	e["event.action"] = action
	e["event.outcome"] = outcomeSuccess
}

// keyValues reads "name=apache, UID=48, GID=48, home=/x".
func keyValues(s string) map[string]string {
	kv := make(map[string]string, 6)
	for _, part := range strings.Split(s, ", ") {
		if k, v, ok := strings.Cut(part, "="); ok {
			kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return kv
}
