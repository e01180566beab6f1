package access

import (
	"testing"

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
			name: "combined",
			line: `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/kibana-search.png?q=1&x=2 HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/" "Mozilla/5.0 (Macintosh)"`,
			want: f{"@timestamp": "2015-05-17T10:05:03.000Z", "source.ip": "83.149.9.216", "http.request.method": "GET",
				"url.original": "/presentations/kibana-search.png?q=1&x=2", "url.path": "/presentations/kibana-search.png", "url.query": "q=1&x=2",
				"http.version": "1.1", "http.response.status_code": int64(200), "http.response.body.bytes": int64(203023),
				"http.request.referrer": "http://semicomplete.com/presentations/", "user_agent.original": "Mozilla/5.0 (Macintosh)",
				"event.outcome": "success", "event.kind": "event", "event.dataset": "apache.access", "event.module": "apache"},
			absent: []string{"user.name", "vigil.parse_warning"},
		},
		{
			name: "common format with user and zone",
			line: `2001:db8::1 - frank [10/Oct/2000:13:55:36 -0700] "POST /apache_pb.gif HTTP/1.0" 404 -`,
			want: f{"@timestamp": "2000-10-10T20:55:36.000Z", "source.ip": "2001:db8::1", "user.name": "frank", "related.user": []any{"frank"},
				"http.request.method": "POST", "http.response.status_code": int64(404), "event.outcome": "failure"},
			absent: []string{"http.response.body.bytes", "user_agent.original", "http.request.referrer"},
		},
		{
			name:   "host name client and escaped quote in the user agent",
			line:   `crawler.example.com - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 301 0 "-" "say \"hi\""`,
			want:   f{"source.domain": "crawler.example.com", "user_agent.original": `say "hi"`, "http.response.body.bytes": int64(0)},
			absent: []string{"source.ip", "related.ip", "http.request.referrer"},
		},
		{
			name: "truncated user agent",
			line: `46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/configlib.py HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html`,
			want: f{"event.kind": "event", "user_agent.original": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html",
				"vigil.parse_warning": "user agent has no closing quote: line truncated", "http.response.status_code": int64(200)},
		},
		{
			name: "line wrapped in quotes",
			line: `"192.168.4.163 - - [22/Dec/2016:22:32:31 +0300] "GET /DVWA/?a=%27b HTTP/1.1" 200 3279 "-" "w3af.org""`,
			want: f{"source.ip": "192.168.4.163", "user_agent.original": "w3af.org", "url.query": "a=%27b", "@timestamp": "2016-12-22T19:32:31.000Z"},
		},
		{
			name:   "TLS bytes instead of a request",
			line:   `1.2.3.4 - - [17/May/2015:10:05:03 +0000] "\x16\x03\x01" 400 226 "-" "-"`,
			want:   f{"event.kind": "event", "http.response.status_code": int64(400), "vigil.parse_warning": "request line is not METHOD URL PROTOCOL"},
			absent: []string{"http.request.method", "url.original", "user_agent.original"},
		},
		{name: "empty", line: "", want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not an access log line: missing client address"}},
		{name: "bad time", line: `1.2.3.4 - - [17/Foo/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "bad status", line: `1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" OK 1`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "syslog line", line: `Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user`, want: f{"event.kind": parsers.KindPipelineError}},
	}
	p := New(Config{})
	for _, c := range cases {
		e := p.Parse(parsers.Source{Name: "access.log", Offset: 3}, []byte(c.line))
		if e.ID() != event.MakeID("access.log", 3, []byte(c.line)) || e[event.FieldOriginal] != c.line {
			t.Errorf("%s: id or event.original wrong: %v", c.name, e)
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

func TestDatasetNamesModule(t *testing.T) {
	e := New(Config{Dataset: "nginx.access"}).Parse(parsers.Source{}, []byte(`1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 1 "-" "curl/8"`))
	if e["event.dataset"] != "nginx.access" || e["event.module"] != "nginx" {
		t.Errorf("dataset %v module %v, want nginx.access and nginx", e["event.dataset"], e["event.module"])
	}
}
