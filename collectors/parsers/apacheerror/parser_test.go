package apacheerror

import (
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

type f = map[string]any

func TestParseLineShapes(t *testing.T) {
	cases := []struct {
		name   string
		line   string
		want   f
		absent []string
	}{
		{
			name: "2.2 notice",
			line: "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
			want: f{"@timestamp": "2005-12-04T04:47:44.000Z", "log.level": "notice", "event.type": []any{"info"},
				"message": "workerEnv.init() ok /etc/httpd/conf/workers2.properties", "event.dataset": "apache.error"},
			absent: []string{"source.ip", "process.pid", "log.logger"},
		},
		{
			name: "2.2 error with client",
			line: "[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: /var/www/html/",
			want: f{"log.level": "error", "event.type": []any{"error"}, "source.ip": "222.166.160.184", "related.ip": []any{"222.166.160.184"},
				"message": "Directory index forbidden by rule: /var/www/html/"},
		},
		{
			name: "2.4 with module, pid, tid, client port",
			line: "[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50000] File does not exist: /usr/local/apache2/htdocs/favicon.ico",
			want: f{"@timestamp": "2000-10-11T14:32:52.123Z", "log.level": "error", "log.logger": "core", "process.pid": int64(35708),
				"process.thread.id": int64(4328636416), "source.ip": "72.15.99.187", "source.port": int64(50000),
				"message": "File does not exist: /usr/local/apache2/htdocs/favicon.ico"},
		},
		{
			name: "2.4 IPv6 client",
			line: "[Wed Oct 11 14:32:52 2000] [authz_core:error] [pid 1] [client [2001:db8::5]:443] AH01630: client denied",
			want: f{"source.ip": "2001:db8::5", "source.port": int64(443), "process.pid": int64(1), "message": "AH01630: client denied"},
		},
		{name: "empty", line: "", want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not an Apache error log line: missing [time]"}},
		{name: "bad time", line: "[yesterday] [error] x", want: f{"event.kind": parsers.KindPipelineError}},
		{name: "no level", line: "[Sun Dec 04 04:47:44 2005] boom", want: f{"event.kind": parsers.KindPipelineError}},
	}
	p := New(Config{})
	for _, c := range cases {
		e := p.Parse(parsers.Source{Name: "error_log", Offset: 9}, []byte(c.line+"\r\n"))
		if e[event.FieldOriginal] != c.line {
			t.Errorf("%s: event.original = %q", c.name, e[event.FieldOriginal])
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

func TestLocation(t *testing.T) {
	loc := time.FixedZone("UTC-8", -8*3600)
	e := New(Config{Location: loc}).Parse(parsers.Source{}, []byte("[Sun Dec 04 04:47:44 2005] [notice] x"))
	if e["@timestamp"] != "2005-12-04T12:47:44.000Z" {
		t.Errorf("@timestamp = %v, want 2005-12-04T12:47:44.000Z", e["@timestamp"])
	}
}
