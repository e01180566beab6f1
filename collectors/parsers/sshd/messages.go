package sshd

import (
	"strconv"
	"strings"

	"github.com/vigil-siem/vigil/event"
)

// interpret sets the ECS fields a message means. A message it does not
// know leaves the event as a plain, well-formed syslog event.
func interpret(e event.Event, prog, module, msg string) {
	switch {
	case module != "" && strings.HasPrefix(module, "pam_"):
		// Old Red Hat form: "sshd(pam_unix)[12]: authentication failure; ..."
		pamMessage(e, msg)
	case prog == "sudo" && !strings.HasPrefix(msg, "pam_"):
		sudo(e, msg)
	case prog == "su" && !strings.HasPrefix(msg, "pam_"):
		su(e, msg)
	case prog == "useradd" || prog == "groupadd" || prog == "usermod" ||
		prog == "userdel" || prog == "gpasswd":
		accounts(e, msg)
	default:
		sshMessage(e, prog, msg)
	}
	related(e)
}

// sshMessage interprets sshd's messages and the PAM lines sshd writes.
func sshMessage(e event.Event, prog, msg string) {
	if msg == "" {
		return
	}
	switch msg[0] {
	case 'A':
		if rest, ok := cutPrefix(msg, "Accepted "); ok {
			login(e, rest, outcomeSuccess)
		} else if rest, ok := cutPrefix(msg, "Address "); ok {
			// "Address IP maps to H, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!"
			if addr, tail, ok := strings.Cut(rest, " maps to "); ok && strings.HasSuffix(tail, "POSSIBLE BREAK-IN ATTEMPT!") {
				classify(e, "network", "info", ActionReverseMapping, "")
				setAddr(e, addr)
			}
		}
	case 'F':
		if rest, ok := cutPrefix(msg, "Failed "); ok {
			login(e, rest, outcomeFailure)
		}
	case 'I':
		if rest, ok := cutPrefix(msg, "Invalid user "); ok {
			// "Invalid user U from ADDR[ port P]"
			if i := strings.LastIndex(rest, " from "); i >= 0 {
				_, addr, port, ok := peer(rest[i+len(" from "):])
				if ok {
					classify(e, "authentication", "info", ActionInvalidUser, outcomeFailure)
					setUser(e, rest[:i])
					setAddr(e, addr)
					setPort(e, port)
				}
			}
		}
	case 'i':
		if rest, ok := cutPrefix(msg, "input_userauth_request: invalid user "); ok {
			classify(e, "authentication", "info", ActionInvalidUser, outcomeFailure)
			setUser(e, trimPreauth(rest))
		}
	case 'm':
		if rest, ok := cutPrefix(msg, "message repeated "); ok {
			repeated(e, prog, rest)
		} else if rest, ok := cutPrefix(msg, "maximum authentication attempts exceeded for "); ok {
			tooManyFor(e, rest)
		}
	case 'e':
		if rest, ok := cutPrefix(msg, "error: "); ok {
			sshMessage(e, prog, rest)
		}
	case 'P':
		if rest, ok := cutPrefix(msg, "PAM: User not known to the underlying authentication module for illegal user "); ok {
			// Old sshd: "... for illegal user U from ADDR"
			if i := strings.LastIndex(rest, " from "); i >= 0 {
				classify(e, "authentication", "info", ActionInvalidUser, outcomeFailure)
				setUser(e, rest[:i])
				setAddr(e, rest[i+len(" from "):])
			}
		} else if rest, ok := cutPrefix(msg, "PAM "); ok {
			pamMore(e, rest)
		}
	case 'p':
		if strings.HasPrefix(msg, "pam_") {
			if i := strings.Index(msg, "): "); i > 0 {
				pamMessage(e, msg[i+3:])
			}
		}
	case 'R':
		if rest, ok := cutPrefix(msg, "Received disconnect from "); ok {
			receivedDisconnect(e, rest)
		}
	case 'D':
		disconnecting(e, msg)
	case 'C':
		for _, prefix := range [...]string{"Connection closed by ", "Connection reset by "} {
			if rest, ok := cutPrefix(msg, prefix); ok {
				if user, addr, port, ok := peer(rest); ok {
					classify(e, "session", "end", ActionDisconnect, "")
					if user != "" {
						setUser(e, user)
					}
					setAddr(e, addr)
					setPort(e, port)
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
				classify(e, "network", "info", ActionReverseMapping, "")
				setAddr(e, rest[i+2:j])
				if _, isIP := e["source.ip"]; isIP {
					e["source.domain"] = rest[:i]
				}
			}
		}
	}
}

// login parses what follows "Accepted " or "Failed ":
// "METHOD for [invalid user ]U from ADDR port P ssh2[: KEY]".
func login(e event.Event, rest, outcome string) {
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
	classify(e, "authentication", "start", ActionLogin, outcome)
	setUser(e, user)
	setAddr(e, addr)
	setPort(e, port)
	e[FieldMethod] = method
}

// repeated parses what follows "message repeated ": "N times: [ MSG]".
// The event stands for N lines; the inner message is interpreted.
func repeated(e event.Event, prog, rest string) {
	n, rest, ok := strings.Cut(rest, " times: [")
	if !ok {
		return
	}
	count, err := strconv.ParseInt(n, 10, 64)
	if err != nil || count < 1 {
		return
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(rest, " "), "]")
	e[event.FieldRepeat] = count
	sshMessage(e, prog, inner)
}

// receivedDisconnect parses "ADDR port P:CODE: REASON" (newer sshd) or
// "ADDR: CODE: REASON" (older), each optionally followed by " [preauth]".
func receivedDisconnect(e event.Event, rest string) {
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
	classify(e, "session", "end", ActionDisconnect, "")
	setAddr(e, addr)
	setPort(e, port)
	if reason = trimPreauth(reason); reason != "" {
		e["event.reason"] = reason
	}
}

// disconnecting handles messages starting with 'D'.
func disconnecting(e event.Event, msg string) {
	if rest, ok := cutPrefix(msg, "Disconnected from "); ok {
		if user, addr, port, ok := peer(rest); ok {
			classify(e, "session", "end", ActionDisconnect, "")
			if user != "" {
				setUser(e, user)
			}
			setAddr(e, addr)
			setPort(e, port)
		}
		return
	}
	if rest, ok := cutPrefix(msg, "Did not receive identification string from "); ok {
		if _, addr, port, ok := peer(rest); ok {
			classify(e, "network", "info", ActionNoIdentification, "")
			setAddr(e, addr)
			setPort(e, port)
		}
		return
	}
	if rest, ok := cutPrefix(msg, "Disconnecting: Too many authentication failures"); ok {
		// "... for U [preauth]" (older sshd) or nothing.
		classify(e, "session", "end", ActionTooManyFailures, outcomeFailure)
		if u, ok := cutPrefix(trimPreauth(rest), " for "); ok {
			setUser(e, u)
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
		classify(e, "session", "end", action, outcome)
		if user != "" {
			setUser(e, user)
		}
		setAddr(e, addr)
		setPort(e, port)
		e["event.reason"] = reason
	}
}

// tooManyFor parses "[invalid user ]U from ADDR port P ssh2 [preauth]".
func tooManyFor(e event.Event, rest string) {
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
	classify(e, "session", "end", ActionTooManyFailures, outcomeFailure)
	setUser(e, user)
	setAddr(e, addr)
	setPort(e, port)
}
