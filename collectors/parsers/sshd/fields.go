package sshd

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// Values of event.action this parser sets.
const (
	ActionLogin            = "ssh_login"
	ActionInvalidUser      = "ssh_invalid_user"
	ActionDisconnect       = "ssh_disconnect"
	ActionTooManyFailures  = "ssh_too_many_auth_failures"
	ActionNoIdentification = "ssh_no_identification"
	ActionReverseMapping   = "ssh_reverse_mapping_failed"
	ActionPAMAuthFailure   = "pam_authentication_failure"
	ActionPAMUserUnknown   = "pam_user_unknown"
	ActionSessionOpened    = "session_opened"
	ActionSessionClosed    = "session_closed"
	ActionPasswordChanged  = "password_changed"
	ActionSudo             = "sudo"
	ActionSu               = "su"
	ActionUserCreated      = "user_created"
	ActionUserDeleted      = "user_deleted"
	ActionGroupCreated     = "group_created"
	ActionUserAddedToGroup = "user_added_to_group"
)

// FieldMethod holds the SSH authentication method of a login attempt
// (password, publickey, none, keyboard-interactive/pam, ...).
const FieldMethod = "vigil.ssh.method"

const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// classify sets the ECS categorization fields; empty values are left out.
func classify(e event.Event, bx *event.Boxes, category, typ, action, outcome string) {
	// Both one-element arrays boxed in bx; an append to either copies it.
	cat, ty := bx.Singletons(ecsValue(bx, category), ecsValue(bx, typ))
	if category != "" {
		e["event.category"] = cat
	}
	if typ != "" {
		e["event.type"] = ty
	}
	e["event.action"] = action
	switch outcome {
	case "":
	case outcomeSuccess:
		e["event.outcome"] = outcomeSuccess // a constant: boxed without allocating
	case outcomeFailure:
		e["event.outcome"] = outcomeFailure
	default:
		e["event.outcome"] = outcome
	}
}

// ecsValue returns s as an interface value, without allocating when it
// is one of the categories and types this package sets.
func ecsValue(bx *event.Boxes, s string) any {
	switch s {
	case "authentication":
		return "authentication"
	case "network":
		return "network"
	case "session":
		return "session"
	case "process":
		return "process"
	case "start":
		return "start"
	case "end":
		return "end"
	case "info":
		return "info"
	}
	return bx.String(s)
}

// setAddr stores a peer as source.ip when it is an IP address, else as
// source.domain (sshd with UseDNS, PAM's rhost).
func setAddr(e event.Event, bx *event.Boxes, addr string) {
	if addr == "" {
		return
	}
	if a, err := netip.ParseAddr(addr); err == nil {
		// netip accepts only canonical dotted IPv4, so the text can be kept;
		// IPv6 is rewritten in its canonical form, without zone.
		if a.Is6() {
			addr = a.WithZone("").String()
		}
		e["source.ip"] = bx.String(addr)
		return
	}
	e["source.domain"] = bx.String(addr)
}

func setPort(e event.Event, bx *event.Boxes, port string) {
	if !isDigits(port) {
		return
	}
	if n, err := strconv.ParseInt(port, 10, 64); err == nil && n >= 0 && n <= 65535 {
		e["source.port"] = bx.Int(n)
	}
}

// setUser stores the account name. Surrounding spaces are dropped: sshd
// logs a tried name verbatim ("invalid user  0101") while PAM trims it, and
// one attempt should carry one name in every event it produces.
func setUser(e event.Event, bx *event.Boxes, user string) {
	e["user.name"] = bx.String(strings.TrimSpace(user))
}

// addRelated appends v to the array at key unless it is there already.
func addRelated(e event.Event, bx *event.Boxes, key, v string) {
	addRelatedBoxed(e, bx, key, v, bx.String(v))
}

// addRelatedBoxed is addRelated with boxed, an interface value holding v
// (the field it comes from), appended instead of boxing v again.
func addRelatedBoxed(e event.Event, bx *event.Boxes, key, v string, boxed any) {
	if v == "" {
		return
	}
	list, _ := e[key].([]any)
	if len(list) == 0 {
		e[key] = bx.Singleton(boxed)
		return
	}
	for _, x := range list {
		if x == v {
			return
		}
	}
	e[key] = append(list, boxed)
}

// related fills related.user and related.ip from the fields set.
func related(e event.Event, bx *event.Boxes) {
	u, _ := e["user.name"].(string)
	eff, _ := e["user.effective.name"].(string)
	switch {
	case u != "" && eff != "" && u != eff:
		if _, ok := e["related.user"]; ok {
			addRelated(e, bx, "related.user", u)
			addRelated(e, bx, "related.user", eff)
		} else {
			e["related.user"] = []any{u, eff}
		}
	case u != "":
		addRelatedBoxed(e, bx, "related.user", u, e["user.name"])
	case eff != "":
		addRelatedBoxed(e, bx, "related.user", eff, e["user.effective.name"])
	}
	if ip := e["source.ip"]; ip != nil {
		if _, ok := ip.(string); ok {
			e["related.ip"] = bx.Singleton(ip)
		}
	}
}

// cutPrefix is strings.CutPrefix, named for reading.
func cutPrefix(s, prefix string) (string, bool) { return strings.CutPrefix(s, prefix) }

// trimPreauth drops sshd's " [preauth]" marker.
func trimPreauth(s string) string {
	s, _ = strings.CutSuffix(s, " [preauth]")
	return s
}

// peer parses "[user U |invalid user U |authenticating user U ]ADDR[ port P]"
// from the right, so a user name holding spaces cannot shift the address.
func peer(s string) (user, addr, port string, ok bool) {
	s = trimPreauth(strings.TrimSpace(s))
	if i := strings.LastIndex(s, " port "); i >= 0 {
		p := s[i+len(" port "):]
		if p != "" && isDigits(p) {
			port, s = p, s[:i]
		}
	}
	i := strings.LastIndexByte(s, ' ')
	addr = s[i+1:]
	if addr == "" {
		return "", "", "", false
	}
	if i < 0 {
		return "", addr, port, true
	}
	head := s[:i]
	for _, kw := range [...]string{"authenticating user ", "invalid user ", "user "} {
		if u, found := strings.CutPrefix(head, kw); found {
			return u, addr, port, true
		}
	}
	return "", "", "", false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
