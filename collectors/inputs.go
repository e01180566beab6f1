package collectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/file"
	httpin "github.com/vigil-siem/vigil/collectors/http"
	"github.com/vigil-siem/vigil/collectors/journald"
	"github.com/vigil-siem/vigil/collectors/stdin"
	"github.com/vigil-siem/vigil/collectors/syslog"
	"github.com/vigil-siem/vigil/config"
)

// DefaultDataDir is where registries go when neither registry_path nor
// collect.data_dir is set.
const DefaultDataDir = "vigil-data"

// InputOptions is what NewInput needs besides the input's configuration.
type InputOptions struct {
	// DataDir holds registries of inputs without registry_path
	// (collect.data_dir; default vigil-data).
	DataDir string
	// Stdin is read by the stdin input (default os.Stdin).
	Stdin io.Reader
	// LookupEnv reads VIGIL_INGEST_TOKEN (default os.LookupEnv).
	LookupEnv func(string) (string, bool)
	// NoRegistry turns off the file and journald registries unless an
	// input sets registry_path (the demo and tests: every run reads
	// everything again).
	NoRegistry bool
}

// NewInput makes the input one collect.inputs[] entry describes: the one
// list of input types this binary has. Inputs that listen (syslog, http)
// bind their sockets here, so a port in use is reported at start; Run
// releases them, and they implement io.Closer for when Run is never
// called.
func NewInput(cfg config.Input, opts InputOptions) (Input, error) {
	if opts.DataDir == "" {
		opts.DataDir = DefaultDataDir
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	switch cfg.Type {
	case config.InputFile:
		in, err := file.New(file.Config{
			Paths: cfg.Paths, Follow: cfg.Follow,
			PollInterval:  time.Duration(cfg.PollInterval),
			CloseInactive: time.Duration(cfg.CloseInactive),
			MaxLineBytes:  cfg.MaxLineBytes, BatchLines: cfg.BatchLines,
			InFlight:     cfg.MaxInFlight,
			RegistryPath: registryPath(cfg, opts),
			Multiline: file.Multiline{
				Pattern: cfg.Multiline.Pattern, Negate: cfg.Multiline.Negate, Match: cfg.Multiline.Match,
				MaxLines: cfg.Multiline.MaxLines, Timeout: time.Duration(cfg.Multiline.Timeout),
			},
		})
		if err != nil {
			return nil, err
		}
		return fileInput{in}, nil
	case config.InputStdin:
		return stdin.New(stdin.Config{Reader: opts.Stdin, MaxLineBytes: cfg.MaxLineBytes, BatchLines: cfg.BatchLines})
	case config.InputSyslog:
		return syslog.New(syslog.Config{
			Listen: cfg.Listen, TLS: syslog.TLS{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile},
			MaxMessageBytes: cfg.MaxLineBytes, BatchSize: cfg.BatchLines, QueueSize: cfg.QueueSize,
		})
	case config.InputHTTP:
		token, err := ingestToken(cfg, opts.LookupEnv)
		if err != nil {
			return nil, err
		}
		listen := ""
		if len(cfg.Listen) > 0 {
			listen = cfg.Listen[0]
		}
		return httpin.New(httpin.Config{
			Listen: listen, TLS: httpin.TLS{CertFile: cfg.TLS.CertFile, KeyFile: cfg.TLS.KeyFile},
			Token: token, MaxRequestBytes: int64(cfg.MaxRequestBytes), MaxLineBytes: cfg.MaxLineBytes,
			MaxInFlight: cfg.MaxInFlight, BatchSize: cfg.BatchLines,
		})
	case config.InputJournald:
		return journald.New(journald.Config{
			Command: cfg.Command, Args: cfg.Args, Follow: cfg.Follow, Seek: cfg.Seek,
			RegistryPath: registryPath(cfg, opts),
			MaxLineBytes: cfg.MaxLineBytes, BatchLines: cfg.BatchLines,
		})
	}
	return nil, fmt.Errorf("collectors: unknown input type %q (file, stdin, syslog, http or journald)", cfg.Type)
}

// registryPath is registry_path, or a file under the data dir named after
// what the input reads, so reordering collect.inputs keeps each registry.
func registryPath(cfg config.Input, opts InputOptions) string {
	if cfg.RegistryPath != "" {
		return cfg.RegistryPath
	}
	if opts.NoRegistry {
		return ""
	}
	what := slices.Clone(cfg.Paths)
	slices.Sort(what)
	what = append(what, "\x00")
	what = append(what, cfg.Command...)
	what = append(what, "\x00")
	what = append(what, cfg.Args...)
	sum := sha256.Sum256([]byte(cfg.Type + "\x00" + strings.Join(what, "\x00")))
	return filepath.Join(opts.DataDir, "registry", cfg.Type+"-"+hex.EncodeToString(sum[:6])+".json")
}

// ingestToken reads the http input's bearer token from token_file, else
// from VIGIL_INGEST_TOKEN. Errors never include the token.
func ingestToken(cfg config.Input, lookup func(string) (string, bool)) (httpin.Secret, error) {
	if cfg.TokenFile != "" {
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return "", fmt.Errorf("http input: token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("http input: token_file %s is empty", cfg.TokenFile)
		}
		return httpin.Secret(tok), nil
	}
	if tok, ok := lookup(config.IngestTokenEnv); ok && strings.TrimSpace(tok) != "" {
		return httpin.Secret(strings.TrimSpace(tok)), nil
	}
	return "", fmt.Errorf("http input: no bearer token: set token_file or %s", config.IngestTokenEnv)
}

// fileInput adapts the file input's Line batches to Records.
type fileInput struct{ in *file.Input }

func (f fileInput) Run(ctx context.Context, handle Handler) error {
	return f.in.RunRecords(ctx, handle)
}

func (f fileInput) RunAsync(ctx context.Context, handle AsyncHandler) error {
	return f.in.RunRecordsAsync(ctx, handle)
}

func (f fileInput) Stats() InputStats { return f.in.Stats() }
