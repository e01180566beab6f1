package collectors_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
)

func collectAll(t *testing.T, in collectors.Input) []collectors.Record {
	t.Helper()
	var got []collectors.Record
	err := in.Run(context.Background(), func(_ context.Context, b []collectors.Record) error {
		got = append(got, b...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestNewInputFileKeepsItsRegistryInTheDataDir: a file input without
// registry_path keeps its offsets under the data dir, so the second run
// delivers only what was appended.
func TestNewInputFileKeepsItsRegistryInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	os.WriteFile(log, []byte("one\ntwo\n"), 0o600)
	cfg := config.Input{Type: "file", Format: "sshd", Paths: []string{log}}
	opts := collectors.InputOptions{DataDir: filepath.Join(dir, "data")}
	in, err := collectors.NewInput(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := collectAll(t, in)
	if len(got) != 2 || got[1].Source.Name != log || got[1].Source.Offset != 4 || string(got[1].Data) != "two" {
		t.Fatalf("first run: %+v", got)
	}
	if st := in.Stats(); st.Records != 2 || st.Bytes != 8 {
		t.Errorf("stats %+v", st)
	}
	regs, _ := filepath.Glob(filepath.Join(dir, "data", "registry", "file-*.json"))
	if len(regs) != 1 {
		t.Fatalf("registries under the data dir: %v", regs)
	}
	f, _ := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("three\n")
	f.Close()
	in, _ = collectors.NewInput(cfg, opts)
	if got = collectAll(t, in); len(got) != 1 || string(got[0].Data) != "three" {
		t.Errorf("second run: %+v, want only three", got)
	}
}

func TestNewInputWithoutRegistryReadsEverythingAgain(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	os.WriteFile(log, []byte("one\ntwo\n"), 0o600)
	cfg := config.Input{Type: "file", Format: "sshd", Paths: []string{log}}
	opts := collectors.InputOptions{DataDir: filepath.Join(dir, "data"), NoRegistry: true}
	for run := 1; run <= 2; run++ {
		in, err := collectors.NewInput(cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := collectAll(t, in); len(got) != 2 {
			t.Errorf("run %d delivered %d records, want 2", run, len(got))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a registry was written with NoRegistry")
	}
}

func TestNewInputStdin(t *testing.T) {
	in, err := collectors.NewInput(config.Input{Type: "stdin", Format: "sshd"}, collectors.InputOptions{Stdin: strings.NewReader("a\nb\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := collectAll(t, in); len(got) != 2 || got[1].Source.Name != "stdin" || got[1].Source.Offset != 2 {
		t.Errorf("got %+v", got)
	}
}

func TestNewInputListenersBindAtStart(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("test-token-from-file\n"), 0o600)
	noEnv := func(string) (string, bool) { return "", false }
	for _, cfg := range []config.Input{
		{Type: "syslog", Format: "syslog", Listen: config.StringList{"udp://127.0.0.1:0", "tcp://127.0.0.1:0"}},
		{Type: "http", Format: "json", Listen: config.StringList{"127.0.0.1:0"}, TokenFile: tokenFile},
	} {
		in, err := collectors.NewInput(cfg, collectors.InputOptions{LookupEnv: noEnv})
		if err != nil {
			t.Fatalf("%s: %v", cfg.Type, err)
		}
		c, ok := in.(io.Closer)
		if !ok {
			t.Fatalf("%s input does not implement io.Closer", cfg.Type)
		}
		if err := c.Close(); err != nil {
			t.Errorf("%s: Close: %v", cfg.Type, err)
		}
	}
}

func TestNewInputErrors(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	env := func(k string) (string, bool) { return "test-token-from-env", k == config.IngestTokenEnv }
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	cases := []struct {
		cfg    config.Input
		lookup func(string) (string, bool)
		want   string
	}{
		{config.Input{Type: "kafka"}, noEnv, "unknown input type"},
		{config.Input{Type: "file"}, noEnv, "no paths"},
		{config.Input{Type: "http", Listen: config.StringList{"127.0.0.1:0"}}, noEnv, config.IngestTokenEnv},
		{config.Input{Type: "http", Listen: config.StringList{"127.0.0.1:0"}, TokenFile: empty}, env, "is empty"},
		{config.Input{Type: "http", Listen: config.StringList{"127.0.0.1:0"}, TokenFile: "/nonexistent/token"}, env, "token_file"},
		{config.Input{Type: "syslog", Listen: config.StringList{"tls://127.0.0.1:0"}}, noEnv, "cert_file"},
	}
	for _, c := range cases {
		in, err := collectors.NewInput(c.cfg, collectors.InputOptions{LookupEnv: c.lookup})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewInput(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
		if cl, ok := in.(io.Closer); ok && err == nil {
			cl.Close()
		}
	}
	// The token from the environment is enough.
	in, err := collectors.NewInput(config.Input{Type: "http", Listen: config.StringList{"127.0.0.1:0"}}, collectors.InputOptions{LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	in.(io.Closer).Close()
}
