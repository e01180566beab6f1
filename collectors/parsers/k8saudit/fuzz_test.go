package k8saudit

import (
	"net/netip"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func seedLines(tb testing.TB) []string {
	tb.Helper()
	lines := []string{
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","user":{"username":"alice","groups":["g"]},"sourceIPs":["10.0.0.5"],"objectRef":{"resource":"pods","subresource":"exec"},"responseStatus":{"code":403},"requestReceivedTimestamp":"2024-01-02T03:04:05.678901Z"}`,
		`{"kind": 0}`,
	}
	if corpus.Root() == "" {
		return lines
	}
	for _, events := range parseTraces(tb) {
		for _, e := range events {
			lines = append(lines, e.String(event.FieldOriginal))
		}
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	p := New(Config{})
	f.Fuzz(func(t *testing.T, line string) {
		e := p.Parse(parsers.Source{Name: "fuzz"}, []byte(line))
		switch e["event.kind"] {
		case parsers.KindPipelineError:
			if e.String(event.FieldParseError) == "" {
				t.Fatal("flagged event without vigil.parse_error")
			}
		case "event":
			if _, ok := e.Time(); !ok {
				t.Fatalf("@timestamp %v", e[event.FieldTimestamp])
			}
		default:
			t.Fatalf("event.kind = %v", e["event.kind"])
		}
		if ip, ok := e["source.ip"].(string); ok {
			if _, err := netip.ParseAddr(ip); err != nil {
				t.Fatalf("source.ip %q", ip)
			}
		}
		if _, err := event.Marshal(e); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	lines := seedLines(b)
	raw := make([][]byte, len(lines))
	for i, l := range lines {
		raw[i] = []byte(l)
	}
	p := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(parsers.Source{Name: "audit.log", Offset: int64(i)}, raw[i%len(raw)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
