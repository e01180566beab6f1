package access

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// seedLines returns real lines: the whole corpus files when present, else
// a few lines in the shapes they hold.
func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	dir := corpus.Root()
	if dir == "" {
		return [][]byte{
			[]byte(`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a.png HTTP/1.1" 200 203023 "http://semicomplete.com/" "Mozilla/5.0"`),
			[]byte(`"192.168.4.163 - - [22/Dec/2016:22:32:31 +0300] "GET / HTTP/1.1" 200 3279 "-" "w3af.org""`),
		}
	}
	var lines [][]byte
	for _, name := range []string{"web-access-logs/elastic-examples/apache_logs", "web-access-logs/ocatak-apache-http-logs/w3af.txt"} {
		l, _ := readLines(tb, filepath.Join(dir, filepath.FromSlash(name)))
		lines = append(lines, l...)
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for i, l := range seedLines(f) {
		if i%10 == 0 || i == 8898 { // every tenth line keeps the seed corpus quick
			f.Add(string(l))
		}
	}
	f.Add("")
	f.Add(`1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET /\"x\\ HTTP/1.1" 200 - "\" "\`)
	f.Add(`1.2.3.4 - - [01/Jan/0000:00:00:00 +0100] "GET / HTTP/1.1" 200 1`)
	p := New(Config{})
	f.Fuzz(func(t *testing.T, line string) {
		src := parsers.Source{Name: "fuzz", Offset: 1}
		e := p.Parse(src, []byte(line))
		if e.ID() != event.MakeID(src.Name, src.Offset, []byte(line)) {
			t.Fatal("vigil.event_id not derived from source and line")
		}
		switch e["event.kind"] {
		case parsers.KindPipelineError:
			if e.String(event.FieldParseError) == "" {
				t.Fatal("flagged event without vigil.parse_error")
			}
		case "event":
			if _, ok := e.Time(); !ok {
				t.Fatalf("@timestamp %v", e[event.FieldTimestamp])
			}
			if c, _ := e["http.response.status_code"].(int64); c < 100 || c > 999 {
				t.Fatalf("status %v", e["http.response.status_code"])
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
	p := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(parsers.Source{Name: "apache_logs", Offset: int64(i)}, lines[i%len(lines)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
