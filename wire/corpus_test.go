package wire_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/wire"
)

const topic = "vigil.events"

// avroCodec returns a codec writing Avro on topic, with a mock registry.
func avroCodec(tb testing.TB) *wire.Codec {
	tb.Helper()
	client, err := schemaregistry.NewClient(schemaregistry.NewConfig("mock://wire-external-test"))
	if err != nil {
		tb.Fatal(err)
	}
	c, err := wire.NewWithClient(wire.Config{Formats: map[string]string{topic: wire.FormatAvro}}, client)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// corpusInputs are, per log format, files of the shared corpus in that
// format (globs inside shared/corpus).
var corpusInputs = map[string][]string{
	"sshd":        {"loghub/OpenSSH_2k.log", "elastic-integrations-auth/*.log"},
	"syslog":      {"loghub/Linux_2k.log"},
	"apacheerror": {"loghub/Apache_2k.log"},
	"access":      {"web-access-logs/elastic-examples/apache_logs", "web-access-logs/ocatak-apache-http-logs/w3af.txt"},
	"suricata":    {"suricata-eve/*.json", "suricata-eve/*.log"},
	"zeek":        {"zeek-wrccdc2018/json/*.json", "zeek-wrccdc2018/tsv/*.log"},
	"cloudtrail":  {"stratus-red-team/detonation-logs/*.json", "otrf-security-datasets/aws/*/*.json"},
	"windows":     {"otrf-security-datasets/windows/*/host/*.json"},
	"auditd":      {"otrf-security-datasets/linux/*/host/*.log"},
	"k8saudit":    {"k8s-audit-falco/trace_files/*.json"},
	"jsonlines":   {"zeek-wrccdc2018/json/dns*.json", "suricata-eve/tenzir_ctu_malware_eve.json"},
	"auto":        {"loghub/Linux_2k.log", "k8s-audit-falco/trace_files/*.json", "suricata-eve/beats_eve-6.0.log"},
}

// repoInputs are logs in the repository, so the round trip runs on a
// fresh clone too.
var repoInputs = map[string][]string{
	"sshd": {"testdata/scenarios/ssh-bruteforce/auth.log", "collectors/parsers/sshd/testdata/loghub_seed.log"},
}

// maxEventsPerFile keeps the test fast on the large files.
const maxEventsPerFile = 3000

// TestCorpusRoundTrip: for every log format, every event parsed from
// real logs survives JSON → Avro → event: it marshals to the same JSON,
// and it is the very event a consumer of the JSON record gets.
func TestCorpusRoundTrip(t *testing.T) {
	for _, format := range collectors.Formats() {
		if _, ok := corpusInputs[format]; !ok {
			t.Errorf("format %s has no corpus files in corpusInputs", format)
		}
	}
	producer := avroCodec(t)
	run := func(t *testing.T, root string, inputs map[string][]string) {
		for format, globs := range inputs {
			t.Run(format, func(t *testing.T) {
				files := 0
				for _, g := range globs {
					matches, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(g)))
					for _, path := range matches {
						files++
						roundTripFile(t, producer, format, path)
					}
				}
				if files == 0 {
					t.Errorf("no file matches %v", globs)
				}
			})
		}
	}
	t.Run("repository", func(t *testing.T) { run(t, repoRoot(t), repoInputs) })
	t.Run("corpus", func(t *testing.T) { run(t, corpus.Dir(t), corpusInputs) })
}

var errEnough = errors.New("enough events")

func roundTripFile(t *testing.T, c *wire.Codec, format, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := collectors.NewParser(format, collectors.ParserConfig{Reference: time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	n, bad := 0, 0
	_, err = collectors.Read(path, f, p, func(ev event.Event) error {
		n++
		if n > maxEventsPerFile {
			return errEnough
		}
		jsonBytes, err := event.Marshal(ev)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, n, err)
		}
		avroBytes, err := c.Encode(topic, ev)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, n, err)
		}
		got, err := c.Decode(topic, avroBytes)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, n, err)
		}
		gotJSON, err := event.Marshal(got)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, n, err)
		}
		viaJSON, err := c.Decode(topic, jsonBytes)
		if err != nil {
			t.Fatalf("%s: event %d: %v", path, n, err)
		}
		if !bytes.Equal(gotJSON, jsonBytes) || !reflect.DeepEqual(got, viaJSON) {
			if bad++; bad <= 3 {
				t.Errorf("%s: event %d differs after Avro\n got %s\nwant %s\n got %#v\nwant %#v", path, n, gotJSON, jsonBytes, got, viaJSON)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		t.Fatalf("%s: %v", path, err)
	}
	if n == 0 {
		t.Errorf("%s: no events", path)
	}
	t.Logf("%s: %d events round-tripped", filepath.Base(path), min(n, maxEventsPerFile))
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
