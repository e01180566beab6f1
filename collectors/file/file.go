package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultPollInterval = 250 * time.Millisecond
	DefaultMaxLineBytes = 1 << 20
	DefaultBatchLines   = 512
)

// Config says which files to read and how.
type Config struct {
	// Paths are files to read; a path holding *, ? or [ is a glob
	// (filepath.Glob syntax).
	Paths []string `yaml:"paths"`
	// Follow keeps reading data appended to the files (and files that
	// appear later) until the context is done. Without Follow, Run returns
	// once every file is read to its end.
	Follow bool `yaml:"follow"`
	// PollInterval is how often a followed file is checked for new data
	// (default 250ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes caps a line (default 1 MiB); a longer line is cut to
	// this size and delivered with Line.Truncated set.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most lines handed to the handler at once
	// (default 512).
	BatchLines int `yaml:"batch_lines"`
}

// Line is one line of a file, without its line ending ("\n" or "\r\n").
type Line struct {
	// Path is the file's path, cleaned (filepath.Clean).
	Path string
	// Offset is the byte offset of the line's first byte in the file.
	Offset int64
	// Data is the line. It belongs to the handler: the input does not
	// reuse it.
	Data []byte
	// Truncated says the line was longer than MaxLineBytes and Data holds
	// only its start.
	Truncated bool
}

// Input reads lines from files, batch by batch.
type Input struct {
	cfg     Config
	lines   atomic.Int64
	bytes   atomic.Int64
	mu      sync.Mutex
	offsets map[string]int64
}

// New checks cfg and returns an input for it.
func New(cfg Config) (*Input, error) {
	if len(cfg.Paths) == 0 {
		return nil, errors.New("file input: no paths configured")
	}
	for _, p := range cfg.Paths {
		if p == "" {
			return nil, errors.New("file input: empty path")
		}
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("file input: path %q: %w", p, err)
		}
	}
	if cfg.PollInterval < 0 || cfg.MaxLineBytes < 0 || cfg.BatchLines < 0 {
		return nil, errors.New("file input: poll_interval, max_line_bytes and batch_lines must not be negative")
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.MaxLineBytes == 0 {
		cfg.MaxLineBytes = DefaultMaxLineBytes
	}
	if cfg.BatchLines == 0 {
		cfg.BatchLines = DefaultBatchLines
	}
	return &Input{cfg: cfg, offsets: make(map[string]int64)}, nil
}

// Lines returns how many lines were delivered and acknowledged so far.
func (in *Input) Lines() int64 { return in.lines.Load() }

// Bytes returns how many bytes (line endings included) were delivered and
// acknowledged so far.
func (in *Input) Bytes() int64 { return in.bytes.Load() }

// Offsets returns, per file, the offset just past the last line whose
// batch the handler acknowledged: where reading would resume.
func (in *Input) Offsets() map[string]int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := make(map[string]int64, len(in.offsets))
	for k, v := range in.offsets {
		m[k] = v
	}
	return m
}

// Run reads every file from its start and calls handle with batches of
// lines, one file per batch, in file order. It moves past a batch only
// after handle returned nil; a handle error stops Run and is returned, and
// that batch does not count as read. Without Follow, Run returns nil once
// every file is read to its end, and a missing file is an error. With
// Follow, it waits for missing files and new data until ctx is done, and
// then returns ctx.Err().
func (in *Input) Run(ctx context.Context, handle func(ctx context.Context, lines []Line) error) error {
	files := map[string]*tail{}
	var order []string
	defer func() {
		for _, t := range files {
			t.f.Close()
		}
	}()
	poll := time.NewTicker(in.cfg.PollInterval)
	defer poll.Stop()
	discover := true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if discover {
			added, err := in.discover(files)
			if err != nil {
				return err
			}
			order = append(order, added...)
		}
		progressed, pending := false, false
		for _, path := range order {
			t := files[path]
			if t.done {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			batch, consumed, err := t.read(in.cfg.BatchLines, !in.cfg.Follow, 4*in.cfg.PollInterval)
			if err != nil {
				return err
			}
			if len(batch) > 0 {
				if err := handle(ctx, batch); err != nil {
					return fmt.Errorf("file input: %s: batch of %d lines at offset %d: %w",
						path, len(batch), batch[0].Offset, err)
				}
				t.committed += consumed
				in.lines.Add(int64(len(batch)))
				in.bytes.Add(consumed)
				in.mu.Lock()
				in.offsets[path] = t.committed
				in.mu.Unlock()
				progressed = true
			}
			if !t.eof {
				pending = true
			} else if !in.cfg.Follow {
				t.done = true
				t.f.Close()
			}
		}
		if !in.cfg.Follow {
			if !pending {
				return nil
			}
			discover = false
			continue
		}
		discover = !progressed
		if progressed || pending {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
	}
}

// discover opens the configured files not open yet and returns their
// paths. Without Follow, a missing file or a glob matching nothing is an
// error; with Follow, they are looked for again on the next poll.
func (in *Input) discover(files map[string]*tail) ([]string, error) {
	var added []string
	for _, pattern := range in.cfg.Paths {
		var matches []string
		if strings.ContainsAny(pattern, "*?[") {
			m, err := filepath.Glob(pattern)
			if err != nil {
				return nil, fmt.Errorf("file input: path %q: %w", pattern, err)
			}
			if len(m) == 0 && !in.cfg.Follow {
				return nil, fmt.Errorf("file input: no file matches %q", pattern)
			}
			matches = m
		} else {
			matches = []string{pattern}
		}
		for _, p := range matches {
			p = filepath.Clean(p)
			if files[p] != nil {
				continue
			}
			f, err := os.Open(p)
			if err != nil {
				if in.cfg.Follow && errors.Is(err, os.ErrNotExist) {
					continue
				}
				return nil, fmt.Errorf("file input: %w", err)
			}
			if st, err := f.Stat(); err != nil || st.IsDir() {
				f.Close()
				if err == nil {
					err = errors.New("is a directory")
				}
				return nil, fmt.Errorf("file input: %s: %w", p, err)
			}
			files[p] = &tail{
				path: p, f: f, max: in.cfg.MaxLineBytes,
				r: bufio.NewReaderSize(f, 64<<10),
			}
			added = append(added, p)
		}
	}
	return added, nil
}

// tail is the read state of one open file.
type tail struct {
	path string
	f    *os.File
	r    *bufio.Reader
	max  int

	committed int64 // offset past the last acknowledged line
	next      int64 // offset where the line being read starts
	pend      []byte
	pendLen   int64     // bytes of the partial line read so far, kept or not
	grewAt    time.Time // when the partial line last grew
	eof       bool      // the last read reached the end of the file
	done      bool
}

// read returns up to n complete lines and how many bytes they span. At the
// end of the file, an unterminated last line is delivered when final, or
// when it has not grown for idle (a followed file).
func (t *tail) read(n int, final bool, idle time.Duration) ([]Line, int64, error) {
	var (
		lines    []Line
		arena    []byte
		consumed int64
	)
	emit := func(data []byte, truncated bool) {
		if len(arena)+len(data) > cap(arena) {
			arena = make([]byte, 0, max(len(data), 128<<10))
		}
		start := len(arena)
		arena = append(arena, data...)
		lines = append(lines, Line{
			Path: t.path, Offset: t.next,
			Data: arena[start:len(arena):len(arena)], Truncated: truncated,
		})
		t.next += t.pendLen
		consumed += t.pendLen
		t.pend, t.pendLen = t.pend[:0], 0
	}
	t.eof = false
	for len(lines) < n {
		chunk, err := t.r.ReadSlice('\n')
		if len(chunk) > 0 {
			t.grewAt = time.Now()
		}
		switch {
		case err == nil && t.pendLen == 0 && len(chunk)-1 <= t.max+1:
			// The common case: a whole line in the read buffer.
			t.pendLen = int64(len(chunk))
			data, truncated := trimLine(chunk, t.max)
			emit(data, truncated)
			continue
		case err == nil || errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF):
			t.pendLen += int64(len(chunk))
			// Keep up to two bytes beyond the limit, so a line of exactly max
			// bytes ending in \r\n is not taken for a truncated one.
			if room := t.max + 2 - len(t.pend); room > 0 {
				t.pend = append(t.pend, chunk[:min(room, len(chunk))]...)
			}
		default:
			return nil, 0, fmt.Errorf("file input: read %s at offset %d: %w", t.path, t.next+t.pendLen, err)
		}
		if err == nil {
			data, truncated := trimLine(t.pend, t.max)
			emit(data, truncated || t.pendLen > int64(len(t.pend)))
			continue
		}
		if errors.Is(err, io.EOF) {
			t.eof = true
			if t.pendLen > 0 && (final || time.Since(t.grewAt) >= idle) {
				data, truncated := trimLine(t.pend, t.max)
				emit(data, truncated || t.pendLen > int64(len(t.pend)))
			}
			break
		}
	}
	return lines, consumed, nil
}

// trimLine drops a trailing "\n" or "\r\n" and cuts the rest to max bytes.
func trimLine(b []byte, max int) ([]byte, bool) {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	if len(b) > max {
		return b[:max], true
	}
	return b, false
}
