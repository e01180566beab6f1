package config

import (
	"github.com/vigil-siem/vigil/bus"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "vigil.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Collect.Inputs) != 1 || cfg.Collect.Inputs[0].Format != "sshd" || cfg.Collect.Inputs[0].Paths[0] != "/var/log/auth.log" {
		t.Fatalf("inputs: %+v", cfg.Collect.Inputs)
	}
	if time.Duration(cfg.Triage.Window) != 30*time.Minute || cfg.Triage.OpenAI.Model != "gpt-4o-mini" {
		t.Fatalf("triage: %+v", cfg.Triage)
	}
}

func TestEnvironmentOverridesEveryKind(t *testing.T) {
	t.Setenv("VIGIL_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
	t.Setenv("VIGIL_KAFKA_PARTITIONS", "12")
	t.Setenv("VIGIL_KAFKA_SETTINGS", "security.protocol=SASL_SSL, sasl.mechanism=PLAIN")
	t.Setenv("VIGIL_TRIAGE_WINDOW", "45m")
	t.Setenv("VIGIL_INDEX_ELASTICSEARCH_ADDRESSES", "https://es1:9200, https://es2:9200")
	t.Setenv("VIGIL_INDEX_ELASTICSEARCH_COMPRESS", "true")
	t.Setenv("VIGIL_DETECT_RULES", "/etc/vigil/rules")
	t.Setenv("OPENAI_API_KEY", "test-key-not-real")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.BootstrapServers != "k1:9092,k2:9092" || cfg.Kafka.Partitions != 12 {
		t.Errorf("kafka: %+v", cfg.Kafka)
	}
	if cfg.Kafka.Settings["security.protocol"] != "SASL_SSL" || cfg.Kafka.Settings["sasl.mechanism"] != "PLAIN" {
		t.Errorf("kafka settings: %v", cfg.Kafka.Settings)
	}
	if time.Duration(cfg.Triage.Window) != 45*time.Minute {
		t.Errorf("window: %v", time.Duration(cfg.Triage.Window))
	}
	if es := cfg.Index.Elasticsearch; len(es.Addresses) != 2 || es.Addresses[1] != "https://es2:9200" || !es.Compress || !es.Enabled() {
		t.Errorf("elasticsearch: %+v", es)
	}
	if len(cfg.Detect.Rules) != 1 || cfg.Triage.OpenAI.APIKey != "test-key-not-real" {
		t.Errorf("detect %v / key set %v", cfg.Detect.Rules, cfg.Triage.OpenAI.APIKey != "")
	}
}

func TestErrorsNameTheKeyAndTheFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		yaml string
		env  map[string]string
		want []string
	}{
		{"triage:\n  window: soon\n", nil, []string{"bad.yaml", "bad duration"}},
		{"kafka:\n  bootstrap_server: x\n", nil, []string{"bad.yaml", "bootstrap_server"}},
		{"triage:\n  engine: magic\n", nil, []string{"bad.yaml", "triage.engine", "magic"}},
		{"collect:\n  inputs:\n    - type: file\n      format: sshd\n", nil, []string{"collect.inputs[0].paths"}},
		{"collect:\n  inputs:\n    - type: tcp\n      paths: [x]\n      format: sshd\n", nil, []string{"collect.inputs[0].type"}},
		{"", map[string]string{"VIGIL_KAFKA_PARTITIONS": "many"}, []string{"VIGIL_KAFKA_PARTITIONS", "whole number"}},
		{"triage:\n  engine: openai\n", map[string]string{"OPENAI_API_KEY": ""}, []string{"OPENAI_API_KEY"}},
		{"detect:\n  heap_floor_mb: -1\n", nil, []string{"bad.yaml", "detect.heap_floor_mb", "negative"}},
		{"broker:\n  retention_mb: 0\n", nil, []string{"bad.yaml", "broker.retention_mb", "-1 for no bound"}},
		{"broker:\n  retention: -1h\n", nil, []string{"bad.yaml", "broker.retention", "negative"}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		_, err := Load(path)
		if err == nil {
			t.Errorf("%q loaded, want an error", c.yaml)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q does not mention %q", c.yaml, err, w)
			}
		}
		for k := range c.env {
			os.Unsetenv(k)
		}
	}
}

func TestHeapFloorDefaultAndOverrides(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Detect.HeapFloorMB != DefaultHeapFloorMB {
		t.Errorf("default detect.heap_floor_mb = %d, want %d", cfg.Detect.HeapFloorMB, DefaultHeapFloorMB)
	}
	path := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(path, []byte("detect:\n  heap_floor_mb: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Load(path); err != nil || cfg.Detect.HeapFloorMB != 0 {
		t.Errorf("heap_floor_mb: 0 in the file gave %d (%v), want 0: the floor off", cfg.Detect.HeapFloorMB, err)
	}
	t.Setenv("VIGIL_DETECT_HEAP_FLOOR_MB", "64")
	if cfg, err = Load(path); err != nil || cfg.Detect.HeapFloorMB != 64 {
		t.Errorf("VIGIL_DETECT_HEAP_FLOOR_MB=64 gave %d (%v), want 64", cfg.Detect.HeapFloorMB, err)
	}
}

func TestBrokerRetentionReachesTheEmbeddedBroker(t *testing.T) {
	cfg := Default()
	if got := cfg.Broker.BusBroker(6); got.RetentionBytes != bus.DefaultRetentionBytes || got.Retention != 7*24*time.Hour || got.Partitions != 6 {
		t.Errorf("default broker config %+v, want 256 MiB, 168h, 6 partitions", got)
	}
	cfg.Broker.RetentionMB = -1
	if got := cfg.Broker.BusBroker(6); got.RetentionBytes >= 0 {
		t.Errorf("retention_mb -1 gives RetentionBytes %d, want negative (no bound)", got.RetentionBytes)
	}
	cfg.Broker.RetentionMB = 10
	if got := cfg.Broker.BusBroker(6); got.RetentionBytes != 10<<20 {
		t.Errorf("retention_mb 10 gives RetentionBytes %d, want %d", got.RetentionBytes, 10<<20)
	}
}
