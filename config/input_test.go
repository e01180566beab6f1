package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, yaml string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestEveryInputTypeLoads(t *testing.T) {
	t.Setenv(IngestTokenEnv, "test-token-not-real")
	cfg, err := load(t, `
collect:
  data_dir: /var/lib/vigil
  inputs:
    - type: file
      format: sshd
      paths: [/var/log/auth.log, "/var/log/remote/*/auth.log"]
      follow: true
      registry_path: /var/lib/vigil/auth.json
      max_line_bytes: 65536
      multiline: {pattern: '^\s', negate: false, match: after, max_lines: 50, timeout: 2s}
    - type: stdin
      format: sshd
    - type: syslog
      format: syslog
      listen: [udp://127.0.0.1:5514, tcp://0.0.0.0:5514, tls://0.0.0.0:6514]
      tls: {cert_file: /etc/vigil/cert.pem, key_file: /etc/vigil/key.pem}
      queue_size: 8192
    - type: syslog
      format: syslog
      listen: udp://127.0.0.1:5514
    - type: http
      format: json
      listen: 127.0.0.1:8088
      max_request_bytes: 1048576
      max_in_flight: 8
    - type: journald
      format: journald
      follow: true
      args: [_SYSTEMD_UNIT=sshd.service]
      seek: head
`)
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.Collect.Inputs
	if len(in) != 6 || cfg.Collect.DataDir != "/var/lib/vigil" {
		t.Fatalf("inputs %+v data_dir %q", in, cfg.Collect.DataDir)
	}
	if m := in[0].Multiline; m.Pattern != `^\s` || m.Match != "after" || m.MaxLines != 50 || time.Duration(m.Timeout) != 2*time.Second {
		t.Errorf("multiline %+v", m)
	}
	if len(in[2].Listen) != 3 || in[2].TLS.KeyFile != "/etc/vigil/key.pem" || in[2].QueueSize != 8192 {
		t.Errorf("syslog %+v", in[2])
	}
	if len(in[3].Listen) != 1 || in[3].Listen[0] != "udp://127.0.0.1:5514" {
		t.Errorf("listen written as one string: %v", in[3].Listen)
	}
	if in[4].Listen[0] != "127.0.0.1:8088" || in[4].MaxRequestBytes != 1<<20 || in[4].MaxInFlight != 8 {
		t.Errorf("http %+v", in[4])
	}
	if in[5].Seek != "head" || !in[5].Follow || in[5].Args[0] != "_SYSTEMD_UNIT=sshd.service" {
		t.Errorf("journald %+v", in[5])
	}
}

func TestDataDirDefaultAndEnvironment(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Collect.DataDir != "vigil-data" {
		t.Errorf("default data_dir %q", cfg.Collect.DataDir)
	}
	t.Setenv("VIGIL_COLLECT_DATA_DIR", "/srv/vigil")
	if cfg, err = Load(""); err != nil || cfg.Collect.DataDir != "/srv/vigil" {
		t.Errorf("data_dir from env: %q %v", cfg.Collect.DataDir, err)
	}
}

func TestInputErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name  string
		input string
		token bool
		want  string
	}{
		{"no type", "format: sshd\n      paths: [x]", false, "collect.inputs[1].type: missing"},
		{"no format", "type: stdin", false, "collect.inputs[1].format"},
		{"bad glob", "type: file\n      format: sshd\n      paths: ['/var/log/[x']", false, "collect.inputs[1].paths[0]"},
		{"bad multiline pattern", "type: file\n      format: sshd\n      paths: [x]\n      multiline: {pattern: '('}", false, "collect.inputs[1].multiline.pattern"},
		{"bad multiline match", "type: file\n      format: sshd\n      paths: [x]\n      multiline: {pattern: x, match: around}", false, "collect.inputs[1].multiline.match"},
		{"key of another type", "type: file\n      format: sshd\n      paths: [x]\n      listen: udp://127.0.0.1:1", false, "collect.inputs[1].listen: not used by a file input"},
		{"syslog without listen", "type: syslog\n      format: syslog", false, "collect.inputs[1].listen: missing"},
		{"syslog bad scheme", "type: syslog\n      format: syslog\n      listen: [udp://127.0.0.1:1, http://127.0.0.1:2]", false, "collect.inputs[1].listen[1]"},
		{"syslog without port", "type: syslog\n      format: syslog\n      listen: tcp://127.0.0.1", false, "collect.inputs[1].listen[0]"},
		{"syslog tls without cert", "type: syslog\n      format: syslog\n      listen: tls://127.0.0.1:6514", false, "collect.inputs[1].tls"},
		{"half a tls pair", "type: http\n      format: json\n      listen: 127.0.0.1:8088\n      tls: {cert_file: c.pem}", true, "collect.inputs[1].tls"},
		{"http two addresses", "type: http\n      format: json\n      listen: [127.0.0.1:1, 127.0.0.1:2]", true, "collect.inputs[1].listen"},
		{"http without token", "type: http\n      format: json\n      listen: 127.0.0.1:8088", false, "collect.inputs[1].token_file: the http input needs a bearer token"},
		{"negative size", "type: http\n      format: json\n      listen: 127.0.0.1:8088\n      max_request_bytes: -1", true, "collect.inputs[1].max_request_bytes"},
		{"journald bad seek", "type: journald\n      format: journald\n      seek: middle", false, "collect.inputs[1].seek"},
		{"unknown key", "type: stdin\n      format: sshd\n      lsiten: x", false, "lsiten"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.token {
				t.Setenv(IngestTokenEnv, "test-token-not-real")
			} else {
				t.Setenv(IngestTokenEnv, "")
			}
			_, err := load(t, "collect:\n  inputs:\n    - type: stdin\n      format: sshd\n    - "+c.input+"\n")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestSampleConfigsLoad checks that every input's sample.conf is a valid
// configuration, so the documentation cannot drift from the code.
func TestSampleConfigsLoad(t *testing.T) {
	t.Setenv(IngestTokenEnv, "test-token-not-real")
	samples, err := filepath.Glob(filepath.Join("..", "collectors", "*", "sample.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 5 {
		t.Fatalf("found %d sample.conf files, want one per input", len(samples))
	}
	for _, s := range samples {
		cfg, err := Load(s)
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if len(cfg.Collect.Inputs) == 0 {
			t.Errorf("%s: no input", s)
		}
	}
}
