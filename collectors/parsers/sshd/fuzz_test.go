package sshd

import (
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/corpus"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// seedLines returns real lines: a few dozen copied from loghub into
// testdata (see testdata/README.md for attribution), plus the whole
// corpus files when the corpus is present.
func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	lines := readLines(tb, filepath.Join("testdata", "loghub_seed.log"))
	dir := corpus.Root()
	if dir == "" {
		return lines
	}
	for _, name := range []string{
		"loghub/OpenSSH_2k.log", "loghub/Linux_2k.log",
		"elastic-integrations-auth/test-auth.log", "elastic-integrations-auth/test-secure-rhel7.log",
	} {
		lines = append(lines, readLines(tb, filepath.Join(dir, filepath.FromSlash(name)))...)
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(string(l))
	}
	f.Add("")
	f.Add("Dec 10 06:55:46 h sshd[1]: message repeated 3 times: [ message repeated 2 times: [ Failed password for root from 1.2.3.4 port 9 ssh2]]")
	f.Add("Feb 29 12:00:00 h sshd[1]: Failed password for  from  port  ssh2")
	f.Fuzz(func(t *testing.T, line string) {
		p := New(Config{Reference: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
		src := parsers.Source{Name: "fuzz", Offset: 7}
		e := p.Parse(src, []byte(line))
		if e == nil {
			t.Fatal("nil event")
		}
		if e.ID() != event.MakeID(src.Name, src.Offset, []byte(line)) {
			t.Fatal("vigil.event_id not derived from source and line")
		}
		if _, ok := e[event.FieldOriginal].(string); !ok {
			t.Fatal("event.original missing")
		}
		switch e["event.kind"] {
		case parsers.KindPipelineError:
			if e.String(event.FieldParseError) == "" {
				t.Fatal("flagged event without vigil.parse_error")
			}
		case "event":
			if _, ok := e.Time(); !ok {
				t.Fatalf("@timestamp %v is not RFC 3339", e[event.FieldTimestamp])
			}
		default:
			t.Fatalf("event.kind = %v", e["event.kind"])
		}
		if ip, ok := e["source.ip"].(string); ok {
			if _, err := netip.ParseAddr(ip); err != nil {
				t.Fatalf("source.ip %q is not an IP address", ip)
			}
		}
		if port, ok := e["source.port"]; ok {
			if n, _ := port.(int64); n < 0 || n > 65535 {
				t.Fatalf("source.port = %v", port)
			}
		}
		if n, ok := e[event.FieldRepeat]; ok {
			if c, _ := n.(int64); c < 1 {
				t.Fatalf("vigil.repeat_count = %v", n)
			}
		}
		if _, err := event.Marshal(e); err != nil {
			t.Fatalf("event does not encode: %v", err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	var lines [][]byte
	if dir := corpus.Root(); dir != "" {
		lines = readLines(b, filepath.Join(dir, "loghub", "OpenSSH_2k.log"))
	} else {
		lines = readLines(b, filepath.Join("testdata", "loghub_seed.log"))
	}
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	p := New(Config{Reference: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)})
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		l := lines[i%len(lines)]
		p.Parse(parsers.Source{Name: "OpenSSH_2k.log", Offset: int64(i)}, l)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
