package jsonlines

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// parseFile parses every non-empty line of a corpus file; it returns the
// events and the line numbers of the flagged ones.
func parseFile(tb testing.TB, rel string) (events []event.Event, flagged []int) {
	tb.Helper()
	path := filepath.Join(corpus.Dir(tb), filepath.FromSlash(rel))
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Skipf("corpus file: %v", err)
	}
	p := New(Config{})
	var off int64
	records := 0
	for i, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			records++
			e := p.Parse(parsers.Source{Name: path, Offset: off}, l)
			if e["event.kind"] == parsers.KindPipelineError {
				flagged = append(flagged, i+1)
			}
			events = append(events, e)
		}
		off += int64(len(l)) + 1
	}
	if len(events) != records {
		tb.Errorf("%s: %d events from %d records", rel, len(events), records)
	}
	return events, flagged
}

// TestCorpusFiles parses the JSON-lines files of the corpus (Zeek, Suricata
// EVE, OTRF's Windows and CloudTrail exports): every record comes out,
// only the deliberately broken Suricata lines are flagged, and every event
// that is not flagged has its @timestamp (in the broken file, a line with a
// junk timestamp passes with vigil.parse_warning instead).
func TestCorpusFiles(t *testing.T) {
	dir := corpus.Dir(t)
	var files []string
	for _, glob := range []string{"zeek-wrccdc2018/json/*.json", "suricata-eve/*.json", "suricata-eve/*.log", "otrf-security-datasets/*/*/*.json", "otrf-security-datasets/*/*/*/*.json"} {
		m, _ := filepath.Glob(filepath.Join(dir, filepath.FromSlash(glob)))
		for _, path := range m {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	if len(files) < 20 {
		t.Fatalf("found only %d JSON-lines files: %v", len(files), files)
	}
	// SOURCES.md: lines 1, 4, 5, 103, 104, 157–160 and 270 are corrupted.
	broken := map[int]bool{1: true, 4: true, 5: true, 103: true, 104: true, 157: true, 158: true, 159: true, 160: true, 270: true}
	for _, rel := range files {
		events, flagged := parseFile(t, rel)
		for _, n := range flagged {
			if rel != "suricata-eve/surevego_eve_broken.json" || !broken[n] {
				t.Errorf("%s:%d flagged: %v", rel, n, events[n-1][event.FieldParseError])
			}
		}
		if rel == "suricata-eve/surevego_eve_broken.json" && len(flagged) < 5 {
			t.Errorf("%s: only lines %v flagged", rel, flagged)
		}
		for i, e := range events {
			if e["event.kind"] != parsers.KindPipelineError {
				if _, ok := e.Time(); !ok && (rel != "suricata-eve/surevego_eve_broken.json" || e.String(FieldWarning) == "") {
					t.Errorf("%s:%d: no @timestamp (%v)", rel, i+1, e[FieldWarning])
					break
				}
			}
		}
	}
}

// TestECSDocumentsStayECS checks that ECS input stays valid ECS: the
// parser adds only ECS and vigil.* fields to a document.
func TestECSDocumentsStayECS(t *testing.T) {
	p := New(Config{})
	var events []event.Event
	for _, l := range []string{
		`{"@timestamp":"2024-05-01T10:00:00Z","event":{"kind":"event","category":["authentication"],"type":["start"],"outcome":"failure","dataset":"system.auth"},"source":{"ip":"10.0.0.1"},"user":{"name":"root"}}`,
		`{"@timestamp":"2024-05-01T10:00:00Z","message":"no event fields"}`,
		`not json`,
	} {
		events = append(events, p.Parse(parsers.Source{}, []byte(l)))
	}
	ecscheck.Check(t, events)
}
