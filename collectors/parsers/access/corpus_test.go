package access

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// readLines returns a file's lines without line endings, and the file's
// line count counted separately (newlines, plus a last line without one).
func readLines(tb testing.TB, path string) (lines [][]byte, count int) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("corpus file: %v", err)
	}
	count = bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		count++
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	for _, l := range bytes.Split(data, []byte("\n")) {
		lines = append(lines, bytes.TrimSuffix(l, []byte("\r")))
	}
	return lines, count
}

func parseFile(tb testing.TB, rel string) ([]event.Event, int) {
	tb.Helper()
	path := filepath.Join(corpus.Dir(tb), filepath.FromSlash(rel))
	lines, count := readLines(tb, path)
	p := New(Config{})
	var events []event.Event
	var off int64
	for _, l := range lines {
		events = append(events, p.Parse(parsers.Source{Name: path, Offset: off}, l))
		off += int64(len(l)) + 1
	}
	return events, count
}

// TestCorpusFiles checks every line of both access logs: one event per
// line, none flagged, every event holding its line; the ground truth of
// SOURCES.md (status counts, the 404 scanner, the w3af scanner's lines);
// the truncated user agent of line 8,899 and the quoted lines of w3af.txt.
func TestCorpusFiles(t *testing.T) {
	events, count := parseFile(t, "web-access-logs/elastic-examples/apache_logs")
	if len(events) != count || count != 10000 {
		t.Fatalf("apache_logs: %d events from %d lines, want 10000", len(events), count)
	}
	status := map[int64]int{}
	notFound := map[string]int{}
	for i, e := range events {
		if e["event.kind"] != "event" {
			t.Errorf("apache_logs:%d flagged: %v", i+1, e[event.FieldParseError])
			continue
		}
		code := e["http.response.status_code"].(int64)
		status[code]++
		if code == 404 {
			notFound[e.String("source.ip")]++
		}
		if w, ok := e[FieldWarning]; ok && i+1 != 8899 {
			t.Errorf("apache_logs:%d: unexpected warning %v", i+1, w)
		}
	}
	// SOURCES.md says 200 ×9,125; the file has 9,126 (awk '{print $9}' | sort | uniq -c).
	for code, n := range map[int64]int{200: 9126, 304: 445, 404: 213, 301: 164, 206: 45, 500: 3, 416: 2, 403: 2} {
		if status[code] != n {
			t.Errorf("status %d: %d lines, want %d", code, status[code], n)
		}
	}
	if notFound["208.91.156.11"] != 60 {
		t.Errorf("404s from 208.91.156.11 = %d, want 60", notFound["208.91.156.11"])
	}
	trunc := events[8898]
	if trunc.String(FieldWarning) == "" || !strings.HasPrefix(trunc.String("user_agent.original"), "Mozilla/5.0 (compatible; Googlebot/2.1") ||
		trunc.String("url.path") != "/scripts/grok-py-test/configlib.py" {
		t.Errorf("line 8899 (truncated user agent) = %v", trunc)
	}

	events, count = parseFile(t, "web-access-logs/ocatak-apache-http-logs/w3af.txt")
	if len(events) != count || count != 3996 {
		t.Fatalf("w3af.txt: %d events from %d lines, want 3996", len(events), count)
	}
	perIP := map[string]int{}
	for i, e := range events {
		if e["event.kind"] != "event" {
			t.Errorf("w3af.txt:%d flagged: %v", i+1, e[event.FieldParseError])
			continue
		}
		if _, ok := e[FieldWarning]; ok {
			t.Errorf("w3af.txt:%d: warning %v", i+1, e[FieldWarning])
		}
		if ua := e.String("user_agent.original"); strings.HasSuffix(ua, `"`) {
			t.Errorf("w3af.txt:%d: quote left in user agent %q", i+1, ua)
		}
		perIP[e.String("source.ip")]++
	}
	for ip, n := range map[string]int{"192.168.4.163": 3914, "192.168.1.20": 62, "192.168.4.25": 20} {
		if perIP[ip] != n {
			t.Errorf("w3af.txt: %d lines from %s, want %d", perIP[ip], ip, n)
		}
	}
}

func TestEventsAreValidECS(t *testing.T) {
	a, _ := parseFile(t, "web-access-logs/elastic-examples/apache_logs")
	w, _ := parseFile(t, "web-access-logs/ocatak-apache-http-logs/w3af.txt")
	ecscheck.Check(t, append(a, w...))
}
