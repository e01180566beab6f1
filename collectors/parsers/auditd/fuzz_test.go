package auditd

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func seedLines(tb testing.TB) [][]byte {
	tb.Helper()
	lines := [][]byte{
		[]byte(`type=SYSCALL msg=audit(1604994496.155:92733): arch=c000003e syscall=59 success=yes exit=0 ppid=29002 pid=1631 auid=1000 uid=1000 comm="arp" exe="/usr/sbin/arp" key=(null)`),
		[]byte(`type=EXECVE msg=audit(1604994496.155:92733): argc=2 a0="arp" a1="-a"`),
		[]byte("type=USER_LOGIN msg=audit(1700000000.000:7): pid=900 uid=0 msg='op=login acct=\"root\" addr=203.0.113.45 res=failed'\x1dUID=\"root\""),
	}
	if corpus.Root() == "" {
		return lines
	}
	for path := range corpusFiles(tb) {
		data, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))...)
	}
	return lines
}

func FuzzParse(f *testing.F) {
	for _, l := range seedLines(f) {
		f.Add(string(l))
	}
	f.Add("")
	f.Add("type=EXECVE msg=audit(1.1:1): argc=99 a0 a1[0]=zz a1[1]= msg='a='b")
	f.Add("type=SYSCALL msg=audit(99999999999999.1:1): x=1")
	p := New(Config{})
	f.Fuzz(func(t *testing.T, line string) {
		e := p.Parse(parsers.Source{Name: "fuzz"}, []byte(line))
		check(t, e)
		// The same text as a document: nothing lost, no error.
		n := 0
		nonEmpty := 0
		for _, l := range strings.Split(line, "\n") {
			if strings.TrimSpace(strings.TrimRight(l, "\r")) != "" {
				nonEmpty++
			}
		}
		if err := p.ParseDocument("fuzz", strings.NewReader(line), func(e event.Event) error {
			check(t, e)
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n > nonEmpty || (nonEmpty > 0 && n == 0) {
			t.Fatalf("%d events from %d non-empty lines", n, nonEmpty)
		}
	})
}

func check(t *testing.T, e event.Event) {
	t.Helper()
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
	if _, err := event.Marshal(e); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkParse(b *testing.B) {
	lines := seedLines(b)
	p := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(parsers.Source{Name: "audit.log", Offset: int64(i)}, lines[i%len(lines)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
