package rules_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/gcfloor"
	"github.com/vigil-siem/vigil/rules"
)

// benchInputs are the logs BenchmarkDecodeAndDetect replays: the demo
// scenario (in the repository) and real third-party logs of the shared
// corpus, each with its format.
var benchInputs = []struct{ path, format string }{
	{"testdata/scenarios/ssh-bruteforce/auth.log", "sshd"},
	{"../shared/corpus/loghub/OpenSSH_2k.log", "sshd"},
	{"../shared/corpus/elastic-integrations-auth/test-auth.log", "sshd"},
	{"../shared/corpus/loghub/Linux_2k.log", "syslog"},
	{"../shared/corpus/loghub/Apache_2k.log", "apacheerror"},
	{"../shared/corpus/web-access-logs/elastic-examples/apache_logs", "access"},
	{"../shared/corpus/suricata-eve/beats_eve-6.0.log", "suricata"},
	{"../shared/corpus/zeek-wrccdc2018/json/dce_rpc.json", "zeek"},
}

// repoRoot walks up from the working directory to the module root.
func repoRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// encodedEvents parses the bench inputs and encodes every event with
// event.Marshal, as the collect stage puts them on vigil.events. The
// sources are interleaved line by line, as on a shared topic.
func encodedEvents(tb testing.TB) [][]byte {
	root := repoRoot(tb)
	var perSource [][][]byte
	for _, in := range benchInputs {
		path := filepath.Join(root, in.path)
		f, err := os.Open(path)
		if err != nil {
			continue // the corpus is optional; the scenario is always there
		}
		p, err := collectors.NewParser(in.format, collectors.ParserConfig{Reference: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			f.Close()
			tb.Fatalf("parser %s: %v", in.format, err)
		}
		var docs [][]byte
		_, err = collectors.Read(path, f, p, func(e event.Event) error {
			b, err := event.Marshal(e)
			if err != nil {
				return err
			}
			docs = append(docs, b)
			return nil
		})
		f.Close()
		if err != nil {
			tb.Fatalf("read %s: %v", path, err)
		}
		perSource = append(perSource, docs)
	}
	var out [][]byte
	for i := 0; ; i++ {
		added := false
		for _, docs := range perSource {
			if i < len(docs) {
				out = append(out, docs[i])
				added = true
			}
		}
		if !added {
			break
		}
	}
	if len(out) == 0 {
		tb.Fatal("no events parsed")
	}
	return out
}

// BenchmarkDecodeAndDetect is the detect stage's work per event: decode
// the ECS JSON of vigil.events (event.Unmarshal) and run the whole
// built-in pack on it, with the stage's garbage collection policy (the
// default detect.heap_floor_mb; VIGIL_DETECT_HEAP_FLOOR_MB sets another,
// 0 measures Go's default). Run with -cpu 1 for events/s per core.
func BenchmarkDecodeAndDetect(b *testing.B) {
	defer gcfloor.Start(detectConfig(b).HeapFloorBytes(), 100)()
	pack, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	docs := encodedEvents(b)
	var size int64
	for _, d := range docs {
		size += int64(len(d))
	}
	engine := rules.NewEngine(pack, rules.EngineConfig{})
	b.SetBytes(size / int64(len(docs)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev, err := event.Unmarshal(docs[i%len(docs)])
		if err != nil {
			b.Fatal(err)
		}
		engine.Process(ev)
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(len(docs)), "distinct-events")
}

// detectConfig is the detect stage's default configuration, with the
// environment's VIGIL_DETECT_* applied.
func detectConfig(tb testing.TB) config.Detect {
	cfg, err := config.Load("")
	if err != nil {
		tb.Fatal(err)
	}
	return cfg.Detect
}

// BenchmarkDecodeAndDetectParts splits BenchmarkDecodeAndDetect in its
// two halves on the same events: decoding alone, and the pack alone on
// events decoded beforehand.
func BenchmarkDecodeAndDetectParts(b *testing.B) {
	docs := encodedEvents(b)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := event.Unmarshal(docs[i%len(docs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("detect", func(b *testing.B) {
		pack, errs := rules.LoadFS(rules.Pack(), ".")
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		evs := make([]event.Event, len(docs))
		for i, d := range docs {
			ev, err := event.Unmarshal(d)
			if err != nil {
				b.Fatal(err)
			}
			evs[i] = ev
		}
		engine := rules.NewEngine(pack, rules.EngineConfig{})
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			engine.Process(evs[i%len(evs)])
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
