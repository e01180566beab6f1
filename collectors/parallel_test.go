package collectors

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// failingReader returns data, then err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func TestReadParallelGivesWhatReadGives(t *testing.T) {
	edge := "Dec 31 23:59:59 h sshd[1]: Failed password for root from 203.0.113.7 port 4 ssh2\r\n" +
		"garbage\n\n" +
		"Dec 10 06:55:46 h sshd[2]: " + strings.Repeat("x", maxOfflineLine+10) + "\n" +
		"Jan  1 00:00:01 h sshd[3]: Accepted password for root from 203.0.113.7 port 4 ssh2\n" +
		"<13>Jan  1 00:00:02 h sshd[4]: Connection closed by 203.0.113.7 [preauth]" // no newline
	// Zeek TSV headers change the parser's state mid-stream; auto
	// switches formats line by line and sends an unsure line to the last
	// sure format.
	zeekTSV := "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\n#types\ttime\tstring\taddr\n" +
		"1524000000.1\tC1\t10.0.0.1\n" +
		"#fields\tts\tid.orig_h\n#types\ttime\taddr\n1524000001.2\t10.0.0.2\nnot\tenough\tfields\there\n"
	mixed := edge + "\n" + zeekTSV +
		`{"timestamp":"2018-04-17T12:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","alert":{"severity":1,"signature":"x"}}` + "\n" +
		`127.0.0.1 - - [17/Apr/2018:12:00:00 +0000] "GET /x HTTP/1.1" 404 10 "-" "curl"` + "\n" +
		"[Tue Apr 17 12:00:00.123 2018] [core:error] [pid 1] [client 10.0.0.3:1] File does not exist\n" +
		"type=USER_LOGIN msg=audit(1524000000.000:1): pid=1 uid=0 res=failed\n" +
		"<13>1 2018-04-17T12:00:00Z host app 1 - - rfc5424 message\n" +
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get","stageTimestamp":"2018-04-17T12:00:00Z"}` + "\n" +
		"garbage that matches nothing\n"
	cases := []struct {
		name, format, data string
	}{
		{"sshd edge cases", "sshd", edge},
		{"syslog", "syslog", edge},
		{"zeek TSV with a second header", "zeek", zeekTSV},
		{"auto on every line format at once", FormatAuto, mixed},
		{"empty stream", "sshd", ""},
		{"empty stream, auto", FormatAuto, ""},
	}
	if dir := corpus.Root(); dir != "" {
		for _, c := range []struct{ name, format, path string }{
			{"OpenSSH corpus", "sshd", "loghub/OpenSSH_2k.log"},
			{"Linux corpus", "sshd", "loghub/Linux_2k.log"},
			{"Linux corpus as syslog", "syslog", "loghub/Linux_2k.log"},
			{"auto on the OpenSSH corpus", FormatAuto, "loghub/OpenSSH_2k.log"},
			{"Apache error corpus", "apacheerror", "loghub/Apache_2k.log"},
			{"auto on the Apache error corpus", FormatAuto, "loghub/Apache_2k.log"},
			{"access corpus", "access", "web-access-logs/elastic-examples/apache_logs"},
			{"auto on the access corpus", FormatAuto, "web-access-logs/elastic-examples/apache_logs"},
			{"Suricata EVE corpus", "suricata", "suricata-eve/beats_eve-6.0.log"},
			{"auto on a broken EVE file", FormatAuto, "suricata-eve/surevego_eve_broken.json"},
			{"Zeek JSON corpus", "zeek", "zeek-wrccdc2018/json/dce_rpc.json"},
			{"auto on Zeek JSON", FormatAuto, "zeek-wrccdc2018/json/ntlm.json"},
			{"k8s audit corpus", "k8saudit", "k8s-audit-falco/trace_files/attach_pod.json"},
		} {
			cases = append(cases, struct{ name, format, data string }{c.name, c.format, string(corpus.Read(t, c.path))})
		}
	}
	for _, tc := range cases {
		want, wantSt := readAll(t, tc.format, tc.data)
		for _, cfg := range []ParallelConfig{{Workers: 1, BatchLines: 1}, {Workers: 2, BatchLines: 3}, {Workers: 3, BatchLines: 100}, {}} {
			p, err := NewParser(tc.format, ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
			if err != nil {
				t.Fatal(err)
			}
			var eached atomic.Int64
			cfg.Each = func(e event.Event) { e["test.each"] = true; eached.Add(1) }
			limit := cfg.BatchLines
			if limit == 0 {
				limit = 1024
			}
			var got []event.Event
			st, err := ReadParallel(context.Background(), "test.log", strings.NewReader(tc.data), p, cfg, func(evs []event.Event) error {
				if len(evs) > limit {
					t.Errorf("%s: a batch of %d events, more than %d lines", tc.name, len(evs), limit)
				}
				got = append(got, evs...)
				return nil
			})
			if err != nil {
				t.Fatalf("%s %+v: %v", tc.name, cfg, err)
			}
			if len(got) != len(want) || int(eached.Load()) != len(want) {
				t.Fatalf("%s %+v: %d events (Each ran %d times), want %d", tc.name, cfg, len(got), eached.Load(), len(want))
			}
			for i := range want {
				delete(got[i], "test.each")
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s %+v: event %d:\n got %v\nwant %v", tc.name, cfg, i, got[i], want[i])
				}
			}
			if !reflect.DeepEqual(st, wantSt) {
				t.Fatalf("%s %+v: stats %+v, want %+v", tc.name, cfg, st, wantSt)
			}
		}
	}
}

// Every format read line by line forks, so that ReadParallel spreads it
// over the CPUs, and auto, which hands lines to them, forks whole.
func TestEveryLineFormatForks(t *testing.T) {
	for _, format := range Formats() {
		p, err := NewParser(format, ParserConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := p.(parsers.Forker); !ok {
			t.Errorf("the %s parser is not a parsers.Forker: ReadParallel (vigil scan) parses it on one goroutine, and auto cannot fork it", format)
		}
	}
}

func TestReadParallelStopsAtErrors(t *testing.T) {
	data := strings.Repeat("Dec 10 06:55:46 h sshd[2]: Connection closed by 203.0.113.7 [preauth]\n", 50)
	broken := errors.New("disk on fire")
	stop := errors.New("stop")
	cases := []struct {
		name    string
		r       io.Reader
		stopAt  int // the emit call that fails, 0: none
		want    error
		atLeast int // events emitted before the error
	}{
		{"read error: the lines before it are emitted", &failingReader{r: strings.NewReader(data), err: broken}, 0, broken, 50},
		{"emit error stops the read", strings.NewReader(data), 2, stop, 14},
	}
	for _, tc := range cases {
		p, _ := NewParser("sshd", ParserConfig{})
		n, calls := 0, 0
		_, err := ReadParallel(context.Background(), "x", tc.r, p, ParallelConfig{Workers: 2, BatchLines: 7}, func(evs []event.Event) error {
			calls++
			n += len(evs)
			if calls == tc.stopAt {
				return stop
			}
			return nil
		})
		if !errors.Is(err, tc.want) || n < tc.atLeast || (tc.stopAt > 0 && calls != tc.stopAt) {
			t.Errorf("%s: err %v after %d events in %d batches; want %v after %d", tc.name, err, n, calls, tc.want, tc.atLeast)
		}
	}
}

// FuzzReadParallel checks that ReadParallel gives, for any stream, the
// events and stats Read gives, whatever the batch size, for the formats
// whose parsers carry state from line to line (sshd's year, Zeek's TSV
// header, auto's format of the last line) and for one that carries none.
func FuzzReadParallel(f *testing.F) {
	f.Add("Dec 31 23:59:59 h sshd[1]: Failed password for root from 203.0.113.7 port 4 ssh2\r\ngarbage\n\nJan  1 00:00:01 h sshd[3]: x", uint8(1))
	f.Add("<13>Feb 29 12:00:00 h sshd[1]: x\n2026-03-01T10:00:00+01:00 h sshd[5]: y\nMar  1 10:00:00 h sshd[7]: z\n", uint8(2))
	f.Add("#separator \\x09\n#fields\tts\tid.orig_h\n#types\ttime\taddr\n1524000001.2\t10.0.0.2\n#fields\tts\n1.5\n", uint8(2*8+3))            // zeek
	f.Add(`{"timestamp":"2018-04-17T12:00:00Z","event_type":"dns","src_ip":"10.0.0.1"}`+"\nDec 10 06:55:46 h sshd[2]: x\n\t\n{", uint8(1*8+4)) // auto
	if dir := corpus.Root(); dir != "" {
		f.Add(string(corpus.Read(f, "loghub/OpenSSH_2k.log")[:4096]), uint8(5))
		f.Add(string(corpus.Read(f, "loghub/Linux_2k.log")[:4096]), uint8(3*8+3)) // syslog
	}
	// choice picks the format (choice/8) and the batch size (choice%8+1).
	formats := []string{"sshd", FormatAuto, "zeek", "syslog", "access"}
	f.Fuzz(func(t *testing.T, data string, choice uint8) {
		format := formats[int(choice/8)%len(formats)]
		ref := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
		one, _ := NewParser(format, ParserConfig{Reference: ref})
		var want []event.Event
		wantSt, err := Read("f", strings.NewReader(data), one, func(e event.Event) error {
			want = append(want, e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// All at once, and in short reads as from a pipe (batches
		// cut where the input has nothing more at once).
		for _, r := range []io.Reader{strings.NewReader(data), iotest.HalfReader(strings.NewReader(data))} {
			p, _ := NewParser(format, ParserConfig{Reference: ref})
			var got []event.Event
			st, err := ReadParallel(context.Background(), "f", r, p,
				ParallelConfig{Workers: 2, BatchLines: int(choice%8) + 1}, func(evs []event.Event) error {
					got = append(got, evs...)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(st, wantSt) {
				t.Fatalf("%s: ReadParallel: %d events %+v; Read: %d events %+v", format, len(got), st, len(want), wantSt)
			}
		}
	})
}

func TestReadParallelReturnsWhileTheReaderBlocks(t *testing.T) {
	// A pipe that is never closed (stdin with nothing more to say): an
	// emit error must end the read all the same.
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(strings.Repeat("Dec 10 06:55:46 h sshd[2]: Connection closed by 203.0.113.7 [preauth]\n", 10)))
	p, _ := NewParser("sshd", ParserConfig{})
	stop := errors.New("stop")
	_, err := ReadParallel(context.Background(), "stdin", pr, p, ParallelConfig{Workers: 2, BatchLines: 5}, func([]event.Event) error {
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("ReadParallel = %v, want the emit error", err)
	}
}
