package k8saudit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// parseTraces parses every Falco trace file, by file name, and checks that
// each non-empty line became one event holding it.
func parseTraces(tb testing.TB) map[string][]event.Event {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus.Dir(tb), "k8s-audit-falco", "trace_files", "*.json"))
	if len(files) == 0 {
		tb.Skip("no k8s-audit-falco trace files")
	}
	p := New(Config{})
	out := map[string][]event.Event{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		var off int64
		records := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				records++
				e := p.Parse(parsers.Source{Name: path, Offset: off}, l)
				if e.String(event.FieldOriginal) != string(l) {
					tb.Errorf("%s: event.original is not the line", filepath.Base(path))
				}
				out[filepath.Base(path)] = append(out[filepath.Base(path)], e)
			}
			off += int64(len(l)) + 1
		}
		if len(out[filepath.Base(path)]) != records {
			tb.Errorf("%s: %d events from %d records", filepath.Base(path), len(out[filepath.Base(path)]), records)
		}
	}
	return out
}

// anyContainer reports whether some container of the request's pod spec
// has a field (a dotted path inside the container) equal to want.
func anyContainer(e event.Event, path string, want any) bool {
	list, _ := e["kubernetes.audit.requestObject.spec.containers"].([]any)
	for _, c := range list {
		var v any = c
		for _, part := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[part]
		}
		if v == want {
			return true
		}
	}
	return false
}

// TestFalcoTraces parses Falco's 47 trace files: only the malformed
// fal_01_003.json is flagged, and the fields Falco's rules look at exist
// where its ground truth expects a detection (and not where it expects
// none).
func TestFalcoTraces(t *testing.T) {
	traces := parseTraces(t)
	if len(traces) != 47 {
		t.Errorf("%d trace files, want 47", len(traces))
	}
	for name, events := range traces {
		for i, e := range events {
			flagged := e["event.kind"] == parsers.KindPipelineError
			if flagged != (name == "fal_01_003.json") {
				t.Errorf("%s:%d: flagged = %v (%v)", name, i+1, flagged, e[event.FieldParseError])
			}
		}
	}
	// count returns how many events of a file satisfy pred.
	count := func(name string, pred func(event.Event) bool) int {
		n := 0
		for _, e := range traces[name] {
			if e["event.kind"] == "event" && pred(e) {
				n++
			}
		}
		return n
	}
	privileged := func(e event.Event) bool {
		return e["event.action"] == "create" && e["orchestrator.resource.type"] == "pods" && anyContainer(e, "securityContext.privileged", true)
	}
	hostNetwork := func(e event.Event) bool {
		return e["orchestrator.resource.type"] == "pods" && e["kubernetes.audit.requestObject.spec.hostNetwork"] == true
	}
	execAttach := func(e event.Event) bool {
		sub := e.String("kubernetes.audit.objectRef.subresource")
		return e["orchestrator.resource.type"] == "pods" && (sub == "exec" || sub == "attach")
	}
	privateCreds := func(e event.Event) bool {
		if e["orchestrator.resource.type"] != "configmaps" || (e["event.action"] != "create" && e["event.action"] != "update" && e["event.action"] != "patch") {
			return false
		}
		for k, v := range e {
			s, _ := v.(string)
			if strings.HasPrefix(k, "kubernetes.audit.requestObject.data.") {
				for _, w := range []string{"aws_access_key_id", "aws-access-key-id", "aws_s3_access_key_id", "aws-s3-access-key-id", "password", "passphrase"} {
					if strings.Contains(s, w) {
						return true
					}
				}
			}
		}
		return false
	}
	anonymous := func(e event.Event) bool {
		return e["user.name"] == "system:anonymous" && e["event.outcome"] == "success"
	}
	cases := []struct {
		file string
		pred func(event.Event) bool
		want int
	}{
		{"create_nginx_pod_privileged.json", privileged, 1},
		{"create_nginx_pod_privileged_2nd_container.json", privileged, 1},
		{"create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json", privileged, 1},
		{"create_nginx_pod_unprivileged.json", privileged, 0},
		{"create_nginx_pod_hostnetwork.json", hostNetwork, 1},
		{"create_nginx_pod_nohostnetwork.json", hostNetwork, 0},
		{"exec_pod.json", execAttach, 1},
		{"attach_pod.json", execAttach, 1},
		{"create_configmap_sensitive_values.json", privateCreds, 6},
		{"create_configmap_no_sensitive_values.json", privateCreds, 0},
		{"anonymous_creates_namespace_foo.json", anonymous, 1},
	}
	for _, c := range cases {
		if _, ok := traces[c.file]; !ok {
			t.Errorf("%s: missing", c.file)
			continue
		}
		if got := count(c.file, c.pred); got != c.want {
			t.Errorf("%s: %d events with the fields of the detection, want %d", c.file, got, c.want)
		}
	}
}

func TestEventsAreValidECS(t *testing.T) {
	var all []event.Event
	for _, events := range parseTraces(t) {
		all = append(all, events...)
	}
	// Elastic's Kubernetes integration keeps the audit event under
	// kubernetes.audit.* (packages/kubernetes/data_stream/audit_logs).
	ecscheck.Check(t, all, Prefix)
}
