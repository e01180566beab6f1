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
	"time"
	"unicode/utf8"

	"github.com/vigil-siem/vigil/collectors/input"
)

// Defaults for the zero values of Config.
const (
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultMaxLineBytes  = 1 << 20
	DefaultBatchLines    = 512
	DefaultRegistryFlush = time.Second
	DefaultCloseInactive = time.Minute
	DefaultInFlight      = 4
)

// Config says which files to read and how.
type Config struct {
	// Paths are files to read; a path holding *, ? or [ is a glob
	// (filepath.Glob syntax), evaluated again every PollInterval when
	// following, so files that appear later are read too.
	Paths []string `yaml:"paths"`
	// Follow keeps reading data appended to the files (and files that
	// appear later, and the new file after a rotation) until the context is
	// done. Without Follow, Run returns once every file is read to its end.
	Follow bool `yaml:"follow"`
	// PollInterval is how often followed files are checked for new data,
	// rotation and truncation (default 250ms).
	PollInterval time.Duration `yaml:"poll_interval"`
	// MaxLineBytes caps a record (default 1 MiB); a longer one is cut to
	// this size and delivered with Line.Truncated set.
	MaxLineBytes int `yaml:"max_line_bytes"`
	// BatchLines is the most records handed to the handler at once
	// (default 512).
	BatchLines int `yaml:"batch_lines"`
	// RegistryPath is the file where delivered offsets are kept, so a
	// restart resumes where the last run left off. Empty: no registry,
	// every run reads the files from their start.
	RegistryPath string `yaml:"registry_path"`
	// RegistryFlush is the most time between registry writes while
	// reading (default 1s); it is also written when the input is idle and
	// when Run returns. A crash re-sends at most what was delivered since.
	RegistryFlush time.Duration `yaml:"registry_flush"`
	// CloseInactive closes a followed file that no configured path names
	// any more (renamed away or deleted) after it has been read to its end
	// and has not grown for this long (default 1m).
	CloseInactive time.Duration `yaml:"close_inactive"`
	// Multiline joins lines into records (see Multiline).
	Multiline Multiline `yaml:"multiline"`
	// InFlight is the most batches RunAsync hands on before the oldest is
	// acknowledged (default 4): with BatchLines, the input's memory bound
	// while Kafka is slow. Run always has one.
	InFlight int `yaml:"in_flight"`
}

// Line is one record of a file: one line without its line ending ("\n" or
// "\r\n"), or several joined by "\n" when Multiline is set.
type Line struct {
	// Path is the file's path, cleaned (filepath.Clean): the name it was
	// found under most recently.
	Path string
	// Offset is the byte offset of the record's first byte in the file.
	Offset int64
	// Data is the record. It belongs to the handler: the input does not
	// reuse it.
	Data []byte
	// Truncated says the record was longer than MaxLineBytes and Data
	// holds only its start.
	Truncated bool
	// InvalidUTF8 says Data is not valid UTF-8 (it is kept byte for byte).
	InvalidUTF8 bool

	end int64 // offset past the record's last line ending
}

// Input reads lines from files, batch by batch.
type Input struct {
	cfg      Config
	joiner   *joiner // the compiled multiline settings, copied per file
	counters input.Counters

	mu      sync.Mutex
	offsets map[string]int64

	// afterHandle, if set (tests), runs after the handler returned nil and
	// before the registry is written: where a crash hurts most.
	afterHandle func()
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
	if cfg.PollInterval < 0 || cfg.MaxLineBytes < 0 || cfg.BatchLines < 0 || cfg.RegistryFlush < 0 || cfg.CloseInactive < 0 || cfg.InFlight < 0 {
		return nil, errors.New("file input: poll_interval, max_line_bytes, batch_lines, registry_flush, close_inactive and in_flight must not be negative")
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
	if cfg.RegistryFlush == 0 {
		cfg.RegistryFlush = DefaultRegistryFlush
	}
	if cfg.CloseInactive == 0 {
		cfg.CloseInactive = DefaultCloseInactive
	}
	if cfg.InFlight == 0 {
		cfg.InFlight = DefaultInFlight
	}
	j, err := cfg.Multiline.compile(cfg.MaxLineBytes)
	if err != nil {
		return nil, fmt.Errorf("file input: %w", err)
	}
	return &Input{cfg: cfg, joiner: j, offsets: make(map[string]int64)}, nil
}

// Lines returns how many records were delivered and acknowledged so far.
func (in *Input) Lines() int64 { return in.counters.Snapshot().Records }

// Bytes returns how many bytes of the files (line endings included) were
// delivered and acknowledged so far.
func (in *Input) Bytes() int64 { return in.counters.Snapshot().Bytes }

// Stats returns the input's counters; Blocked is the time spent in the
// handler (waiting for Kafka).
func (in *Input) Stats() input.Stats { return in.counters.Snapshot() }

// Offsets returns, per file, the offset just past the last record whose
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

// Run reads the files and calls handle with batches of records, one file
// per batch. It moves past a batch (and may write its offsets to the
// registry) only after handle returned nil; a handle error stops Run and
// is returned, and that batch does not count as read. With a registry,
// each file resumes at its recorded offset. Without Follow, Run returns nil
// once every file is read to its end, and a missing file is an error. With
// Follow, it waits for missing files, new data, rotated and truncated files
// until ctx is done, and then returns ctx.Err().
func (in *Input) Run(ctx context.Context, handle func(ctx context.Context, lines []Line) error) error {
	return in.run(ctx, 1, func(ctx context.Context, lines []Line) *input.Ack {
		return input.Acked(handle(ctx, lines))
	})
}

// RunAsync is Run with up to Config.InFlight batches handed on and not yet
// acknowledged: handle returns an Ack at once, and the input reads the
// next batch while earlier ones wait for theirs. Offsets (and the
// registry) advance strictly in order, only past batches whose Ack
// finished with nil and every batch before them: a failed or unfinished
// batch holds the registry back whatever later batches did. A failed Ack
// stops RunAsync with its error once the batches before it are counted.
func (in *Input) RunAsync(ctx context.Context, handle func(ctx context.Context, lines []Line) *input.Ack) error {
	return in.run(ctx, in.cfg.InFlight, handle)
}

// handed is a batch handed on whose Ack is not counted yet.
type handed struct {
	t      *tail
	n      int
	offset int64 // of the first record, for errors
	end    int64 // past the last record
	ack    *input.Ack
}

// flight is the queue of batches handed on, oldest first.
type flight struct {
	in *Input
	st *state
	q  []handed
}

// commit counts the oldest batch as delivered: its file's offset moves
// past it.
func (f *flight) commit() error {
	b := f.q[0]
	f.q = f.q[1:]
	if f.in.afterHandle != nil {
		f.in.afterHandle()
	}
	f.in.counters.Delivered(b.n, b.end-b.t.committed)
	b.t.committed = b.end
	f.st.dirty = true
	f.in.mu.Lock()
	f.in.offsets[b.t.path] = b.end
	f.in.mu.Unlock()
	return f.st.save(false)
}

// settle waits, oldest first, until at most keep batches are in flight,
// counting each acknowledged one. A failed batch stops it with the
// batch's error; nothing after it is counted.
func (f *flight) settle(ctx context.Context, keep int) error {
	for len(f.q) > keep {
		b := f.q[0]
		start := time.Now()
		err := b.ack.Wait(ctx)
		f.in.counters.Waited(time.Since(start))
		if err != nil {
			return fmt.Errorf("file input: %s: batch of %d lines at offset %d: %w", b.t.path, b.n, b.offset, err)
		}
		if err := f.commit(); err != nil {
			return err
		}
	}
	return nil
}

// reap counts the batches at the head of the queue that are already
// acknowledged, without waiting.
func (f *flight) reap(ctx context.Context) error {
	for len(f.q) > 0 {
		select {
		case <-f.q[0].ack.Done():
		default:
			return nil
		}
		if err := f.settle(ctx, len(f.q)-1); err != nil {
			return err
		}
	}
	return nil
}

func (in *Input) run(ctx context.Context, depth int, handle func(ctx context.Context, lines []Line) *input.Ack) error {
	st, err := in.newState()
	if err != nil {
		return err
	}
	defer st.closeAll()
	fl := &flight{in: in, st: st}
	// Before the registry is forced out, a file is closed or rewound, the
	// batches in flight are settled. When ctx is done, what is already
	// acknowledged is still counted and the rest is not.
	st.settle = func() error { return fl.settle(ctx, 0) }
	st.stopping = func() bool { return ctx.Err() != nil }
	poll := time.NewTicker(in.cfg.PollInterval)
	defer poll.Stop()
	var lastCheck time.Time
	for {
		if err := ctx.Err(); err != nil {
			return errors.Join(err, st.save(true))
		}
		if lastCheck.IsZero() || (in.cfg.Follow && time.Since(lastCheck) >= in.cfg.PollInterval) {
			if in.cfg.Follow {
				if err := st.check(); err != nil {
					return err
				}
			}
			if err := st.discover(); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		progressed, pending := false, false
		for _, t := range append([]*tail(nil), st.order...) {
			if err := ctx.Err(); err != nil {
				return errors.Join(err, st.save(true))
			}
			if in.cfg.Follow && t.eof {
				// Data after a pause: make sure it is not a rewritten file.
				if _, err := st.truncated(t, nil); err != nil {
					return err
				}
			}
			final := !in.cfg.Follow || t.closing
			batch, err := t.read(in.cfg.BatchLines, final, 4*in.cfg.PollInterval)
			if err != nil {
				return err
			}
			if len(batch) > 0 {
				start := time.Now()
				ack := handle(ctx, batch)
				in.counters.Waited(time.Since(start))
				fl.q = append(fl.q, handedBatch(t, batch, ack))
				if err := fl.settle(ctx, max(depth, 1)-1); err != nil {
					return err
				}
				if err := fl.reap(ctx); err != nil {
					return err
				}
				progressed = true
			}
			switch {
			case !t.eof:
				pending = true
			case !in.cfg.Follow:
				if err := st.finish(t, false); err != nil {
					return err
				}
			case t.closing && !t.holding():
				if err := st.finish(t, true); err != nil {
					return err
				}
			}
		}
		if !in.cfg.Follow {
			if !pending {
				return st.save(true)
			}
			continue
		}
		if progressed || pending {
			continue
		}
		if err := st.save(true); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), st.save(true))
		case <-poll.C:
		}
	}
}

func handedBatch(t *tail, batch []Line, ack *input.Ack) handed {
	return handed{t: t, n: len(batch), offset: batch[0].Offset, end: batch[len(batch)-1].end, ack: ack}
}

// tail is the read state of one open file.
type tail struct {
	id   fileID
	path string
	f    *os.File
	r    *bufio.Reader
	max  int
	j    *joiner // nil without multiline

	committed int64 // offset past the last delivered record
	next      int64 // offset where the line being read starts
	pend      []byte
	pendLen   int64     // bytes of the partial line read so far, kept or not
	grewAt    time.Time // when data was last read
	eof       bool      // the last read reached the end of the file
	fp        fingerprint

	matched time.Time // last time a configured path named this file
	closing bool      // unnamed and inactive: deliver what is held, then close
}

// holding says whether read bytes wait to become a record.
func (t *tail) holding() bool { return t.pendLen > 0 || t.j.pending() }

// rewind starts the file over at offset 0 (it was truncated).
func (t *tail) rewind() error {
	if _, err := t.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("file input: %s: rewind after truncation: %w", t.path, err)
	}
	t.r.Reset(t.f)
	t.committed, t.next, t.pend, t.pendLen = 0, 0, t.pend[:0], 0
	t.j.reset()
	t.fp = fingerprint{}
	return nil
}

// read returns up to n records. At the end of the file, an unterminated
// last line (or a multiline record waiting for more lines) is delivered
// when final, or when it has waited long enough (idle; the multiline
// timeout).
func (t *tail) read(n int, final bool, idle time.Duration) ([]Line, error) {
	var (
		lines []Line
		arena []byte
	)
	emit := func(data []byte, start, end int64, truncated bool) {
		if t.j == nil { // data is the reader's buffer: copy it
			if len(arena)+len(data) > cap(arena) {
				arena = make([]byte, 0, max(len(data), 128<<10))
			}
			s := len(arena)
			arena = append(arena, data...)
			data = arena[s:len(arena):len(arena)]
		}
		lines = append(lines, Line{
			Path: t.path, Offset: start, Data: data, Truncated: truncated,
			InvalidUTF8: !utf8.Valid(data), end: end,
		})
	}
	line := func(data []byte, truncated bool) {
		start := t.next
		t.next += t.pendLen
		t.pend, t.pendLen = t.pend[:0], 0
		if t.j != nil {
			t.j.add(data, start, t.next, truncated, emit)
			return
		}
		emit(data, start, t.next, truncated)
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
			line(data, truncated)
			continue
		case err == nil || errors.Is(err, bufio.ErrBufferFull) || errors.Is(err, io.EOF):
			t.pendLen += int64(len(chunk))
			// Keep up to two bytes beyond the limit, so a line of exactly max
			// bytes ending in \r\n is not taken for a truncated one.
			if room := t.max + 2 - len(t.pend); room > 0 {
				t.pend = append(t.pend, chunk[:min(room, len(chunk))]...)
			}
		default:
			return nil, fmt.Errorf("file input: read %s at offset %d: %w", t.path, t.next+t.pendLen, err)
		}
		if err == nil {
			data, truncated := trimLine(t.pend, t.max)
			line(data, truncated || t.pendLen > int64(len(t.pend)))
			continue
		}
		if errors.Is(err, io.EOF) {
			t.eof = true
			if t.pendLen > 0 && (final || time.Since(t.grewAt) >= idle) {
				data, truncated := trimLine(t.pend, t.max)
				line(data, truncated || t.pendLen > int64(len(t.pend)))
			}
			if t.j.pending() && (final || time.Since(t.j.last) >= t.j.timeout) {
				t.j.flush(emit)
			}
			break
		}
	}
	return lines, nil
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

// isGlob says whether a configured path is a pattern.
func isGlob(p string) bool { return strings.ContainsAny(p, "*?[") }
