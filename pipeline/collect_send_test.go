package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
)

// scenarioEvents parses the demo scenario's auth.log, repeated reps
// times, into events as the collect stage builds them (log.offset set).
func scenarioEvents(t *testing.T, reps int) []event.Event {
	t.Helper()
	one, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	var off int64
	for line := range bytes.Lines(bytes.Repeat(one, reps)) {
		ev := p.Parse(collectors.Source{Name: "/var/log/auth.log", Offset: off}, bytes.TrimSuffix(line, []byte("\n")))
		ev.Set("log.offset", off)
		ev.Set(event.FieldCollector, "file")
		off += int64(len(line))
		evs = append(evs, ev)
	}
	return evs
}

// TestBatchEncoderMatchesEncodeEvents pins the collector's reusing
// encoder against one codec.Encode per event: the same keys and the same
// bytes, batch after batch (the buffers are reused, including batches
// smaller and larger than the one before), with one range and with
// several.
func TestBatchEncoderMatchesEncodeEvents(t *testing.T) {
	sys := startTestSystem(t, nil)
	evs := scenarioEvents(t, 4) // ~1,270 events: split over every CPU
	enc := &batchEncoder{codec: sys.Wire, keyField: "host.name"}
	for _, n := range []int{len(evs), 10, 300, len(evs), 1} {
		batch := evs[len(evs)-n:]
		want, err := encodeEvents(sys.Wire, batch, "host.name")
		if err != nil {
			t.Fatal(err)
		}
		got, err := enc.encode(batch)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("batch of %d: %d messages, want %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i].Topic != want[i].Topic || !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("batch of %d, event %d:\n got %s %q %s\nwant %s %q %s", n, i,
					got[i].Topic, got[i].Key, got[i].Value, want[i].Topic, want[i].Key, want[i].Value)
			}
		}
	}
}

// startTestSystem starts a System on an embedded broker with the given
// librdkafka settings.
func startTestSystem(t *testing.T, settings map[string]string) *System {
	t.Helper()
	cfg := config.Default()
	cfg.Collect.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Kafka.Settings = settings
	sys, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return sys
}

// TestSendJobsDeliversEveryChunkInOrder sends batches through the sender
// with chunks far smaller than a batch and a window of two: every batch is
// acknowledged with its count, and vigil.events holds every event once,
// each partition in the order the events were read.
func TestSendJobsDeliversEveryChunkInOrder(t *testing.T) {
	sys := startTestSystem(t, nil)
	evs := scenarioEvents(t, 3)
	jobs := make(chan *sendJob)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sys.sendJobs(context.Background(), sys.Producer, jobs, "host.name", sendWindow{chunkBytes: 8 << 10, chunks: 2})
	}()
	var sent []*sendJob
	for lo := 0; lo < len(evs); lo += 200 {
		hi := min(lo+200, len(evs))
		j := &sendJob{evs: evs[lo:hi], records: hi - lo, done: make(chan struct{})}
		jobs <- j
		sent = append(sent, j)
	}
	close(jobs)
	<-done
	for i, j := range sent {
		select {
		case <-j.done:
		default:
			t.Fatalf("batch %d not finished after the sender returned", i)
		}
		if j.err != nil || j.produced != j.records {
			t.Errorf("batch %d: err %v, %d of %d events produced", i, j.err, j.produced, j.records)
		}
	}
	got := readTopic(t, sys, "send-jobs", bus.TopicEvents, len(evs))
	if len(got) != len(evs) {
		t.Fatalf("vigil.events holds %d events, want %d", len(got), len(evs))
	}
	assertEachOnceInFileOrder(t, got)
}

// TestCollectWithoutBrokerSkipsNothing collects a file while Kafka is
// gone: nothing is acknowledged, so RunCollect fails and the registry
// does not move; the next run, with Kafka back, delivers every line.
func TestCollectWithoutBrokerSkipsNothing(t *testing.T) {
	one, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(path, bytes.Repeat(one, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	lines := 3 * bytes.Count(one, []byte("\n"))
	input := config.Input{Type: "file", Paths: []string{path}, Format: "sshd", BatchLines: 100,
		RegistryPath: filepath.Join(dir, "registry.json")}

	down := startTestSystem(t, map[string]string{"message.timeout.ms": "300"})
	down.Config.Collect.Inputs = []config.Input{input}
	down.Broker.Close()
	down.Broker = nil
	if err := down.RunCollect(context.Background()); err == nil {
		t.Fatal("RunCollect succeeded with no broker to acknowledge anything")
	}
	if n := down.Progress.Collected.Load(); n != 0 {
		t.Fatalf("%d events counted as collected with no broker", n)
	}

	up := startTestSystem(t, nil)
	up.Config.Collect.Inputs = []config.Input{input}
	if err := up.RunCollect(context.Background()); err != nil {
		t.Fatalf("RunCollect with the broker back: %v", err)
	}
	if n := up.Progress.Collected.Load(); n != int64(lines) {
		t.Fatalf("second run collected %d events, want all %d lines", n, lines)
	}
}
