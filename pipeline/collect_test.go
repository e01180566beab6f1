package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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
	last := map[int32]float64{}
	seen := map[float64]bool{}
	for _, r := range got {
		ev, err := event.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("event at partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		off, err := strconv.ParseFloat(event.Stringify(ev.Get("log.offset")), 64)
		if err != nil {
			t.Fatalf("event without a numeric log.offset: %v", err)
		}
		if seen[off] {
			t.Fatalf("line at offset %.0f sent twice", off)
		}
		seen[off] = true
		if prev, ok := last[r.Partition]; ok && off <= prev {
			t.Fatalf("partition %d: line at offset %.0f after %.0f: out of file order", r.Partition, off, prev)
		}
		last[r.Partition] = off
	}
	before := sys.Progress.Collected.Load()
	if err := sys.RunCollect(context.Background()); err != nil {
		t.Fatalf("second RunCollect: %v", err)
	}
	if again := sys.Progress.Collected.Load() - before; again != 0 {
		t.Errorf("second run sent %d events, want 0: the registry did not reach the end of the file", again)
	}
}
