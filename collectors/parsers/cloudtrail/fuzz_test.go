package cloudtrail

import (
	"bytes"
	"os"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{assumedRole, serviceCall, denied, "", "[]", `{"Records":[{}]}`} {
		f.Add(s)
	}
	if corpus.Root() != "" {
		for _, path := range stratusFiles(f) {
			if data, err := os.ReadFile(path); err == nil && len(data) < 10000 {
				f.Add(string(data))
			}
		}
		for i, l := range otrfLines(f) {
			if i%10 == 0 {
				f.Add(string(l))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		p := New(Config{})
		checkEvent(t, p.Parse(parsers.Source{Name: "fuzz"}, []byte(in)))
		err := p.ParseDocument("fuzz", bytes.NewReader([]byte(in)), func(e event.Event) error {
			checkEvent(t, e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func checkEvent(t *testing.T, e event.Event) {
	t.Helper()
	if e.ID() == "" {
		t.Fatal("no vigil.event_id")
	}
	switch e["event.kind"] {
	case parsers.KindPipelineError:
		if e.String(event.FieldParseError) == "" {
			t.Fatal("flagged without a reason")
		}
	case "event":
		if _, ok := e.Time(); !ok || e.String("event.action") == "" {
			t.Fatalf("@timestamp %v action %v", e[event.FieldTimestamp], e["event.action"])
		}
	default:
		t.Fatalf("event.kind %v", e["event.kind"])
	}
	if _, err := event.Marshal(e); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkParse parses the OTRF CloudTrail lines (103 records).
func BenchmarkParse(b *testing.B) {
	var in [][]byte
	if corpus.Root() != "" {
		in = otrfLines(b)
	} else {
		in = [][]byte{[]byte(assumedRole), []byte(denied)}
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
