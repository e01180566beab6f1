package auditd

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

type f = map[string]any

func TestParseRecordShapes(t *testing.T) {
	cases := []struct {
		name   string
		line   string
		want   f
		absent []string
	}{
		{
			name: "syscall",
			line: `type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 a0=558e251634a0 items=2 ppid=29002 pid=1631 auid=1000 uid=1000 gid=1000 euid=0 tty=pts0 ses=104 comm="arp" exe="/usr/sbin/arp" key=(null)`,
			want: f{"@timestamp": "2020-11-10T07:48:16.155Z", "auditd.log.record_type": "SYSCALL", "auditd.log.sequence": int64(92733),
				"process.pid": int64(1631), "process.parent.pid": int64(29002), "process.name": "arp", "process.executable": "/usr/sbin/arp",
				"user.id": "1000", "user.effective.id": "0", "user.group.id": "1000", "event.outcome": "success", "event.action": "syscall",
				"auditd.log.a0": "558e251634a0", "auditd.log.auid": "1000", "auditd.log.key": "(null)"},
			absent: []string{"event.category"},
		},
		{
			name: "execve with hex and split arguments",
			line: `type=EXECVE msg=audit(1604994496.155:92733): argc=3 a0="sh" a1="-c" a2_len=10 a2[0]=6563686F20 a2[1]=6869`,
			want: f{"process.args": []any{"sh", "-c", "echo hi"}, "process.command_line": `sh -c "echo hi"`, "process.args_count": int64(3),
				"event.action": "executed", "event.category": []any{"process"}, "event.type": []any{"start"}},
		},
		{
			name: "proctitle hex with NULs",
			line: `type=PROCTITLE msg=audit(1604994496.155:92733): proctitle=617270002D61`,
			want: f{"process.title": "arp -a", "auditd.log.proctitle": "arp\x00-a"},
		},
		{
			name: "user login, node prefix, enriched names",
			line: "node=web-01 type=USER_LOGIN msg=audit(1700000000.000:7): pid=900 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=\"root\" exe=\"/usr/sbin/sshd\" hostname=? addr=203.0.113.45 terminal=sshd res=failed'\x1dUID=\"root\" AUID=\"unset\"",
			want: f{"host.name": "web-01", "user.name": "root", "source.ip": "203.0.113.45", "related.ip": []any{"203.0.113.45"},
				"event.outcome": "failure", "event.category": []any{"authentication"}, "event.type": []any{"start"}, "event.action": "user_login",
				"process.executable": "/usr/sbin/sshd", "related.user": []any{"root"}},
		},
		{name: "empty", line: "", want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not an audit record: missing type="}},
		{name: "no msg", line: "type=SYSCALL arch=x", want: f{"event.kind": parsers.KindPipelineError}},
		{name: "bad time", line: "type=SYSCALL msg=audit(abc:1): x=1", want: f{"event.kind": parsers.KindPipelineError}},
	}
	p := New(Config{})
	for _, c := range cases {
		e := p.Parse(parsers.Source{Name: "audit.log", Offset: 5}, []byte(c.line+"\n"))
		if e.ID() != event.MakeID("audit.log", 5, []byte(c.line+"\n")) || e[event.FieldOriginal] != c.line {
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

// TestDocumentJoinsInterleavedEvents feeds two interleaved audit events,
// a garbage line and an EOE-closed event, and checks the joins.
func TestDocumentJoinsInterleavedEvents(t *testing.T) {
	log := strings.Join([]string{
		`type=SYSCALL msg=audit(1.000:1): syscall=59 success=yes pid=10 comm="a" exe="/bin/a"`,
		`type=SYSCALL msg=audit(1.000:2): syscall=59 success=no pid=20 comm="b" exe="/bin/b"`,
		`type=EXECVE msg=audit(1.000:1): argc=1 a0="a"`,
		`garbage`,
		`type=EXECVE msg=audit(1.000:2): argc=2 a0="b" a1="x"`,
		`type=CWD msg=audit(1.000:1): cwd="/tmp"`,
		`type=USER_CMD msg=audit(2.000:3): pid=30 uid=0 msg='cmd=6C73 res=success'`,
		`type=EOE msg=audit(2.000:3): `,
		`type=PATH msg=audit(1.000:2): item=0 name="/bin/b"`,
	}, "\n")
	var got []event.Event
	if err := New(Config{}).ParseDocument("audit.log", strings.NewReader(log), func(e event.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d events, want 4 (3 audit events + 1 flagged line): %v", len(got), got)
	}
	byPID := map[int64]event.Event{}
	flagged := 0
	for _, e := range got {
		if e["event.kind"] == parsers.KindPipelineError {
			flagged++
			continue
		}
		byPID[e["process.pid"].(int64)] = e
	}
	if flagged != 1 {
		t.Errorf("%d flagged, want 1", flagged)
	}
	if a := byPID[10]; a.String("process.command_line") != "a" || a.String("process.working_directory") != "/tmp" || a["event.outcome"] != "success" {
		t.Errorf("event 1 = %v", a)
	}
	if b := byPID[20]; b.String("process.command_line") != "b x" || b.String("file.path") != "/bin/b" || b["event.outcome"] != "failure" {
		t.Errorf("event 2 = %v", b)
	}
	if c := byPID[30]; c.String("auditd.log.cmd") != "ls" || c["event.action"] != "user_cmd" || c["event.outcome"] != "success" {
		t.Errorf("event 3 = %v", c)
	}
	if o := byPID[10].String(event.FieldOriginal); strings.Count(o, "\n") != 2 {
		t.Errorf("event 1 original holds %d lines, want 3: %q", strings.Count(o, "\n")+1, o)
	}
}
