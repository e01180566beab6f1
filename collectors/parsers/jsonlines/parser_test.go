package jsonlines

import (
	"testing"

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
			name: "ECS document passes through",
			line: `{"@timestamp":"2024-05-01T10:00:00.5+02:00","event":{"kind":"alert","category":["network"],"dataset":"suricata.eve"},"source":{"ip":"10.0.0.1","port":5000},"event.original":"raw"}`,
			want: f{"@timestamp": "2024-05-01T08:00:00.500Z", "event.kind": "alert", "event.category": []any{"network"}, "event.dataset": "suricata.eve",
				"source.ip": "10.0.0.1", "source.port": int64(5000), "event.original": "raw"},
			absent: []string{FieldWarning},
		},
		{
			name:   "zeek ts, kind defaulted, forged vigil fields dropped",
			line:   `{"_path":"ssh","ts":"2018-03-24T17:15:20.600843Z","id.orig_h":"10.0.0.1","vigil":{"parse_error":"x"},"vigil.event_id":"forged"}`,
			want:   f{"@timestamp": "2018-03-24T17:15:20.600Z", "event.kind": "event", "_path": "ssh", "id.orig_h": "10.0.0.1"},
			absent: []string{"vigil.parse_error"},
		},
		{name: "epoch seconds", line: `{"time":1521911747.733658,"msg":"x"}`, want: f{"@timestamp": "2018-03-24T17:15:47.733Z"}},
		{name: "epoch milliseconds", line: `{"timestamp":1521911747733}`, want: f{"@timestamp": "2018-03-24T17:15:47.733Z"}},
		{name: "zone-less time", line: `{"timestamp":"2020-10-18 07:50:06.220"}`, want: f{"@timestamp": "2020-10-18T07:50:06.220Z"}},
		{name: "no time", line: `{"msg":"x"}`, want: f{"event.kind": "event", "msg": "x"}, absent: []string{"@timestamp"}},
		{name: "bad @timestamp, good ts", line: `{"@timestamp":"yesterday","ts":0}`, want: f{"@timestamp": "1970-01-01T00:00:00.000Z"}},
		{name: "array", line: `[1,2]`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "number", line: `42`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "truncated", line: `{"a":`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "two objects", line: `{"a":1}{"b":2}`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "empty", line: ``, want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not a JSON object: empty line"}},
	}
	p := New(Config{})
	for _, c := range cases {
		e := p.Parse(parsers.Source{Name: "x.json", Offset: 1}, []byte(c.line+"\n"))
		if e.ID() != event.MakeID("x.json", 1, []byte(c.line+"\n")) {
			t.Errorf("%s: vigil.event_id = %v", c.name, e.ID())
		}
		if _, own := c.want["event.original"]; !own && e[event.FieldOriginal] != c.line {
			t.Errorf("%s: event.original = %v", c.name, e[event.FieldOriginal])
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
	if e := New(Config{Dataset: "zeek"}).Parse(parsers.Source{}, []byte(`{"ts":0}`)); e["event.dataset"] != "zeek" {
		t.Errorf("default dataset not applied: %v", e["event.dataset"])
	}
}
