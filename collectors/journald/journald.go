package journald

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/collectors/input"
	"github.com/vigil-siem/vigil/collectors/parsers"
)

// Defaults for the zero values of Config.
const (
	DefaultCommand      = "journalctl"
	DefaultMaxLineBytes = 1 << 20
	// SourceName is the Source.Name of every record.
	SourceName = "journald"
)

// Config says how to run journalctl.
type Config struct {
	// Command is the program and its first arguments (default
	// ["journalctl"]); e.g. ["journalctl", "--directory", "/var/log/journal"].
	Command []string `yaml:"command"`
	// Args are added after Vigil's own arguments: matches and filters such
	// as "_SYSTEMD_UNIT=sshd.service" or "-u", "sshd".
	Args []string `yaml:"args"`
	// Follow keeps reading new entries until the context ends; without it
	// Run returns once journalctl has printed what there is.
	Follow bool `yaml:"follow"`
	// Seek is where to start when the registry has no cursor yet: "tail"
	// (default: only entries that arrive from now on) or "head" (the whole
	// journal).
	Seek string `yaml:"seek"`
	// RegistryPath is the file where the cursor of the last delivered entry
	// is kept. Empty: no checkpoint, every run starts at Seek.
	RegistryPath string `yaml:"registry_path"`
	// MaxLineBytes caps an entry (default 1 MiB); a longer one is cut and
	// flagged Truncated.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most entries per handler call (default 512).
	BatchLines int `yaml:"batch_lines"`
	// FlushInterval is the longest an entry waits for its batch to fill
	// (default 200ms).
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Input reads the systemd journal through journalctl.
type Input struct {
	cfg      Config
	counters input.Counters
}

// state is the registry file.
type state struct {
	Cursor string `json:"cursor"`
}

// New checks cfg and returns an input for it. It does not look for
// journalctl yet: Run does, and says so clearly when it is missing.
func New(cfg Config) (*Input, error) {
	if len(cfg.Command) == 0 {
		cfg.Command = []string{DefaultCommand}
	}
	if cfg.Command[0] == "" {
		return nil, errors.New("journald input: command: empty program name")
	}
	switch cfg.Seek {
	case "":
		cfg.Seek = "tail"
	case "tail", "head":
	default:
		return nil, fmt.Errorf("journald input: seek: %q is not tail or head", cfg.Seek)
	}
	if cfg.MaxLineBytes < 0 || cfg.BatchLines < 0 || cfg.FlushInterval < 0 {
		return nil, errors.New("journald input: max_line_bytes, batch_lines and flush_interval must not be negative")
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	return &Input{cfg: cfg}, nil
}

// Stats returns the input's counters; Blocked is the time the reader
// waited for room in the queue.
func (in *Input) Stats() input.Stats { return in.counters.Snapshot() }

// Args returns the arguments journalctl is run with after the given
// cursor ("" for none).
func (in *Input) Args(cursor string) []string {
	args := append([]string(nil), in.cfg.Command[1:]...)
	args = append(args, "--output=json", "--no-pager")
	if in.cfg.Follow {
		args = append(args, "--follow")
	}
	switch {
	case cursor != "":
		args = append(args, "--after-cursor="+cursor)
	case in.cfg.Seek == "head":
		args = append(args, "--no-tail")
	case in.cfg.Follow:
		args = append(args, "--lines=0")
	}
	return append(args, in.cfg.Args...)
}

// Run starts journalctl after the checkpointed cursor and hands its
// entries on until ctx is done (ctx.Err()), handle fails (that error),
// or, without Follow, journalctl ends (nil once everything was delivered).
// A missing journalctl is an error naming it.
func (in *Input) Run(ctx context.Context, handle input.Handler) error {
	prog, err := exec.LookPath(in.cfg.Command[0])
	if err != nil {
		return fmt.Errorf("journald input: %s not found (the journald input needs systemd's journalctl): %w", in.cfg.Command[0], err)
	}
	var reg *input.StateFile
	var st state
	if in.cfg.RegistryPath != "" {
		reg = &input.StateFile{Path: in.cfg.RegistryPath}
		if _, err := reg.Load(&st); err != nil {
			return fmt.Errorf("journald input: %w", err)
		}
	}
	produce := func(ctx context.Context, q *input.Queue) error {
		cmd := exec.CommandContext(ctx, prog, in.Args(st.Cursor)...)
		stderr := &tailBuffer{max: 4096}
		cmd.Stderr = stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", prog, err)
		}
		readErr := input.ReadLines(out, in.cfg.MaxLineBytes, func(line []byte, _ int64, truncated bool) error {
			return q.Send(ctx, entry(line, truncated))
		})
		if readErr != nil {
			cmd.Process.Kill()
		}
		waitErr := cmd.Wait()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case readErr != nil:
			return fmt.Errorf("read %s output: %w", prog, readErr)
		case waitErr != nil:
			return fmt.Errorf("%s %s: %w: %s", prog, strings.Join(cmd.Args[1:], " "), waitErr, strings.TrimSpace(stderr.String()))
		case in.cfg.Follow:
			return fmt.Errorf("%s ended while following: %s", prog, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	delivered := func(_ context.Context, batch []input.Record) error {
		if reg == nil {
			return nil
		}
		for i := len(batch) - 1; i >= 0; i-- {
			if c := batch[i].Meta["cursor"]; c != "" {
				if c == st.Cursor {
					return nil
				}
				st.Cursor = c
				return reg.Save(st)
			}
		}
		return nil
	}
	err = input.Pump(ctx, input.PumpConfig{BatchSize: in.cfg.BatchLines, FlushInterval: in.cfg.FlushInterval},
		&in.counters, produce, handle, delivered)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("journald input: %w", err)
	}
	return err
}

// entry makes the record of one journalctl output line. A line that is not
// a JSON object is passed on as it is (the parser flags it) without a
// cursor.
func entry(line []byte, truncated bool) input.Record {
	r := input.Record{
		Source: parsers.Source{Name: SourceName},
		Data:   line, Truncated: truncated, InvalidUTF8: !utf8.Valid(line),
	}
	var fields struct {
		Cursor   string `json:"__CURSOR"`
		Realtime string `json:"__REALTIME_TIMESTAMP"`
	}
	if truncated || json.Unmarshal(line, &fields) != nil {
		return r
	}
	if us, err := strconv.ParseInt(fields.Realtime, 10, 64); err == nil {
		r.Source.Offset = us
	}
	if fields.Cursor != "" {
		r.Meta = map[string]string{"cursor": fields.Cursor}
	}
	return r
}

// tailBuffer keeps the last max bytes written to it (journalctl's
// standard error, for error messages).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, []byte("?")))
}
