package stdin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/collectors/input"
	"github.com/vigil-siem/vigil/collectors/parsers"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxLineBytes = 1 << 20
	// SourceName is the Source.Name of every record.
	SourceName = "stdin"
)

// Config says how to read standard input.
type Config struct {
	// Reader is read instead of os.Stdin when set (tests, embedding).
	Reader io.Reader
	// MaxLineBytes caps a line (default 1 MiB); a longer line is cut and
	// flagged Truncated.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most lines per handler call (default 512).
	BatchLines int `yaml:"batch_lines"`
	// FlushInterval is the longest a line waits for its batch to fill
	// (default 200ms), so a trickle of lines is not held back.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Input reads lines from standard input.
type Input struct {
	cfg      Config
	counters input.Counters
}

// New checks cfg and returns an input for it.
func New(cfg Config) (*Input, error) {
	if cfg.MaxLineBytes < 0 || cfg.BatchLines < 0 || cfg.FlushInterval < 0 {
		return nil, errors.New("stdin input: max_line_bytes, batch_lines and flush_interval must not be negative")
	}
	if cfg.Reader == nil {
		cfg.Reader = os.Stdin
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	return &Input{cfg: cfg}, nil
}

// Stats returns the input's counters; Blocked is the time the reader
// waited for room in the queue (the pipeline was slower than the input).
func (in *Input) Stats() input.Stats { return in.counters.Snapshot() }

// Run reads lines until the end of the input and hands them to handle in
// batches; it returns nil once the last batch was delivered, a handle
// error as soon as it happens, or ctx.Err(). A read blocked on a terminal
// or pipe cannot be interrupted: when ctx ends first, Run returns and the
// reading goroutine ends with the process.
func (in *Input) Run(ctx context.Context, handle input.Handler) error {
	produce := func(ctx context.Context, q *input.Queue) error {
		errc := make(chan error, 1)
		go func() {
			errc <- input.ReadLines(in.cfg.Reader, in.cfg.MaxLineBytes, func(line []byte, off int64, truncated bool) error {
				return q.Send(ctx, input.Record{
					Source: parsers.Source{Name: SourceName, Offset: off},
					Data:   line, Truncated: truncated, InvalidUTF8: !utf8.Valid(line),
				})
			})
		}()
		select {
		case err := <-errc:
			if err != nil {
				return fmt.Errorf("stdin input: %w", err)
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := input.Pump(ctx, input.PumpConfig{BatchSize: in.cfg.BatchLines, FlushInterval: in.cfg.FlushInterval},
		&in.counters, produce, handle, nil)
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stdin input: %w", err)
	}
	return err
}
