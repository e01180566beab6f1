package apacheerror

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	lines := [][]byte{[]byte("[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50000] File does not exist")}
	if dir := corpus.Root(); dir != "" {
		l, _ := readLines(tb, filepath.Join(dir, "loghub", "Apache_2k.log"))
		lines = append(lines, l...)
	} else {
		lines = append(lines, []byte("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties"))
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for i, l := range seedLines(f) {
		if i%5 == 0 || i == 131 {
			f.Add(string(l))
		}
	}
	f.Add("")
	f.Add("[Sun Dec 04 04:47:44 2005] [:] [pid :tid ] [client :] ")
	f.Add("[Sat Jan 01 00:00:00 0000] [error] x")
	p := New(Config{Location: time.FixedZone("east", 3600)})
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
			if e.String("log.level") == "" && e.String("log.logger") == "" {
				t.Fatal("no level")
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
		p.Parse(parsers.Source{Name: "Apache_2k.log", Offset: int64(i)}, lines[i%len(lines)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
