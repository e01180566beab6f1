package collectors

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func readAll(t *testing.T, format, data string) ([]event.Event, ReadStats) {
	t.Helper()
	p, err := NewParser(format, ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	st, err := Read("test.log", strings.NewReader(data), p, func(e event.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, st
}

func TestReadKeepsEveryLineWithItsOffset(t *testing.T) {
	data := "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 203.0.113.7 port 4 ssh2\r\n" +
		"garbage\n" +
		"\n" +
		"Dec 10 06:55:48 LabSZ sshd[24200]: Accepted password for root from 203.0.113.7 port 4 ssh2" // no newline
	evs, st := readAll(t, "sshd", data)
	if len(evs) != 4 || st.Lines != 4 || st.Events != 4 {
		t.Fatalf("%d events from %d lines, want 4 from 4", len(evs), st.Lines)
	}
	if st.Failed() != 2 || st.Bytes != int64(len(data)) {
		t.Fatalf("failed %d (want 2: garbage and the empty line), bytes %d of %d", st.Failed(), st.Bytes, len(data))
	}
	// Offsets are where each line starts: the same line read again gets the same id.
	again, _ := readAll(t, "sshd", data)
	for i := range evs {
		if evs[i].ID() != again[i].ID() {
			t.Fatalf("line %d got a new id on a second read", i+1)
		}
	}
	if evs[0].String("event.outcome") != "failure" || evs[3].String("event.outcome") != "success" {
		t.Fatalf("CRLF or the unterminated last line was not parsed: %v / %v", evs[0], evs[3])
	}
}

func TestAutoSkipsBlankLines(t *testing.T) {
	evs, st := readAll(t, FormatAuto, "{\"a\":1}\n\n  \n{\"b\":2}\n")
	if len(evs) != 2 || st.Failed() != 0 || st.Lines != 0 && st.Lines != 4 {
		t.Fatalf("%d events, %d flagged: blank lines are not records", len(evs), st.Failed())
	}
}

func TestReadStopsAtEmitError(t *testing.T) {
	p, _ := NewParser("sshd", ParserConfig{})
	stop := errors.New("stop")
	n := 0
	_, err := Read("x", strings.NewReader("a\nb\nc\n"), p, func(event.Event) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("Read returned %v after %d events; want the emit error after 2", err, n)
	}
}

func TestAutoDetectsEachLine(t *testing.T) {
	a := newAuto(ParserConfig{})
	cases := map[string]string{
		`Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 4 ssh2`:                  "sshd",
		`<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed`:                     "syslog",
		`64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main HTTP/1.1" 401 12846`:           "access",
		`"192.168.4.163 - - [22/Dec/2016:16:30:52 +0300] "GET / HTTP/1.1" 200 1 "-" "w3af.org""`:                "access",
		`[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties`:           "apacheerror",
		`type=SYSCALL msg=audit(1604994492.718:1234): arch=c000003e syscall=59 success=yes`:                     "auditd",
		`{"eventVersion":"1.08","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging"}`:            "cloudtrail",
		`{"timestamp":"2017-02-20T14:13:13.421+0000","flow_id":1,"event_type":"alert","src_ip":"172.17.0.2"}`:   "suricata",
		`{"_path":"dce_rpc","ts":"2018-03-24T17:15:20.6Z","id.orig_h":"10.128.0.214"}`:                          "zeek",
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","auditID":"x","verb":"create"}`:                    "k8saudit",
		`{"auditID":"x","stage":"ResponseComplete","verb":"create","requestURI":"/api/v1/pods"}`:                "k8saudit", // Falco's traces: no apiVersion
		`2025-03-01T10:00:00.123456+00:00 web-01 sshd[1234]: Failed password for root from 1.2.3.4 port 5 ssh2`: "sshd",
		`2025-03-01T10:00:00Z web-01 CRON[99]: pam_unix(cron:session): session opened for user root`:            "sshd",
		`2025-03-01T10:00:00Z INFO server started on port 8080`:                                                 "jsonlines", // an application log, not syslog
		`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","CommandLine":"whoami"}`:                 "windows",
		`{"@timestamp":"2026-01-01T00:00:00Z","message":"hello"}`:                                               "jsonlines",
		`#fields	ts	uid	id.orig_h`:     "zeek",
		"1521911720.6\tCxyz\t10.0.0.1": "zeek", // after the header
		`complete garbage`:             "jsonlines",
	}
	order := []string{}
	for line := range cases {
		order = append(order, line)
	}
	// The Zeek data line only counts as Zeek after its header.
	for _, line := range order {
		if strings.HasPrefix(line, "1521911720.6") {
			continue
		}
		if got, _ := a.detectLine([]byte(line)); got != cases[line] {
			t.Errorf("%.60s… detected as %s, want %s", line, got, cases[line])
		}
	}
	if got, _ := a.detectLine([]byte("1521911720.6\tCxyz\t10.0.0.1")); got != "zeek" {
		t.Errorf("a tab-separated line after a Zeek header detected as %s", got)
	}
	if got, _ := newAuto(ParserConfig{}).detectLine([]byte("1521911720.6\tCxyz\t10.0.0.1")); got == "zeek" {
		t.Error("a tab-separated line without a Zeek header must not be taken for Zeek")
	}
}

func TestAutoOnTheOpenSSHCorpusEqualsSSHD(t *testing.T) {
	data := string(corpus.Read(t, "loghub/OpenSSH_2k.log"))
	auto, ast := readAll(t, FormatAuto, data)
	direct, _ := readAll(t, "sshd", data)
	if len(auto) != 2000 || ast.Failed() != 0 || len(auto) != len(direct) {
		t.Fatalf("auto: %d events (%d flagged), sshd: %d", len(auto), ast.Failed(), len(direct))
	}
	for i := range auto {
		a, _ := event.Marshal(auto[i])
		d, _ := event.Marshal(direct[i])
		if string(a) != string(d) {
			t.Fatalf("line %d differs:\nauto %s\nsshd %s", i+1, a, d)
		}
	}
}

func TestDetectDocument(t *testing.T) {
	cases := map[string]string{
		"[\n  {\"eventVersion\":\"1.08\",\"eventSource\":\"iam.amazonaws.com\"}\n]":    "cloudtrail",
		"{\"Records\": [\n {\"eventVersion\":\"1.08\"}]}":                              "cloudtrail",
		"{\n  \"Event\": {\n    \"System\": {\n      \"EventID\": 1\n    }\n  }\n}\n{": "windows",
		"{\"a\":1}\n{\"b\":2}\n":           "",
		"Dec 10 06:55:46 LabSZ sshd[1]: x": "",
	}
	for in, want := range cases {
		if got := detectDocument([]byte(in)); got != want {
			t.Errorf("detectDocument(%.40q) = %q, want %q", in, got, want)
		}
	}
}

func TestAutoSendsUnrecognisedLinesToTheStreamsFormat(t *testing.T) {
	data := string(corpus.Read(t, "suricata-eve/surevego_eve_broken.json"))
	evs, st := readAll(t, FormatAuto, data)
	direct, dst := readAll(t, "suricata", data)
	blank := 0 // white-space-only lines: no record for auto, flagged by the suricata parser
	for _, e := range direct {
		if strings.TrimSpace(e.String(event.FieldOriginal)) == "" {
			blank++
		}
	}
	if len(evs) != len(direct)-blank || st.Failed() != dst.Failed()-int64(blank) || st.Failed() == 0 {
		t.Fatalf("auto: %d events, %d flagged; suricata: %d events, %d flagged, %d blank",
			len(evs), st.Failed(), len(direct), dst.Failed(), blank)
	}
	for reason := range st.Failures {
		if strings.HasPrefix(reason, "auto:") || strings.Contains(reason, "BSD syslog") {
			t.Errorf("a corrupted Suricata line was flagged by another format: %q", reason)
		}
	}
}

// A UTF-8 byte order mark at the start of a file is no part of its first
// line: the line parses, read on one goroutine or several, and keeps the
// offset and id of its place in the file.
func TestByteOrderMarkIsSkipped(t *testing.T) {
	line := "Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 203.0.113.9 port 4242 ssh2\n"
	data := "\ufeff" + line + line
	for _, format := range []string{"sshd", FormatAuto} {
		evs, st := readAll(t, format, data)
		if len(evs) != 2 || st.Failed() != 0 || st.Bytes != int64(len(data)) {
			t.Fatalf("%s: %d events, %d flagged, %d of %d bytes", format, len(evs), st.Failed(), st.Bytes, len(data))
		}
		if evs[0].String(event.FieldOriginal) != strings.TrimSuffix(line, "\n") {
			t.Errorf("%s: event.original %q keeps the mark", format, evs[0].String(event.FieldOriginal))
		}
		p, err := NewParser(format, ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		var parallel []event.Event
		if _, err := ReadParallel(context.Background(), "test.log", strings.NewReader(data), p, ParallelConfig{Workers: 2, BatchLines: 1},
			func(b []event.Event) error { parallel = append(parallel, b...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(parallel) != 2 || parallel[0].ID() != evs[0].ID() || parallel[0].String(event.FieldOriginal) != evs[0].String(event.FieldOriginal) {
			t.Errorf("%s: ReadParallel gave %v, Read %v", format, parallel, evs)
		}
	}
	// Only at the start of the stream: elsewhere it is the line's content.
	if _, st := readAll(t, "sshd", line+"\ufeff"+line); st.Failed() != 1 {
		t.Errorf("a mark inside the file was skipped: %d flagged, want 1", st.Failed())
	}
}
