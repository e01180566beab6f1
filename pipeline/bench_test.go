package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
)

// benchLog writes a realistic auth.log of about n lines (the demo
// scenario, repeated) and returns its path and line count.
func benchLog(b *testing.B, n int) (string, int) {
	b.Helper()
	one, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		b.Fatal(err)
	}
	per := bytes.Count(one, []byte("\n"))
	reps := max(n/per, 1)
	path := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(path, bytes.Repeat(one, reps), 0o600); err != nil {
		b.Fatal(err)
	}
	return path, per * reps
}

func benchSystem(b *testing.B, path string) *System {
	b.Helper()
	cfg := config.Default()
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{path}, Format: "sshd"}}
	sys, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sys.Close)
	sys.NoRegistry = true // every iteration reads the file from the start
	return sys
}

// BenchmarkCollectToKafka measures file → parse → ECS JSON → acknowledged
// records in the embedded broker, in lines/s. Compare with
// BenchmarkKcatToKafka, which sends the same file's raw lines with kcat.
func BenchmarkCollectToKafka(b *testing.B) {
	path, lines := benchLog(b, 100_000)
	sys := benchSystem(b, path)
	b.ResetTimer()
	for b.Loop() {
		if err := sys.RunCollect(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkKcatToKafka sends the same file with `kcat -P -l` (raw lines,
// no parsing) into the same kind of broker: the yardstick of issue #3.
func BenchmarkKcatToKafka(b *testing.B) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		b.Skip("kcat not installed (Debian package kcat)")
	}
	path, lines := benchLog(b, 100_000)
	sys := benchSystem(b, path)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(kcat, "-P", "-b", sys.Bus.BootstrapServers, "-t", bus.TopicEvents,
			"-X", "enable.idempotence=true", "-X", "acks=all", "-l", path)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kcat: %v: %s", err, out)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
