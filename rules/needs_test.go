package rules

import (
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// TestNeedsNeverChangeAResult: a condition's needs only skip running the
// expression on events it cannot match; with or without them every
// expression gives the same answer on every event.
func TestNeedsNeverChangeAResult(t *testing.T) {
	exprs := []string{
		`event.action == "ssh_login" && event.outcome == "failure"`,
		`event.dataset == "system.auth" && (event.action == "sudo" || event.action == "su")`,
		`'authentication' in event.category && event.outcome == "success"`,
		`event.action in ["ssh_login", "ssh_invalid_user"] && source.ip != nil`,
		`"failure" == event.outcome || event.outcome == "unknown"`,
		`event.code == "4625" && int(winlog.logon.type ?? 0) > 2`,
		`re(url.original, "(?i)union.+select") || re(url.original, "etc/passwd")`,
		`re(user_agent.original, "(?i)(nikto|sqlmap)") && !re(user_agent.original, "(?i)bot")`,
		`event.outcome == "success" && re(message, "^Accepted (password|publickey)")`,
		"any([url.original, user_agent.original, http.request.referrer], {re(#, `(?i)(\\$|%24)(\\{|%7b)jndi`)})",
		`!(event.action == "sudo") && user.name == "root"`,
	}
	events := []event.Event{
		{},
		{"event.action": "ssh_login", "event.outcome": "failure", "source.ip": "192.0.2.1"},
		{"event.action": "ssh_login", "event.outcome": "success", "event.category": []any{"authentication"}},
		{"event.action": []any{"ssh_login"}, "event.outcome": "failure"},
		{"event.action": "sudo", "event.dataset": "system.auth", "user.name": "root"},
		{"event.action": "su", "event.dataset": "system.auth", "event.outcome": "unknown"},
		{"event.category": []string{"authentication"}, "event.outcome": "success"},
		{"event.category": map[string]any{"authentication": true}, "event.outcome": "success"},
		{"event.code": "4625", "winlog.logon.type": "x"},
		{"event.code": int64(4625)},
		{"event.action": "ssh_invalid_user", "source.ip": "192.0.2.7", "event.outcome": int64(1)},
		{"url.original": "/item?id=1%20UNION%20ALL%20SELECT%201", "user_agent.original": "Mozilla/5.00 (Nikto/2.1.6)"},
		{"url.original": "/../../ETC/passwd", "user_agent.original": "sqlmap-bot"},
		{"url.original": []any{"/etc/passwd"}, "user_agent.original": int64(7)},
		{"url.original": "/index.html", "message": "Accepted publickey for root", "event.outcome": "success"},
		{"message": "Accepted password for root", "event.outcome": "failure"},
		{"event.code": "4625", "winlog.logon.type": int64(3), "user.name": "root"},
		{"url.original": "/", "user_agent.original": "${jndi:ldap://203.0.113.9/a}"},
		{"url.original": int64(3), "http.request.referrer": "%24%7BJNDI:dns://x"},
		{"url.original": []any{"${jndi:x}"}, "user_agent.original": "curl/8"},
	}
	var machine vm.VM
	for _, src := range exprs {
		c, err := compileCondition(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if len(c.needs)+len(c.matches) == 0 && src != exprs[len(exprs)-1] {
			t.Errorf("%s: no needs found", src)
		}
		bare := &condition{source: c.source, program: c.program}
		matched := false
		for _, ev := range events {
			got, gotErr := c.eval(ev, &machine)
			want, wantErr := bare.eval(ev, &machine)
			if got != want {
				t.Errorf("%s on %v: %v with needs, %v without", src, ev, got, want)
			}
			if gotErr != nil && wantErr == nil {
				t.Errorf("%s on %v: error %v with needs only", src, ev, gotErr)
			}
			matched = matched || got
		}
		if !matched {
			t.Errorf("%s: matches none of the events, the comparison proves nothing", src)
		}
	}
}
