package sshd

import (
	"testing"

	"github.com/vigil-siem/vigil/event"
)

// TestParseMessageMatchesParse checks that a message handed over without
// its header means what the same message means in a whole auth.log line.
func TestParseMessageMatchesParse(t *testing.T) {
	cases := []struct {
		prog, msg string
		known     bool
	}{
		{"sshd", "Failed password for invalid user admin from 203.0.113.45 port 5022 ssh2", true},
		{"sshd", "Accepted publickey for alice from 192.0.2.10 port 50000 ssh2: RSA SHA256:x", true},
		{"sudo", "bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/ls -la", true},
		{"sshd(pam_unix)", "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=198.51.100.7  user=root", true},
		{"useradd", "new user: name=deploy, UID=1001, GID=1001, home=/home/deploy, shell=/bin/bash", true},
		{"sshd", "Server listening on 0.0.0.0 port 22.", false},
	}
	for _, c := range cases {
		whole := parseOne("Dec 10 10:00:00 web-01 " + c.prog + "[42]: " + c.msg)
		e := event.New()
		if got := ParseMessage(e, c.prog, c.msg); got != c.known {
			t.Errorf("%s: %q: recognised = %v, want %v", c.prog, c.msg, got, c.known)
		}
		for _, k := range []string{"event.action", "event.outcome", "user.name", "user.effective.name", "source.ip", "process.command_line"} {
			if event.Stringify(e[k]) != event.Stringify(whole[k]) {
				t.Errorf("%s: %q: %s = %v, whole line gives %v", c.prog, c.msg, k, e[k], whole[k])
			}
		}
		if event.Stringify(e["related.user"]) != event.Stringify(whole["related.user"]) {
			t.Errorf("%s: related.user = %v, whole line gives %v", c.prog, e["related.user"], whole["related.user"])
		}
	}
}
