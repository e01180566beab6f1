package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
)

// configCheck runs `vigil config check -c path` in process.
func configCheck(t *testing.T, path string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"config", "check", "-c", path})
	err := root.Execute()
	return out.String(), err
}

// writeCA writes a self-signed CA certificate (PEM) and returns its path.
func writeCA(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	dir := t.TempDir()
	badRules := filepath.Join(dir, "rules")
	os.MkdirAll(badRules, 0o755)
	os.WriteFile(filepath.Join(badRules, "bad.yaml"), []byte("id: x\nname: X\nkind: match\nseverity: low\ncondition: sourceip ==\n"), 0o600)
	ca := writeCA(t, dir)
	for _, tc := range []struct {
		name, yaml string
		want       []string // in the output; none means OK
	}{
		{"the example configuration", "", nil},
		{"a rule directory with a bad rule", "detect:\n  rules: [" + badRules + "]\n", []string{"detect.rules:", "bad.yaml:5:", "no rule could be loaded"}},
		{"a rule directory that does not exist", "detect:\n  rules: [" + filepath.Join(dir, "nope") + "]\n", []string{"detect"}},
		{"a bad input listen address", "collect:\n  inputs:\n    - type: http\n      format: jsonlines\n      listen: not-an-address\n      token_file: /dev/null\n", []string{"collect.inputs[0].listen", "not-an-address"}},
		{"a bad metrics address", "metrics:\n  listen: 9464\n", []string{"metrics.listen"}},
		{"an unknown kafka setting", "kafka:\n  settings:\n    sasl.mechanizm: PLAIN\n", []string{"sasl.mechanizm"}},
		{"a missing CA file for kafka", "kafka:\n  settings:\n    security.protocol: SSL\n    ssl.ca.location: " + filepath.Join(dir, "missing.pem") + "\n", []string{"ssl.ca.location"}},
		{"TLS and SASL SCRAM settings librdkafka accepts", "kafka:\n  settings:\n    security.protocol: SASL_SSL\n    sasl.mechanism: SCRAM-SHA-512\n    sasl.username: vigil\n    sasl.password: fake-test-password\n    ssl.ca.location: " + ca + "\n", nil},
		{"Elasticsearch api_key and password both", "index:\n  elasticsearch:\n    addresses: [https://es:9200]\n    username: elastic\n", []string{"index.elasticsearch: username and password"}},
		{"Elasticsearch address without scheme", "index:\n  elasticsearch:\n    addresses: [es:9200]\n", []string{"index.elasticsearch.addresses[0]"}},
		{"OpenAI base_url that is not a URL", "triage:\n  openai:\n    base_url: localhost\n", []string{"triage.openai.base_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("..", "..", "vigil.example.yaml")
			if tc.yaml != "" {
				path = filepath.Join(t.TempDir(), "vigil.yaml")
				if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, err := configCheck(t, path)
			if len(tc.want) == 0 {
				if err != nil || !strings.Contains(out, path+": OK") {
					t.Fatalf("config check: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("config check passed; want a problem naming %v:\n%s", tc.want, out)
			}
			if !strings.Contains(out, path) {
				t.Errorf("the problem does not name the file %s:\n%s", path, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TLS and SASL settings reach librdkafka through the bus's producer: what
// it accepts builds a client, what it rejects is named.
func TestKafkaSecuritySettingsReachLibrdkafka(t *testing.T) {
	ca := writeCA(t, t.TempDir())
	for _, tc := range []struct {
		name     string
		settings map[string]string
		wantErr  string
	}{
		{"SASL_SSL with SCRAM and a CA", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256",
			"sasl.username": "vigil", "sasl.password": "fake-password-for-test", "ssl.ca.location": ca}, ""},
		{"SASL PLAIN", map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "u", "sasl.password": "fake"}, ""},
		{"an unknown mechanism", map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "MAGIC", "ssl.ca.location": ca}, "sasl.mechanism"},
		{"a CA file that is not there", map[string]string{"security.protocol": "SSL", "ssl.ca.location": ca + ".missing"}, "ssl.ca.location"},
		{"a client key that is not there", map[string]string{"security.protocol": "SSL", "ssl.certificate.location": ca, "ssl.key.location": ca + ".key"}, "ssl.key.location"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := bus.NewProducer(bus.Config{BootstrapServers: "127.0.0.1:9", Settings: tc.settings})
			if p != nil {
				p.Close(0)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("librdkafka refused a valid configuration: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("librdkafka accepted a configuration it must refuse (%s)", tc.wantErr)
			}
			cfgErr := checkKafkaSettings(config.Config{Kafka: bus.Config{Settings: tc.settings}})
			if (cfgErr == nil) != (tc.wantErr == "") {
				t.Fatalf("config check says %v, the producer %v", cfgErr, err)
			}
			if cfgErr != nil && !strings.Contains(cfgErr.Error(), "kafka.settings."+tc.wantErr) {
				t.Fatalf("config check: %v, want it to name kafka.settings.%s", cfgErr, tc.wantErr)
			}
		})
	}
}

func TestShutdownTimeoutNamesWhatStillRuns(t *testing.T) {
	var logs bytes.Buffer
	log := newLogger(&logs, config.Log{Level: "info", Format: "json"}, nil)
	release := make(chan struct{})
	var stages stageSet
	stages.Go("index", func() { <-release }) // an index stage stuck in a bulk request
	stages.Go("detect", func() {})
	stages.Go("triage", func() { <-release })
	err := stages.Wait(log, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "index, triage") || strings.Contains(err.Error(), "detect") {
		t.Fatalf("Wait past the timeout: %v", err)
	}
	if !strings.Contains(logs.String(), `"still_running":"index,triage"`) {
		t.Fatalf("the log does not say what still ran: %s", logs.String())
	}
	close(release)
	if err := stages.Wait(log, time.Minute); err != nil {
		t.Fatalf("Wait once every stage ended: %v", err)
	}
}
