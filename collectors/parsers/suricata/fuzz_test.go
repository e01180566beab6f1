package suricata

import (
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{tlsLine, flowLine, dropLine, "", "{}"} {
		f.Add(s)
	}
	if corpus.Root() != "" {
		for _, name := range corpusNames {
			for _, l := range fileLines(f, name) {
				f.Add(string(l))
			}
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		e := New(Config{}).Parse(parsers.Source{Name: "fuzz"}, []byte(line))
		if e.ID() == "" {
			t.Fatal("no vigil.event_id")
		}
		switch e["event.kind"] {
		case parsers.KindPipelineError:
			if e.String(event.FieldParseError) == "" {
				t.Fatal("flagged without a reason")
			}
		case "event", "alert", "metric":
			if _, ok := e.Time(); !ok {
				t.Fatalf("@timestamp %v", e[event.FieldTimestamp])
			}
		default:
			t.Fatalf("event.kind %v", e["event.kind"])
		}
		if _, err := event.Marshal(e); err != nil {
			t.Fatal(err)
		}
	})
}

// BenchmarkParse parses surevego_eve.json (273 records: alert, fileinfo,
// http, dns, flow, stats).
func BenchmarkParse(b *testing.B) {
	var in [][]byte
	if corpus.Root() != "" {
		in = fileLines(b, "surevego_eve.json")
	} else {
		in = [][]byte{[]byte(tlsLine), []byte(flowLine), []byte(dropLine)}
	}
	p := New(Config{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Parse(parsers.Source{Name: "bench", Offset: int64(n)}, in[n%len(in)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
