package apacheerror

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// readLines returns a file's lines without line endings, and its line
// count counted separately.
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

func parseApache2k(tb testing.TB) ([]event.Event, int) {
	tb.Helper()
	path := filepath.Join(corpus.Dir(tb), "loghub", "Apache_2k.log")
	lines, count := readLines(tb, path)
	p := New(Config{})
	var events []event.Event
	var off int64
	for _, l := range lines {
		events = append(events, p.Parse(parsers.Source{Name: path, Offset: off}, l))
		off += int64(len(l)) + 2
	}
	return events, count
}

// TestAgainstLoghubGroundTruth checks every line of loghub's Apache_2k.log
// against loghub's own parse (Apache_2k.log_structured.csv): level and
// message agree, nothing is flagged, nothing lost.
func TestAgainstLoghubGroundTruth(t *testing.T) {
	events, count := parseApache2k(t)
	if count != 2000 || len(events) != count {
		t.Fatalf("%d events from %d lines, want 2000", len(events), count)
	}
	f, err := os.Open(filepath.Join(corpus.Dir(t), "loghub", "Apache_2k.log_structured.csv"))
	if err != nil {
		t.Skipf("ground truth: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	checked, clients := 0, 0
	for _, row := range rows[1:] {
		id, _ := strconv.Atoi(row[col["LineId"]])
		e := events[id-1]
		if e["event.kind"] != "event" {
			t.Errorf("line %d flagged: %v", id, e[event.FieldParseError])
			continue
		}
		if got := e.String("log.level"); got != row[col["Level"]] {
			t.Errorf("line %d: log.level = %q, want %q", id, got, row[col["Level"]])
		}
		// loghub's Content keeps the [client ...] part that this parser
		// moves to source.ip.
		want := row[col["Content"]]
		if ip := e.String("source.ip"); ip != "" {
			clients++
			want = want[len("[client "+ip+"] "):]
		}
		if got := e.String("message"); got != want {
			t.Errorf("line %d: message = %q, want %q", id, got, want)
		}
		checked++
	}
	if checked != 2000 {
		t.Errorf("checked %d lines, want 2000", checked)
	}
	if clients != 32 {
		t.Errorf("%d lines with a client address, want 32 (loghub's template E1)", clients)
	}
}

func TestEventsAreValidECS(t *testing.T) {
	events, _ := parseApache2k(t)
	p := New(Config{})
	events = append(events, p.Parse(parsers.Source{}, []byte("[Wed Oct 11 14:32:52.123456 2000] [core:error] [pid 35708:tid 4328636416] [client 72.15.99.187:50000] x")))
	ecscheck.Check(t, events)
}
