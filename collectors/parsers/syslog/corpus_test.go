package syslog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// zeekMessages rebuilds the syslog messages Zeek saw on the wire from its
// syslog.log: Zeek strips "<PRI>" and reports facility and severity
// apart, so PRI = facility*8 + severity is put back in front.
func zeekMessages(tb testing.TB) [][]byte {
	tb.Helper()
	path := filepath.Join(corpus.Dir(tb), "zeek-wrccdc2018", "json", "syslog.head500.json")
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("corpus file: %v", err)
	}
	facilities := map[string]int{"KERN": 0, "USER": 1, "MAIL": 2, "DAEMON": 3, "AUTH": 4, "SYSLOG": 5, "LPR": 6, "NEWS": 7,
		"UUCP": 8, "CRON": 9, "AUTHPRIV": 10, "FTP": 11, "LOCAL0": 16, "LOCAL1": 17, "LOCAL2": 18, "LOCAL3": 19,
		"LOCAL4": 20, "LOCAL5": 21, "LOCAL6": 22, "LOCAL7": 23}
	severities := map[string]int{"EMERG": 0, "ALERT": 1, "CRIT": 2, "ERR": 3, "WARNING": 4, "NOTICE": 5, "INFO": 6, "DEBUG": 7}
	var out [][]byte
	for i, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var rec struct{ Facility, Severity, Message string }
		if err := json.Unmarshal(l, &rec); err != nil {
			tb.Fatalf("%s:%d: %v", path, i+1, err)
		}
		fac, ok1 := facilities[rec.Facility]
		sev, ok2 := severities[rec.Severity]
		if !ok1 || !ok2 {
			tb.Fatalf("%s:%d: facility %q severity %q", path, i+1, rec.Facility, rec.Severity)
		}
		out = append(out, []byte("<"+itoa(fac*8+sev)+">"+rec.Message))
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// readLines returns a file's lines without line endings.
func readLines(tb testing.TB, rel string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(corpus.Dir(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Skipf("corpus file: %v", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimSuffix(l, []byte("\r"))
	}
	return lines
}

// TestZeekSyslog parses the 500 RFC 5424 messages of the WRCCDC capture:
// none flagged, hosts and times from the header, the @cee payloads' keys
// in labels.
func TestZeekSyslog(t *testing.T) {
	msgs := zeekMessages(t)
	if len(msgs) != 500 {
		t.Fatalf("%d messages, want 500", len(msgs))
	}
	p := New(Config{})
	var events []event.Event
	cee := 0
	for i, m := range msgs {
		e := p.Parse(parsers.Source{Name: "syslog:udp:10.47.22.82", Offset: int64(i)}, m)
		events = append(events, e)
		if e["event.kind"] != "event" {
			t.Errorf("message %d flagged: %v", i+1, e[event.FieldParseError])
			continue
		}
		if e.String("host.hostname") == "" || e.String("log.syslog.appname") != "EvntSLog" || e["log.syslog.version"] != "1" {
			t.Errorf("message %d: header %v", i+1, e)
		}
		if _, ok := e["labels.cee_id"]; ok {
			cee++
			if e.String("message") == "" || e.String("labels.cee_nteventlogtype") == "" {
				t.Errorf("message %d: @cee payload not kept: %v", i+1, e)
			}
		}
		if w, ok := e[FieldWarning]; ok {
			t.Errorf("message %d: warning %v", i+1, w)
		}
	}
	if cee != 32 {
		t.Errorf("%d messages with an @cee payload, want 32", cee)
	}
	if got := events[0]["@timestamp"]; got != "2018-03-24T15:59:37.000Z" {
		t.Errorf("first @timestamp = %v, want 2018-03-24T15:59:37.000Z", got)
	}
	ecscheck.Check(t, events)
}

// TestAuthLogsAgreeWithSshd parses auth.log files (RFC 3164 without PRI,
// as a relay forwards them) and checks that every line gets the same
// event.action, outcome, user and source as package sshd gives it.
func TestAuthLogsAgreeWithSshd(t *testing.T) {
	ref := time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []event.Event
	for _, rel := range []string{"loghub/OpenSSH_2k.log", "loghub/Linux_2k.log", "elastic-integrations-auth/test-auth.log", "elastic-integrations-auth/test-secure-rhel7.log"} {
		lines := readLines(t, rel)
		p := New(Config{Reference: ref})
		s := sshd.New(sshd.Config{Reference: ref})
		for i, l := range lines {
			src := parsers.Source{Name: rel, Offset: int64(i)}
			e, want := p.Parse(src, l), s.Parse(src, l)
			all = append(all, e)
			if e["event.kind"] != "event" {
				t.Errorf("%s:%d flagged: %v", rel, i+1, e[event.FieldParseError])
				continue
			}
			for _, k := range []string{"event.action", "event.outcome", "user.name", "source.ip", "source.domain", "process.pid", "host.name"} {
				if event.Stringify(e[k]) != event.Stringify(want[k]) {
					t.Errorf("%s:%d: %s = %v, sshd gives %v: %s", rel, i+1, k, e[k], want[k], l)
				}
			}
			if _, known := want["event.action"]; known != (e["event.dataset"] == sshd.Dataset) {
				t.Errorf("%s:%d: event.dataset = %v with event.action %v: %s", rel, i+1, e["event.dataset"], e["event.action"], l)
			}
		}
	}
	ecscheck.Check(t, all)
}
