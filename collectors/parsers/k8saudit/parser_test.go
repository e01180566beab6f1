package k8saudit

import (
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

type f = map[string]any

func TestParseShapes(t *testing.T) {
	cases := []struct {
		name string
		line string
		want f
	}{
		{
			name: "v1 exec, forbidden",
			line: `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh","verb":"create","user":{"username":"alice","uid":"u1","groups":["dev","system:authenticated"]},"impersonatedUser":{"username":"bob"},"sourceIPs":["10.0.0.5","192.168.1.1"],"userAgent":"kubectl/v1.29","objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1","subresource":"exec"},"responseStatus":{"code":403},"requestReceivedTimestamp":"2024-01-02T03:04:05.678901Z","stageTimestamp":"2024-01-02T03:04:06Z"}`,
			want: f{"@timestamp": "2024-01-02T03:04:05.678Z", "event.action": "create", "event.type": []any{"creation"}, "event.outcome": "failure",
				"user.name": "alice", "user.id": "u1", "user.group.name": []any{"dev", "system:authenticated"}, "related.user": []any{"alice", "bob"},
				"source.ip": "10.0.0.5", "related.ip": []any{"10.0.0.5", "192.168.1.1"}, "user_agent.original": "kubectl/v1.29",
				"orchestrator.namespace": "default", "orchestrator.resource.type": "pods", "orchestrator.resource.name": "p",
				"kubernetes.audit.objectRef.subresource": "exec", "kubernetes.audit.responseStatus.code": int64(403), "event.id": "a1",
				"event.dataset": "kubernetes.audit", "event.module": "kubernetes"},
		},
		{
			name: "v1beta1 with only timestamp, allowed by annotation",
			line: `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","timestamp":"2018-10-25T14:09:12Z","verb":"get","user":{"username":"system:anonymous"},"annotations":{"authorization.k8s.io/decision":"allow"}}`,
			want: f{"@timestamp": "2018-10-25T14:09:12.000Z", "event.type": []any{"access"}, "event.outcome": "success",
				"kubernetes.audit.annotations.authorization.k8s.io/decision": "allow"},
		},
		{name: "falco's malformed event", line: `{"kind": 0}`, want: f{"event.kind": parsers.KindPipelineError, "vigil.parse_error": "not a Kubernetes audit event: kind is 0, want Event"}},
		{name: "other kind", line: `{"kind":"Pod","apiVersion":"v1"}`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "wrong apiVersion", line: `{"kind":"Event","apiVersion":"v1","timestamp":"2018-10-25T14:09:12Z"}`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "no apiVersion", line: `{"kind":"Event","verb":"get","stageTimestamp":"2018-10-25T14:09:12Z"}`, want: f{"event.kind": "event", "event.action": "get"}},
		{name: "no time", line: `{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "not JSON", line: `level=info msg=hello`, want: f{"event.kind": parsers.KindPipelineError}},
		{name: "array", line: `[{"kind":"Event"}]`, want: f{"event.kind": parsers.KindPipelineError}},
	}
	p := New(Config{})
	for _, c := range cases {
		e := p.Parse(parsers.Source{Name: "audit.log", Offset: 2}, []byte(c.line+"\n"))
		if e.ID() != event.MakeID("audit.log", 2, []byte(c.line+"\n")) || e[event.FieldOriginal] != c.line {
			t.Errorf("%s: id or event.original wrong", c.name)
		}
		for k, v := range c.want {
			if event.Stringify(e[k]) != event.Stringify(v) {
				t.Errorf("%s: %s = %#v, want %#v", c.name, k, e[k], v)
			}
		}
	}
}
