package sshd

import (
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// interpret sets the ECS fields a message means. A message it does not
// know leaves the event as a plain, well-formed syslog event.
func interpret(e event.Event, bx *event.Boxes, prog, module, msg string) {
	switch {
	case module != "" && strings.HasPrefix(module, "pam_"):
		// Old Red Hat form: "sshd(pam_unix)[12]: authentication failure; ..."
		pamMessage(e, bx, msg)
	case prog == "sudo" && !strings.HasPrefix(msg, "pam_"):
		sudo(e, bx, msg)
	case prog == "su" && !strings.HasPrefix(msg, "pam_"):
		su(e, bx, msg)
	case prog == "useradd" || prog == "groupadd" || prog == "usermod" ||
		prog == "userdel" || prog == "gpasswd":
		accounts(e, bx, msg)
	default:
		sshMessage(e, bx, prog, msg)
	}
	related(e, bx)
}

// sshMessage interprets sshd's messages and the PAM lines sshd writes.
func sshMessage(e event.Event, bx *event.Boxes, prog, msg string) {
	if msg == "" {
		return
	}
	switch msg[0] {
	case 'A':
		if rest, ok := cutPrefix(msg, "Accepted "); ok {
			login(e, bx, rest, outcomeSuccess)
		} else if rest, ok := cutPrefix(msg, "Address "); ok {
			// "Address IP maps to H, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!"
			if addr, tail, ok := strings.Cut(rest, " maps to "); ok && strings.HasSuffix(tail, "POSSIBLE BREAK-IN ATTEMPT!") {
				classify(e, bx, "network", "info", ActionReverseMapping, "")
				setAddr(e, bx, addr)
			}
		}
	case 'F':
		if rest, ok := cutPrefix(msg, "Failed "); ok {
			login(e, bx, rest, outcomeFailure)
		}
	case 'I':
		if rest, ok := cutPrefix(msg, "Invalid user "); ok {
			// "Invalid user U from ADDR[ port P]"
			if i := strings.LastIndex(rest, " from "); i >= 0 {
				_, addr, port, ok := peer(rest[i+len(" from "):])
				if ok {
					classify(e, bx, "authentication", "info", ActionInvalidUser, outcomeFailure)
					setUser(e, bx, rest[:i])
					setAddr(e, bx, addr)
					setPort(e, bx, port)
				}
			}
		}
	case 'i':
		if rest, ok := cutPrefix(msg, "input_userauth_request: invalid user "); ok {
			classify(e, bx, "authentication", "info", ActionInvalidUser, outcomeFailure)
			setUser(e, bx, trimPreauth(rest))
		}
	case 'm':
		if rest, ok := cutPrefix(msg, "message repeated "); ok {
			repeated(e, bx, prog, rest)
		} else if rest, ok := cutPrefix(msg, "maximum authentication attempts exceeded for "); ok {
			tooManyFor(e, bx, rest)
		}
	case 'e':
		if rest, ok := cutPrefix(msg, "error: "); ok {
			sshMessage(e, bx, prog, rest)
		}
	case 'P':
		if rest, ok := cutPrefix(msg, "PAM: User not known to the underlying authentication module for illegal user "); ok {
			// Old sshd: "... for illegal user U from ADDR"
			if i := strings.LastIndex(rest, " from "); i >= 0 {
				classify(e, bx, "authentication", "info", ActionInvalidUser, outcomeFailure)
				setUser(e, bx, rest[:i])
				setAddr(e, bx, rest[i+len(" from "):])
			}
		} else if rest, ok := cutPrefix(msg, "PAM "); ok {
			pamMore(e, bx, rest)
		}
	case 'p':
		if strings.HasPrefix(msg, "pam_") {
			if i := strings.Index(msg, "): "); i > 0 {
				pamMessage(e, bx, msg[i+3:])
			}
		}
	case 'R':
		if rest, ok := cutPrefix(msg, "Received disconnect from "); ok {
			receivedDisconnect(e, bx, rest)
		}
	case 'D':
		disconnecting(e, bx, msg)
	case 'C':
		for _, prefix := range [...]string{"Connection closed by ", "Connection reset by "} {
			if rest, ok := cutPrefix(msg, prefix); ok {
				if user, addr, port, ok := peer(rest); ok {
					classify(e, bx, "session", "end", ActionDisconnect, "")
					if user != "" {
						setUser(e, bx, user)
					}
					setAddr(e, bx, addr)
					setPort(e, bx, port)
				}
				return
			}
		}
	case 'r':
		if rest, ok := cutPrefix(msg, "reverse mapping checking getaddrinfo for "); ok {
			// "H [IP] failed - POSSIBLE BREAK-IN ATTEMPT!"
			i := strings.LastIndex(rest, " [")
			j := strings.LastIndex(rest, "] failed")
			if i >= 0 && j > i {
				classify(e, bx, "network", "info", ActionReverseMapping, "")
				setAddr(e, bx, rest[i+2:j])
				if _, isIP := e["source.ip"]; isIP {
					e["source.domain"] = bx.String(rest[:i])
				}
			}
		}
	}
}

// login parses what follows "Accepted " or "Failed ":
// "METHOD for [invalid user ]U from ADDR port P ssh2[: KEY]".
func login(e event.Event, bx *event.Boxes, rest, outcome string) {
	method, rest, ok := strings.Cut(rest, " for ")
	if !ok || method == "" || strings.IndexByte(method, ' ') >= 0 {
		return
	}
	i := strings.LastIndex(rest, " from ")
	if i < 0 {
		return
	}
	user, tail := rest[:i], rest[i+len(" from "):]
	if outcome == outcomeFailure {
		user, _ = cutPrefix(user, "invalid user ")
	}
	addr, tail := cutSpace(tail)
	port, ok := cutPrefix(tail, "port ")
	if !ok || addr == "" {
		return
	}
	port, _ = cutSpace(port)
	classify(e, bx, "authentication", "start", ActionLogin, outcome)
	setUser(e, bx, user)
	setAddr(e, bx, addr)
	setPort(e, bx, port)
	e[FieldMethod] = bx.String(method)
}

// repeated parses what follows "message repeated ": "N times: [ MSG]".
// The event stands for N lines; the inner message is interpreted.
func repeated(e event.Event, bx *event.Boxes, prog, rest string) {
	n, rest, ok := strings.Cut(rest, " times: [")
	if !ok {
		return
	}
	count, err := strconv.ParseInt(n, 10, 64)
	if err != nil || count < 1 {
		return
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(rest, " "), "]")
	e[event.FieldRepeat] = bx.Int(count)
	sshMessage(e, bx, prog, inner)
}

// receivedDisconnect parses "ADDR port P:CODE: REASON" (newer sshd) or
// "ADDR: CODE: REASON" (older), each optionally followed by " [preauth]".
func receivedDisconnect(e event.Event, bx *event.Boxes, rest string) {
	var addr, port, reason string
	word, tail := cutSpace(rest)
	if p, ok := cutPrefix(tail, "port "); ok {
		i := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		addr, port, reason = word, p[:i], strings.TrimPrefix(strings.TrimPrefix(p[i:], ":"), " ")
	} else {
		// An IPv6 address holds colons, so the address ends at the first ": ".
		var found bool
		addr, reason, found = strings.Cut(rest, ": ")
		if !found {
			return
		}
	}
	if code, r, ok := strings.Cut(reason, ": "); ok && isDigits(code) {
		reason = r
	}
	classify(e, bx, "session", "end", ActionDisconnect, "")
	setAddr(e, bx, addr)
	setPort(e, bx, port)
	if reason = trimPreauth(reason); reason != "" {
		e["event.reason"] = bx.String(reason)
	}
}

// disconnecting handles messages starting with 'D'.
func disconnecting(e event.Event, bx *event.Boxes, msg string) {
	if rest, ok := cutPrefix(msg, "Disconnected from "); ok {
		if user, addr, port, ok := peer(rest); ok {
			classify(e, bx, "session", "end", ActionDisconnect, "")
			if user != "" {
				setUser(e, bx, user)
			}
			setAddr(e, bx, addr)
			setPort(e, bx, port)
		}
		return
	}
	if rest, ok := cutPrefix(msg, "Did not receive identification string from "); ok {
		if _, addr, port, ok := peer(rest); ok {
			classify(e, bx, "network", "info", ActionNoIdentification, "")
			setAddr(e, bx, addr)
			setPort(e, bx, port)
		}
		return
	}
	if rest, ok := cutPrefix(msg, "Disconnecting: Too many authentication failures"); ok {
		// "... for U [preauth]" (older sshd) or nothing.
		classify(e, bx, "session", "end", ActionTooManyFailures, outcomeFailure)
		if u, ok := cutPrefix(trimPreauth(rest), " for "); ok {
			setUser(e, bx, u)
		}
		return
	}
	if rest, ok := cutPrefix(msg, "Disconnecting "); ok {
		// Newer sshd: "Disconnecting invalid user U ADDR port P: REASON [preauth]".
		i := strings.Index(rest, ": ")
		if i < 0 {
			return
		}
		user, addr, port, ok := peer(rest[:i])
		if !ok {
			return
		}
		reason := trimPreauth(rest[i+2:])
		action, outcome := ActionDisconnect, ""
		if strings.HasPrefix(reason, "Too many authentication failures") {
			action, outcome = ActionTooManyFailures, outcomeFailure
		}
		classify(e, bx, "session", "end", action, outcome)
		if user != "" {
			setUser(e, bx, user)
		}
		setAddr(e, bx, addr)
		setPort(e, bx, port)
		e["event.reason"] = bx.String(reason)
	}
}

// tooManyFor parses "[invalid user ]U from ADDR port P ssh2 [preauth]".
func tooManyFor(e event.Event, bx *event.Boxes, rest string) {
	i := strings.LastIndex(rest, " from ")
	if i < 0 {
		return
	}
	user, _ := cutPrefix(rest[:i], "invalid user ")
	tail := strings.TrimSuffix(trimPreauth(rest[i+len(" from "):]), " ssh2")
	_, addr, port, ok := peer(tail)
	if !ok {
		return
	}
	classify(e, bx, "session", "end", ActionTooManyFailures, outcomeFailure)
	setUser(e, bx, user)
	setAddr(e, bx, addr)
	setPort(e, bx, port)
}
