package config

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/triage"
	"github.com/vigil-siem/vigil/wire"
)

// Config is the whole of Vigil's configuration.
type Config struct {
	Kafka   bus.Config `yaml:"kafka"`
	Broker  Broker     `yaml:"broker"`
	Collect Collect    `yaml:"collect"`
	Detect  Detect     `yaml:"detect"`
	Triage  Triage     `yaml:"triage"`
	Index   Index      `yaml:"index"`
	Log     Log        `yaml:"log"`
	Metrics Metrics    `yaml:"metrics"`
	// ShutdownTimeout bounds how long a process drains and commits after
	// SIGTERM before it gives up and exits non-zero (default 15s).
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`

	// Wire says which topics carry Avro in the Confluent Schema Registry
	// wire format instead of JSON, and how to reach the registry.
	Wire wire.Config `yaml:"wire"`
}

// Metrics configures the HTTP endpoint of every process: /metrics
// (Prometheus), /healthz and /readyz.
type Metrics struct {
	// Listen is the host:port to serve on (default 127.0.0.1:9464; empty
	// disables the endpoint).
	Listen string `yaml:"listen"`
}

// Broker configures the embedded broker started when kafka.bootstrap_servers is empty.
type Broker struct {
	Listen  string `yaml:"listen"`
	DataDir string `yaml:"data_dir"`
	// Retention is how long the broker keeps records (default 168h), and
	// RetentionMB how many MiB per partition (default 256; -1: no bound).
	// The embedded broker holds its topics in memory; the oldest records
	// go first, consumed or not. vigil.state is exempt.
	Retention   Duration `yaml:"retention"`
	RetentionMB int      `yaml:"retention_mb"`
}

// ValidateRetention checks Retention and RetentionMB, naming them as
// given (config keys, or vigil broker's flags).
func (b Broker) ValidateRetention(retention, retentionMB string) error {
	if b.Retention < 0 {
		return fmt.Errorf("%s: must not be negative", retention)
	}
	if b.RetentionMB == 0 || b.RetentionMB < -1 {
		return fmt.Errorf("%s: %d is not a size in MiB (or -1 for no bound)", retentionMB, b.RetentionMB)
	}
	return nil
}

// BusBroker is the embedded broker's configuration for bus.StartBroker.
func (b Broker) BusBroker(partitions int) bus.BrokerConfig {
	bytes := int64(b.RetentionMB) << 20
	if b.RetentionMB < 0 {
		bytes = -1
	}
	return bus.BrokerConfig{Listen: b.Listen, DataDir: b.DataDir, Partitions: partitions,
		Retention: time.Duration(b.Retention), RetentionBytes: bytes}
}

// Collect configures the collect stage.
type Collect struct {
	Inputs []Input `yaml:"inputs"`
	// KeyField is the event field whose value keys records on vigil.events
	// (default host.name): all events of one entity go to one partition.
	KeyField string `yaml:"key_field"`
	// DataDir holds the inputs' registries (file offsets, journald
	// cursors) when an input sets no registry_path (default vigil-data).
	DataDir string `yaml:"data_dir"`
}

// Input types.
const (
	InputFile     = "file"
	InputStdin    = "stdin"
	InputSyslog   = "syslog"
	InputHTTP     = "http"
	InputJournald = "journald"
)

// IngestTokenEnv is the environment variable holding the http input's
// bearer token when token_file is not set.
const IngestTokenEnv = "VIGIL_INGEST_TOKEN"

// Input is one log source. Which keys apply depends on Type; a key set
// for a type that does not use it is an error.
type Input struct {
	// Type is file, stdin, syslog, http or journald.
	Type string `yaml:"type"`
	// Format names the parser of the records (e.g. sshd).
	Format string `yaml:"format"`
	// Timezone of timestamps that carry none (BSD syslog), e.g. Europe/Berlin. Default UTC.
	Timezone string `yaml:"timezone"`

	// Paths are files or globs (file).
	Paths []string `yaml:"paths"`
	// Follow keeps reading new data until stopped (file, journald).
	Follow bool `yaml:"follow"`
	// PollInterval: how often followed files are checked (file; default 250ms).
	PollInterval Duration `yaml:"poll_interval"`
	// CloseInactive: a file no path names any more is closed after this
	// long without new data (file; default 1m).
	CloseInactive Duration `yaml:"close_inactive"`
	// RegistryPath is where offsets (file) or the cursor (journald) are
	// kept; default a file under collect.data_dir.
	RegistryPath string `yaml:"registry_path"`
	// Multiline joins lines into one record (file).
	Multiline Multiline `yaml:"multiline"`
	// MaxLineBytes caps a record (file, stdin, syslog, http, journald).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most records per delivery (every type).
	BatchLines int `yaml:"batch_lines"`

	// Listen: syslog takes udp://, tcp:// and tls:// addresses (one or a
	// list); http takes one host:port.
	Listen StringList `yaml:"listen"`
	// TLS names the server certificate and key (syslog tls://, http).
	TLS TLS `yaml:"tls"`
	// QueueSize bounds the records waiting for the pipeline (syslog).
	QueueSize int `yaml:"queue_size"`

	// TokenFile holds the http input's bearer token; default: the
	// VIGIL_INGEST_TOKEN environment variable.
	TokenFile string `yaml:"token_file"`
	// MaxRequestBytes caps an http request body (default 10 MiB).
	MaxRequestBytes int `yaml:"max_request_bytes"`
	// MaxInFlight is how many http requests may wait for the pipeline
	// before others get 503 (default 4); for a file input, how many
	// batches may await Kafka's acknowledgement at once (default 4).
	MaxInFlight int `yaml:"max_in_flight"`

	// Command runs journalctl (journald; default [journalctl]).
	Command []string `yaml:"command"`
	// Args are journalctl matches and filters (journald).
	Args []string `yaml:"args"`
	// Seek is where journald starts without a cursor: tail or head.
	Seek string `yaml:"seek"`
}

// Multiline joins lines into one record, like Filebeat's multiline.
type Multiline struct {
	Pattern  string   `yaml:"pattern"`
	Negate   bool     `yaml:"negate"`
	Match    string   `yaml:"match"` // after (default) or before
	MaxLines int      `yaml:"max_lines"`
	Timeout  Duration `yaml:"timeout"`
}

// TLS names a server certificate and its key (PEM files).
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// StringList is a list of strings that may be written as one string.
type StringList []string

// UnmarshalYAML takes a string or a list of strings.
func (l *StringList) UnmarshalYAML(unmarshal func(any) error) error {
	var one string
	if err := unmarshal(&one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := unmarshal(&many); err != nil {
		return fmt.Errorf("want an address or a list of addresses")
	}
	*l = many
	return nil
}

// Detect configures the detect stage.
type Detect struct {
	// Rules are directories or files of rules; empty means the built-in
	// pack, and "@pack" names it among others (pipeline.PackPath).
	Rules []string `yaml:"rules"`
	// Lists is a directory of lists for in_list() (name.txt, one value per line).
	Lists string `yaml:"lists"`
	// Enrich configures the enrichers that run on every event before the rules.
	Enrich enrichers.Config `yaml:"enrich"`
	// AllowedLateness lets events of a key arrive this much out of event-time
	// order and still be evaluated in order (default 0: evaluated as they
	// come). Older events go to vigil.dlq with the reason "late event".
	AllowedLateness Duration `yaml:"allowed_lateness"`
	// CheckpointInterval is how often the rule state of each partition is
	// checkpointed to vigil.state (default 5s); it is also checkpointed
	// when a partition moves to another member and on shutdown.
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// MaxKeys bounds the keys each stateful rule remembers per partition;
	// the least recently used is evicted beyond it (default 100000).
	MaxKeys int `yaml:"max_keys"`
	// WatchInterval is how often the rule directories are checked for
	// added, changed or removed rule files, which reload the rules as
	// SIGHUP does (default 2s; negative: no watching).
	WatchInterval Duration `yaml:"watch_interval"`
	// HeapFloorMB is the heap, in MiB, below which the garbage collector
	// does not run in detect, run, demo and scan (default 256; 0: Go's
	// GOGC=100 alone). Those processes allocate an event per record and
	// keep little of it: without a floor they collect every few MiB. It
	// is not a limit (see GOMEMLIMIT); a GOGC environment variable
	// overrides it.
	HeapFloorMB int `yaml:"heap_floor_mb"`
}

// Triage configures the triage stage: engines, cache, safety, limits and
// cost (see triage/README.md for every option). The OpenAI key comes from
// OPENAI_API_KEY.
type Triage = triage.Config

// Index configures the index stage.
type Index struct {
	// OutputDir receives alerts.ndjson and verdicts.ndjson when no
	// Elasticsearch is configured (default ./vigil-out).
	OutputDir     string        `yaml:"output_dir"`
	Elasticsearch Elasticsearch `yaml:"elasticsearch"`
}

// Elasticsearch says how to reach the cluster; empty addresses and cloud_id mean "not configured".
type Elasticsearch struct {
	Addresses     []string `yaml:"addresses"`
	CloudID       string   `yaml:"cloud_id"`
	APIKey        string   `yaml:"api_key"`
	Username      string   `yaml:"username"`
	Password      string   `yaml:"password"`
	CACert        string   `yaml:"ca_cert"`
	AlertsIndex   string   `yaml:"alerts_index"`
	VerdictsIndex string   `yaml:"verdicts_index"`
	// FeedbackIndex is the analysts' feedback register (one document
	// per incident).
	FeedbackIndex string `yaml:"feedback_index"`
	FlushBytes    int    `yaml:"flush_bytes"`
	Workers       int    `yaml:"workers"`
	MaxRetries    int    `yaml:"max_retries"`
	Compress      bool   `yaml:"compress"`
	// IndexPattern is fixed (one index per kind) or monthly
	// (vigil-alerts-2025.12 by alert time, verdicts by incident start).
	IndexPattern string `yaml:"index_pattern"`
	// Retention deletes indices this long after creation (ILM); 0 keeps them.
	Retention Duration `yaml:"retention"`
	// Events also installs the template for raw events (vigil es setup):
	// for events indexed by other means (vigil parse output); no stage of
	// Vigil writes raw events to Elasticsearch.
	Events bool `yaml:"events"`
}

// Enabled says whether an Elasticsearch cluster is configured.
func (e Elasticsearch) Enabled() bool { return len(e.Addresses) > 0 || e.CloudID != "" }

// Log configures Vigil's own logs.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Duration is a time.Duration written as "30m" in YAML and env.
type Duration time.Duration

// UnmarshalText parses "30s", "10m", "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("bad duration %q (write e.g. 30s, 10m, 1h)", b)
	}
	*d = Duration(v)
	return nil
}

// HeapFloorBytes is HeapFloorMB in bytes, for gcfloor.Start.
func (d Detect) HeapFloorBytes() uint64 { return uint64(max(d.HeapFloorMB, 0)) << 20 }

// DefaultHeapFloorMB is detect.heap_floor_mb's default: enough for the
// garbage of ~100k events between collections.
const DefaultHeapFloorMB = 256

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{
		Kafka:   bus.Config{Partitions: 6, ReplicationFactor: 1},
		Broker:  Broker{Listen: "127.0.0.1:0", Retention: Duration(7 * 24 * time.Hour), RetentionMB: bus.DefaultRetentionBytes >> 20},
		Collect: Collect{KeyField: "host.name", DataDir: "vigil-data"},
		Detect:  Detect{Enrich: enrichers.DefaultConfig(), HeapFloorMB: DefaultHeapFloorMB},
		Triage: Triage{
			Window:    triage.Duration(30 * time.Minute),
			Engine:    "auto",
			CacheSize: 4096,
			CacheTTL:  triage.Duration(24 * time.Hour),
			OpenAI:    triage.OpenAIOptions{Model: "gpt-4o-mini", Timeout: triage.Duration(60 * time.Second), MaxRetries: 3},
		},
		Index: Index{
			OutputDir:     "vigil-out",
			Elasticsearch: Elasticsearch{AlertsIndex: "vigil-alerts", VerdictsIndex: "vigil-verdicts", FeedbackIndex: "vigil-feedback", MaxRetries: 5},
		},
		Log:             Log{Level: "info", Format: "text"},
		Metrics:         Metrics{Listen: "127.0.0.1:9464"},
		ShutdownTimeout: Duration(15 * time.Second),
	}
}

// Load reads the file at path (none when path is ""), applies the
// environment and validates the result. Errors name the file and the key.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := yaml.UnmarshalWithOptions(data, &cfg, yaml.Strict()); err != nil {
			return cfg, fmt.Errorf("config %s: %s", path, yaml.FormatError(err, false, true))
		}
	}
	if err := applyEnv(&cfg, os.LookupEnv); err != nil {
		return cfg, fmt.Errorf("config from environment: %w", err)
	}
	cfg.Triage.OpenAI.APIKey = os.Getenv("OPENAI_API_KEY")
	if err := cfg.Validate(); err != nil {
		where := "config"
		if path != "" {
			where = "config " + path
		}
		return cfg, fmt.Errorf("%s: %w", where, err)
	}
	return cfg, nil
}

// Validate checks values that parse but make no sense.
func (c Config) Validate() error {
	for i, in := range c.Collect.Inputs {
		if err := in.validate(fmt.Sprintf("collect.inputs[%d]", i)); err != nil {
			return err
		}
	}
	switch c.Triage.Engine {
	case "auto", "openai", "fallback":
	default:
		return fmt.Errorf("triage.engine: %q is not auto, openai or fallback", c.Triage.Engine)
	}
	if c.Triage.Engine == "openai" && c.Triage.OpenAI.APIKey == "" {
		return fmt.Errorf("triage.engine is openai but OPENAI_API_KEY is not set")
	}
	if c.Triage.Window <= 0 {
		return fmt.Errorf("triage.window: must be positive")
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %q is not host:port: %w", c.Metrics.Listen, err)
		}
	}
	if err := c.Broker.ValidateRetention("broker.retention", "broker.retention_mb"); err != nil {
		return err
	}
	if c.Detect.HeapFloorMB < 0 {
		return fmt.Errorf("detect.heap_floor_mb: must not be negative (0 turns the floor off)")
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("shutdown_timeout: must not be negative")
	}
	if c.Kafka.Partitions < 1 {
		return fmt.Errorf("kafka.partitions: must be at least 1")
	}
	if err := c.Wire.Validate("wire"); err != nil {
		return err
	}
	return nil
}
