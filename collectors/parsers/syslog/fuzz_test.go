package syslog

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	lines := [][]byte{
		[]byte("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
		[]byte(`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 42 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] An application event`),
		[]byte(`<134>1 2018-03-24T08:59:37-07:00 PC-helen.jerry.land EvntSLog - - - @cee: {"msg": "x", "id": "7036"}`),
		[]byte("<38>Dec 10 06:55:46 web-01 sshd[24200]: Failed password for invalid user admin from 203.0.113.45 port 5022 ssh2"),
	}
	if corpus.Root() == "" {
		return lines
	}
	for i, m := range zeekMessages(tb) {
		if i%10 == 0 {
			lines = append(lines, m)
		}
	}
	for i, l := range readLines(tb, "loghub/OpenSSH_2k.log") {
		if i%20 == 0 {
			lines = append(lines, append([]byte("<38>"), l...))
		}
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(string(l))
	}
	f.Add("")
	f.Add("<13>1 - - - - - -")
	p := New(Config{Reference: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)})
	f.Fuzz(func(t *testing.T, line string) {
		src := parsers.Source{Name: "fuzz", Offset: 7}
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
	p := New(Config{Reference: time.Date(2018, 12, 1, 0, 0, 0, 0, time.UTC)})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(parsers.Source{Name: "syslog:udp:10.0.0.1", Offset: int64(i)}, lines[i%len(lines)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
