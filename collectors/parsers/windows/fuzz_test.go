package windows

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{nestedRegistry, flatLogonFailed, nestedDataList, "", "{}", `{"Event":{}}`, "[1,2]"} {
		f.Add(s)
	}
	if corpus.Root() != "" {
		flat, nested := corpusFiles(f)
		for _, path := range flat {
			for i, l := range lines(f, path) {
				if i%25 == 0 {
					f.Add(string(l))
				}
			}
		}
		for _, path := range nested[:20] {
			data, _ := os.ReadFile(path)
			f.Add(string(data))
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		p := New(Config{})
		e := p.Parse(parsers.Source{Name: "fuzz", Offset: 3}, []byte(in))
		checkEvent(t, e)
		n := 0
		err := p.ParseDocument("fuzz", bytes.NewReader([]byte(in)), func(e event.Event) error {
			checkEvent(t, e)
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && len(bytes.TrimSpace([]byte(in))) > 3 {
			t.Fatalf("document of %d bytes gave no event", len(in))
		}
	})
}

func checkEvent(t *testing.T, e event.Event) {
	t.Helper()
	if e.ID() == "" {
		t.Fatal("no vigil.event_id")
	}
	if _, ok := e[event.FieldOriginal].(string); !ok {
		t.Fatal("no event.original")
	}
	switch e["event.kind"] {
	case parsers.KindPipelineError:
		if e.String(event.FieldParseError) == "" {
			t.Fatal("flagged without a reason")
		}
	case "event":
		if _, ok := e.Time(); !ok {
			t.Fatalf("@timestamp %v", e[event.FieldTimestamp])
		}
	default:
		t.Fatalf("event.kind %v", e["event.kind"])
	}
	if _, err := event.Marshal(e); err != nil {
		t.Fatal(err)
	}
}

func benchLines(b *testing.B) [][]byte {
	b.Helper()
	dir := corpus.Root()
	if dir == "" {
		return [][]byte{[]byte(nestedRegistry), []byte(flatLogonFailed)}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "windows", "*", "host", "*.json"))
	var out [][]byte
	for _, f := range files {
		out = append(out, lines(b, f)...)
	}
	return out
}

// BenchmarkParse parses the OTRF Windows lines (flat shape, 3,283 records
// of Sysmon, Security, PowerShell, ...).
func BenchmarkParse(b *testing.B) {
	in := benchLines(b)
	p := New(Config{})
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Parse(parsers.Source{Name: "bench", Offset: int64(n)}, in[n%len(in)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
