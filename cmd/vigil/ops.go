package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/metrics"
	"github.com/vigil-siem/vigil/pipeline"
)

// secrets lists the secret values of a configuration, which the logger
// never writes: the OpenAI key, Elasticsearch password and API key, the
// HTTP ingest token, and kafka.settings values whose key names a secret
// (sasl.password, ssl.key.password, ...).
func secrets(cfg config.Config) []string {
	out := []string{cfg.Triage.OpenAI.APIKey, cfg.Index.Elasticsearch.APIKey, cfg.Index.Elasticsearch.Password, cfg.Wire.SchemaRegistry.Password,
		os.Getenv(config.IngestTokenEnv)}
	for k, v := range cfg.Kafka.Settings {
		if metrics.IsSecretKey(k) || strings.Contains(strings.ToLower(k), "key") && !strings.HasSuffix(k, ".location") {
			out = append(out, v)
		}
	}
	for _, in := range cfg.Collect.Inputs {
		if in.TokenFile != "" {
			if b, err := os.ReadFile(in.TokenFile); err == nil {
				out = append(out, strings.TrimSpace(string(b)))
			}
		}
	}
	return out
}

// redactPairs turns secret values into strings.NewReplacer pairs.
func redactPairs(secrets []string) []string {
	var pairs []string
	for _, s := range secrets {
		if len(s) >= 4 {
			pairs = append(pairs, s, metrics.Redacted)
		}
	}
	return pairs
}

// serveOps serves /metrics, /healthz and /readyz of sys on metrics.listen
// (nothing when it is empty); the returned function stops serving.
func serveOps(cfg config.Config, sys *pipeline.System, log *slog.Logger) (func(), error) {
	if cfg.Metrics.Listen == "" {
		return func() {}, nil
	}
	srv, err := metrics.Serve(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Metrics: sys.Metrics})
	if err != nil {
		return nil, err
	}
	srv.SetCheck("pipeline", sys.Ready)
	log.Info("serving /metrics, /healthz and /readyz", "addr", srv.Addr())
	return func() { srv.Close() }, nil
}

// stageSet runs the stages of a process and knows which still run.
type stageSet struct {
	mu      sync.Mutex
	running map[string]bool
	wg      sync.WaitGroup
}

// Go runs f as the stage name.
func (s *stageSet) Go(name string, f func()) {
	s.mu.Lock()
	if s.running == nil {
		s.running = map[string]bool{}
	}
	s.running[name] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, name)
			s.mu.Unlock()
		}()
		f()
	}()
}

// Running lists the stages that have not returned, sorted.
func (s *stageSet) Running() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.running))
	for n := range s.running {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Wait waits for every stage, at most timeout (0: no limit). Past it, it
// logs what was still running and returns an error saying so.
func (s *stageSet) Wait(log *slog.Logger, timeout time.Duration) error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	if timeout <= 0 {
		<-done
		return nil
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		still := s.Running()
		log.Error("shutdown timed out: exiting with work still running", "shutdown_timeout", timeout.String(), "still_running", strings.Join(still, ","))
		return fmt.Errorf("shutdown_timeout (%s) passed with stages still running: %s", timeout, strings.Join(still, ", "))
	}
}

func newConfigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with the configuration file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Load and validate the configuration, and try offline what can be tried: rules, enrichers, TLS files, Kafka settings",
		Long: "Loads the configuration (-c FILE plus VIGIL_* environment), validates it, loads the rule directories and " +
			"enricher files, reads TLS certificates and token files, and hands kafka.settings to librdkafka. " +
			"Prints OK, or every problem found; exits non-zero on problems. Contacts no service.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			where := "configuration (defaults and environment)"
			if g.configPath != "" {
				where = g.configPath
			}
			cfg, err := config.Load(g.configPath)
			if err != nil {
				fmt.Fprintln(cmd.OutOrStdout(), err)
				return fmt.Errorf("%s: 1 problem", where)
			}
			problems := checkConfig(cfg)
			hide := strings.NewReplacer(redactPairs(secrets(cfg))...) // librdkafka may quote a value
			for _, p := range problems {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", where, hide.Replace(p.Error()))
			}
			if len(problems) > 0 {
				return fmt.Errorf("%s: %d problem(s)", where, len(problems))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", where)
			return nil
		},
	})
	return cmd
}

// checkConfig tries offline what a valid configuration may still get
// wrong: rule directories and enricher files that do not load, TLS and
// token files that cannot be read, Elasticsearch and OpenAI settings that
// contradict each other, kafka.settings librdkafka rejects.
func checkConfig(cfg config.Config) []error {
	var problems []error
	add := func(format string, a ...any) { problems = append(problems, fmt.Errorf(format, a...)) }

	var badRules []error
	enrich, _, err := pipeline.NewDetector(cfg.Detect, func(e error) { badRules = append(badRules, e) })
	for _, e := range badRules {
		add("detect.rules: %w", e)
	}
	if err != nil {
		add("detect: %w", err)
	} else {
		enrich.Close()
	}

	for i, in := range cfg.Collect.Inputs {
		key := fmt.Sprintf("collect.inputs[%d]", i)
		for j, p := range in.Paths {
			if _, err := filepath.Glob(p); err != nil {
				add("%s.paths[%d]: %q: %w", key, j, p, err)
			}
		}
		if in.TLS.CertFile != "" {
			if _, err := tls.LoadX509KeyPair(in.TLS.CertFile, in.TLS.KeyFile); err != nil {
				add("%s.tls: %w", key, err)
			}
		}
		if in.TokenFile != "" {
			if b, err := os.ReadFile(in.TokenFile); err != nil {
				add("%s.token_file: %w", key, err)
			} else if strings.TrimSpace(string(b)) == "" {
				add("%s.token_file: %s is empty", key, in.TokenFile)
			}
		}
	}

	es := cfg.Index.Elasticsearch
	if es.Enabled() {
		if len(es.Addresses) > 0 && es.CloudID != "" {
			add("index.elasticsearch: set addresses or cloud_id, not both")
		}
		for i, a := range es.Addresses {
			if u, err := url.Parse(a); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add("index.elasticsearch.addresses[%d]: %q is not an http(s):// URL", i, a)
			}
		}
		if es.APIKey != "" && (es.Username != "" || es.Password != "") {
			add("index.elasticsearch: set api_key or username/password, not both")
		}
		if (es.Username == "") != (es.Password == "") {
			add("index.elasticsearch: username and password go together (password from VIGIL_INDEX_ELASTICSEARCH_PASSWORD)")
		}
		if es.CACert != "" {
			if pem, err := os.ReadFile(es.CACert); err != nil {
				add("index.elasticsearch.ca_cert: %w", err)
			} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
				add("index.elasticsearch.ca_cert: %s holds no PEM certificate", es.CACert)
			}
		}
	}
	if u := cfg.Triage.OpenAI.BaseURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			add("triage.openai.base_url: %q is not an http(s):// URL", u)
		}
	}
	if err := checkKafkaSettings(cfg); err != nil {
		problems = append(problems, err)
	}
	return problems
}

// checkKafkaSettings hands kafka.settings to librdkafka, which checks
// names, values and files (ssl.ca.location, ...). The client is closed at
// once; it does not wait for the brokers.
func checkKafkaSettings(cfg config.Config) error {
	if len(cfg.Kafka.Settings) == 0 {
		return nil
	}
	bootstrap := cfg.Kafka.BootstrapServers
	if bootstrap == "" {
		bootstrap = "127.0.0.1:9092"
	}
	cm := kafka.ConfigMap{"bootstrap.servers": bootstrap, "log_level": 0}
	keys := make([]string, 0, len(cfg.Kafka.Settings))
	for k := range cfg.Kafka.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := cm.SetKey(k, cfg.Kafka.Settings[k]); err != nil {
			return fmt.Errorf("kafka.settings.%s: %w", k, err)
		}
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		// librdkafka does not always name the property: name the setting
		// whose key or value its message mentions.
		for _, byValue := range []bool{false, true} {
			for _, k := range keys {
				v := cfg.Kafka.Settings[k]
				if !byValue && strings.Contains(err.Error(), k) || byValue && len(v) >= 3 && strings.Contains(err.Error(), v) {
					return fmt.Errorf("kafka.settings.%s: librdkafka refuses it: %w", k, err)
				}
			}
		}
		return fmt.Errorf("kafka.settings: librdkafka refuses them: %w", err)
	}
	p.Close()
	return nil
}
