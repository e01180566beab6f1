package zeek

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// FuzzParse feeds a whole stream (lines split on \n) to one parser, so
// header state is fuzzed too.
func FuzzParse(f *testing.F) {
	f.Add(strings.Join(tsvConn, "\n"))
	f.Add(jsonConn)
	if corpus.Root() != "" {
		for _, pair := range logs {
			for _, rel := range []string{"tsv/" + pair[0], "json/" + pair[1]} {
				lines := fileLines(f, rel)
				if len(lines) > 20 {
					lines = lines[:20]
				}
				var b strings.Builder
				for _, l := range lines {
					b.Write(l)
					b.WriteByte('\n')
				}
				f.Add(b.String())
			}
		}
	}
	f.Fuzz(func(t *testing.T, stream string) {
		p := New(Config{})
		for i, line := range strings.Split(stream, "\n") {
			e := p.Parse(parsers.Source{Name: "fuzz.log", Offset: int64(i)}, []byte(line))
			if e == nil {
				if !strings.HasPrefix(line, "#") {
					t.Fatalf("line %d %q gave nil", i, line)
				}
				continue
			}
			switch e["event.kind"] {
			case parsers.KindPipelineError:
				if e.String(event.FieldParseError) == "" {
					t.Fatal("flagged without a reason")
				}
			case "event", "alert":
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
	})
}

func benchParse(b *testing.B, rel string) {
	var lines [][]byte
	if corpus.Root() != "" {
		lines = fileLines(b, rel)
	} else {
		for _, l := range tsvConn {
			lines = append(lines, []byte(l))
		}
	}
	b.ReportAllocs()
	p := New(Config{})
	n := 0
	for b.Loop() {
		i := n % len(lines)
		if i == 0 {
			p = New(Config{})
		}
		p.Parse(parsers.Source{Name: rel, Offset: int64(n)}, lines[i])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkParse parses rdp.log (4,122 records) in the TSV writer and in
// the JSON writer.
func BenchmarkParse(b *testing.B) {
	b.Run("tsv", func(b *testing.B) { benchParse(b, "tsv/rdp.log") })
	b.Run("json", func(b *testing.B) { benchParse(b, "json/rdp.json") })
}
