package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
)

// TestCollectKeepsFileOrderWithBatchesInFlight collects a file in small
// batches, several in flight at once: every line arrives once, each
// partition holds its lines in file order (batches do not overtake each
// other), and the registry ends at the end of the file, so a second run
// sends nothing.
func TestCollectKeepsFileOrderWithBatchesInFlight(t *testing.T) {
	one, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(path, bytes.Repeat(one, 2), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := 2 * bytes.Count(one, []byte("\n"))
	cfg := config.Default()
	cfg.Collect.DataDir = filepath.Join(dir, "data")
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{path}, Format: "sshd", BatchLines: 16}}
	sys, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := sys.RunCollect(context.Background()); err != nil {
		t.Fatalf("RunCollect: %v", err)
	}
	got := readTopic(t, sys, "collect-order", bus.TopicEvents, lines)
	if len(got) != lines {
		t.Fatalf("vigil.events holds %d events, want %d (one per line)", len(got), lines)
	}
	assertEachOnceInFileOrder(t, got)
	before := sys.Progress.Collected.Load()
	if err := sys.RunCollect(context.Background()); err != nil {
		t.Fatalf("second RunCollect: %v", err)
	}
	if again := sys.Progress.Collected.Load() - before; again != 0 {
		t.Errorf("second run sent %d events, want 0: the registry did not reach the end of the file", again)
	}
}

// TestCollectShipsAHugeLine: a line as long as the file input allows (1
// MiB) would make an event twice that, which Kafka refuses on every retry:
// the input would stop there for good. Its long fields are cut, so it is
// shipped flagged, and the lines after it follow.
func TestCollectShipsAHugeLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	huge := "Dec 10 06:55:46 bastion-01 sshd[24200]: Invalid user " + strings.Repeat("é", 600<<10) + " from 203.0.113.5\n"
	after := "Dec 10 06:55:48 bastion-01 sshd[24201]: Failed password for root from 203.0.113.5 port 22 ssh2\n"
	if err := os.WriteFile(path, []byte(huge+after), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Collect.DataDir = filepath.Join(dir, "data")
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{path}, Format: "sshd"}}
	sys, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	if err := sys.RunCollect(context.Background()); err != nil {
		t.Fatalf("RunCollect: %v", err)
	}
	got := readTopic(t, sys, "collect-huge", bus.TopicEvents, 2)
	if len(got) != 2 {
		t.Fatalf("vigil.events holds %d events, want 2", len(got))
	}
	flagged := 0
	for _, r := range got {
		ev, err := event.Unmarshal(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Get("vigil.truncated") == true {
			flagged++
			orig := ev.String(event.FieldOriginal)
			if len(orig) > maxFieldBytes || !utf8.ValidString(orig) || !strings.HasPrefix(huge, orig) {
				t.Errorf("cut event.original: %d bytes (max %d), valid UTF-8 %v, a prefix of the line %v",
					len(orig), maxFieldBytes, utf8.ValidString(orig), strings.HasPrefix(huge, orig))
			}
		}
	}
	if flagged != 1 {
		t.Errorf("%d events flagged vigil.truncated, want the huge line's one", flagged)
	}
}

// assertEachOnceInFileOrder checks that every event of recs comes from a
// different line (log.offset) and that each partition holds its lines in
// file order: batches did not overtake each other.
func assertEachOnceInFileOrder(t *testing.T, recs []bus.Record) {
	t.Helper()
	last := map[int32]int64{}
	seen := map[int64]bool{}
	for _, r := range recs {
		ev, err := event.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("event at partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		off, err := strconv.ParseInt(event.Stringify(ev.Get("log.offset")), 10, 64)
		if err != nil {
			t.Fatalf("event without a numeric log.offset: %v", err)
		}
		if seen[off] {
			t.Fatalf("line at offset %d sent twice", off)
		}
		seen[off] = true
		if prev, ok := last[r.Partition]; ok && off <= prev {
			t.Fatalf("partition %d: line at offset %d after %d: out of file order", r.Partition, off, prev)
		}
		last[r.Partition] = off
	}
}
