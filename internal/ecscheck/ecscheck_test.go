package ecscheck

import (
	"testing"

	"github.com/vigil-siem/vigil/event"
)

// recorder counts the errors Check reports without failing the test.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Error(args ...any) { r.errors = append(r.errors, args[0].(string)) }
func (r *recorder) Helper()           {}

func TestCheckFindsEachKindOfProblem(t *testing.T) {
	s := Load(t)
	cases := []struct {
		name string
		e    event.Event
		want int
	}{
		{"valid", event.Event{"source.ip": "1.2.3.4", "source.port": int64(22), "event.kind": "event",
			"event.category": []any{"authentication"}, "event.type": []any{"start"}, "vigil.x": 1, "labels.k": "v",
			"log.syslog.structured_data": map[string]any{"a": map[string]any{"b": "c"}}, "log.syslog.structured_data.a.b": "c"}, 0},
		{"unknown field", event.Event{"source.ipaddr": "1.2.3.4"}, 1},
		{"wrong type", event.Event{"source.port": "22"}, 1},
		{"disallowed value", event.Event{"event.outcome": "ok"}, 1},
		{"unexpected type for category", event.Event{"event.category": []any{"authentication"}, "event.type": []any{"access"}}, 1},
	}
	for _, c := range cases {
		r := &recorder{TB: t}
		if got := s.Check(r, []event.Event{c.e}); got != c.want || len(r.errors) != c.want {
			t.Errorf("%s: %d problems (%v), want %d", c.name, got, r.errors, c.want)
		}
	}
	r := &recorder{TB: t}
	if got := s.Check(r, []event.Event{{"kubernetes.audit.verb": "get"}}, "kubernetes.audit."); got != 0 {
		t.Errorf("an extra prefix is not allowed: %v", r.errors)
	}
}
