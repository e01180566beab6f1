package collectors_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/collectors/file"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/event"
)

// The sshd parser satisfies the contract without importing this package.
var _ collectors.Parser = (*sshd.Parser)(nil)

func TestNewParser(t *testing.T) {
	ref := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC)
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: ref})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte("Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2")
	e := p.Parse(collectors.Source{Name: "/var/log/auth.log", Offset: 128}, line)
	if e["event.action"] != "ssh_login" || e[event.FieldTimestamp] != "2025-12-10T07:13:43.000Z" {
		t.Errorf("parsed %v", e)
	}
	if e.ID() != event.MakeID("/var/log/auth.log", 128, line) || collectors.IsFlagged(e) {
		t.Errorf("id %s, flagged %v", e.ID(), collectors.IsFlagged(e))
	}
	bad := p.Parse(collectors.Source{Name: "x"}, []byte("\x00garbage"))
	if !collectors.IsFlagged(bad) || bad.String(event.FieldParseError) == "" {
		t.Errorf("garbage line not flagged: %v", bad)
	}
}

func TestNewParserUnknownFormatListsKnownOnes(t *testing.T) {
	_, err := collectors.NewParser("ssdh", collectors.ParserConfig{})
	if err == nil {
		t.Fatal("unknown format accepted")
	}
	for _, want := range append([]string{`"ssdh"`}, collectors.Formats()...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if got := strings.Join(collectors.Formats(), ","); !strings.Contains(got, "sshd") {
		t.Errorf("Formats() = %s, want sshd listed", got)
	}
}

// TestFileThroughParserGivesStableIDs reads the demo scenario with the file
// input and the sshd parser, twice: every line yields one event with a
// unique id, and a second read (a replay after a crash) yields the same ids.
func TestFileThroughParserGivesStableIDs(t *testing.T) {
	path := filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	read := func() []event.Event {
		in, err := file.New(file.Config{Paths: []string{path}, BatchLines: 64})
		if err != nil {
			t.Fatal(err)
		}
		p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: st.ModTime()})
		if err != nil {
			t.Fatal(err)
		}
		var events []event.Event
		err = in.Run(context.Background(), func(_ context.Context, lines []file.Line) error {
			for _, l := range lines {
				events = append(events, p.Parse(collectors.Source{Name: l.Path, Offset: l.Offset}, l.Data))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return events
	}
	first, second := read(), read()
	if len(first) != 318 || len(second) != 318 {
		t.Fatalf("got %d and %d events, want 318", len(first), len(second))
	}
	seen := map[string]bool{}
	for i, e := range first {
		if collectors.IsFlagged(e) {
			t.Errorf("line %d flagged: %v", i+1, e[event.FieldParseError])
		}
		if seen[e.ID()] {
			t.Errorf("line %d: duplicate id %s", i+1, e.ID())
		}
		seen[e.ID()] = true
		if second[i].ID() != e.ID() {
			t.Errorf("line %d: id changed on re-read: %s then %s", i+1, e.ID(), second[i].ID())
		}
	}
}
