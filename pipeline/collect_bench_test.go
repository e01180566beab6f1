package pipeline

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
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
	return benchSystemWith(b, path, nil)
}

// benchSystemWith is benchSystem with librdkafka settings (kafka.settings).
func benchSystemWith(b *testing.B, path string, settings map[string]string) *System {
	b.Helper()
	cfg := config.Default()
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: []string{path}, Format: "sshd"}}
	cfg.Kafka.Settings = settings
	sys, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(sys.Close)
	sys.NoRegistry = true // every iteration reads the file from the start
	return sys
}

// BenchmarkCollectToKafka measures file → parse → ECS JSON → acknowledged
// records in the embedded broker, in lines/s, and the CPU the whole
// process spends per line (collector, librdkafka's threads and the broker
// together: cpu-µs/line, steadier than lines/s on a busy machine). Compare
// with BenchmarkKcatToKafka, which sends the same file's raw lines with
// kcat.
func BenchmarkCollectToKafka(b *testing.B) {
	path, lines := benchLog(b, 100_000)
	benchCollect(b, benchSystem(b, path), lines)
}

// BenchmarkCollectToKafkaLinger25 is BenchmarkCollectToKafka with the
// producer's linger.ms at 25 (kafka.settings, or VIGIL_KAFKA_SETTINGS=
// linger.ms=25 for a `vigil collect` process): the collector then keeps
// several chunks in flight (windowFor) and librdkafka's thread sleeps
// between batches.
func BenchmarkCollectToKafkaLinger25(b *testing.B) {
	path, lines := benchLog(b, 100_000)
	benchCollect(b, benchSystemWith(b, path, map[string]string{"linger.ms": "25"}), lines)
}

// benchCollect runs RunCollect over the file of lines lines per iteration.
func benchCollect(b *testing.B, sys *System, lines int) {
	b.ResetTimer()
	cpu0 := processCPU(b)
	for b.Loop() {
		if err := sys.RunCollect(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N*lines), "cpu-µs/line")
}

// processCPU is the CPU time (user + system) the whole process has used so
// far: the collector, librdkafka's threads and the embedded broker.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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

// parseEncodeFile parses and encodes every line of path on one goroutine
// and returns the encoded events, one per line.
func parseEncodeFile(b *testing.B, path string) []byte {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	var off int64
	for line := range bytes.Lines(data) {
		ev := p.Parse(collectors.Source{Name: path, Offset: off}, bytes.TrimSuffix(line, []byte("\n")))
		off += int64(len(line))
		js, err := event.Marshal(ev)
		if err != nil {
			b.Fatal(err)
		}
		out.Write(js)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// BenchmarkParseEncode is the CPU floor of collect → Kafka: parsing and
// encoding the same file on one goroutine, no Kafka. Two cores can at
// best double it, before any producing.
func BenchmarkParseEncode(b *testing.B) {
	path, lines := benchLog(b, 100_000)
	b.ResetTimer()
	for b.Loop() {
		parseEncodeFile(b, path)
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkKcatEventsToKafka sends the ECS JSON events of the same file
// (encoded beforehand, one per line) with kcat: the transport's share of
// collect → Kafka for the payload Vigil really ships (~7× the raw line).
func BenchmarkKcatEventsToKafka(b *testing.B) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		b.Skip("kcat not installed (Debian package kcat)")
	}
	path, lines := benchLog(b, 100_000)
	events := filepath.Join(b.TempDir(), "events.ndjson")
	if err := os.WriteFile(events, parseEncodeFile(b, path), 0o600); err != nil {
		b.Fatal(err)
	}
	sys := benchSystem(b, path)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(kcat, "-P", "-b", sys.Bus.BootstrapServers, "-t", bus.TopicEvents,
			"-X", "enable.idempotence=true", "-X", "acks=all", "-l", events)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kcat: %v: %s", err, out)
		}
	}
	b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
}
