package jsonlines

import (
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func seedLines(tb testing.TB) []string {
	tb.Helper()
	lines := []string{`{"@timestamp":"2024-05-01T10:00:00Z","event":{"kind":"event"},"vigil":{"event_id":"x"}}`, `{"ts":1521911747.7}`, `[]`}
	if corpus.Root() == "" {
		return lines
	}
	for _, rel := range []string{"zeek-wrccdc2018/json/syslog.head500.json", "zeek-wrccdc2018/json/ssh.json", "suricata-eve/surevego_eve_broken.json"} {
		events, _ := parseFile(tb, rel)
		for i, e := range events {
			if i%5 == 0 {
				lines = append(lines, e.String(event.FieldOriginal))
			}
		}
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(l)
	}
	f.Add(`{"@timestamp":"0000-01-01T00:00:00+01:00"}`)
	p := New(Config{})
	f.Fuzz(func(t *testing.T, line string) {
		src := parsers.Source{Name: "fuzz", Offset: 3}
		e := p.Parse(src, []byte(line))
		if e.ID() != event.MakeID(src.Name, src.Offset, []byte(line)) {
			t.Fatal("vigil.event_id not derived from source and line")
		}
		switch e["event.kind"] {
		case parsers.KindPipelineError:
			if e.String(event.FieldParseError) == "" {
				t.Fatal("flagged event without vigil.parse_error")
			}
		default:
			if _, ok := e[event.FieldTimestamp]; ok {
				if _, ok := e.Time(); !ok {
					t.Fatalf("@timestamp %v", e[event.FieldTimestamp])
				}
			} else if e.String(FieldWarning) == "" {
				t.Fatal("no @timestamp and no warning")
			}
			if _, ok := e[event.FieldParseError]; ok {
				t.Fatal("document forged vigil.parse_error")
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
		p.Parse(parsers.Source{Name: "x.json", Offset: int64(i)}, raw[i%len(raw)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
