package collectors

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// ParallelConfig says how ReadParallel shares the parsing of a stream.
type ParallelConfig struct {
	// Workers is how many goroutines parse at once (default: the number
	// of CPUs).
	Workers int
	// BatchLines is how many lines a worker parses at a time, and at most
	// how many events emit gets at once (default 1024).
	BatchLines int
	// Each, when set, runs on every event right after its parser, on the
	// goroutine that parsed it (vigil scan's enrichers). It must be safe
	// for concurrent use and must not depend on the order of events.
	Each func(event.Event)
}

// ReadParallel is Read with the parsing spread over several goroutines
// when the parser is a parsers.Forker that does not read whole documents
// (every line format; auto on a stream of lines): one goroutine reads lines
// and carries the parser's state forward (Skip), workers parse batches of
// lines with a Fork each, and emit gets the events in batches, in the
// order Read gives them, each event the same as Read makes it, with the
// same ReadStats. Document parsers (cloudtrail, windows, auditd, auto on
// a JSON document) are read as Read reads them, in batches.
// emit runs on the calling goroutine and may keep the slice. It returns
// emit's first error, a read error (after the events of the lines read
// before it), or ctx's error; after an error the stats may count lines
// whose events were not emitted.
func ReadParallel(ctx context.Context, name string, r io.Reader, p Parser, cfg ParallelConfig, emit func([]event.Event) error) (ReadStats, error) {
	if cfg.BatchLines <= 0 {
		cfg.BatchLines = 1024
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	dr := &drainReader{r: r}
	br := bufio.NewReaderSize(dr, maxHead)
	if a, ok := p.(*autoParser); ok {
		// auto reads a stream as lines unless it starts as one JSON
		// document; as lines it forks like the formats it hands them to.
		if a.linesOnly(streamHead(br)) {
			return readForked(ctx, name, br, dr, a, cfg, emit)
		}
	}
	fork, ok := p.(parsers.Forker)
	if _, doc := p.(parsers.Document); doc || !ok {
		return readBatched(ctx, name, br, dr, p, cfg, emit)
	}
	return readForked(ctx, name, br, dr, fork, cfg, emit)
}

// readForked is ReadParallel for a parser that forks.
func readForked(ctx context.Context, name string, br *bufio.Reader, dr *drainReader, fork parsers.Forker, cfg ParallelConfig, emit func([]event.Event) error) (ReadStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Batches go to the workers and, in the same order, to this goroutine,
	// which waits for each to be parsed; the channels bound how many are
	// in flight. Four per worker ride out a worker's pause (a preemption,
	// a GC assist) without starving emit: on 500k sshd lines in vigil
	// scan, 8% less wall time than one per worker.
	work := make(chan *lineBatch)
	order := make(chan *lineBatch, 4*cfg.Workers)
	go func() {
		defer close(work)
		defer close(order)
		splitBatches(ctx, name, br, dr, fork, cfg.BatchLines, func(b *lineBatch) bool {
			b.done = make(chan struct{})
			select {
			case work <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case order <- b:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Go(func() {
			for {
				select {
				case b, ok := <-work:
					if !ok {
						return
					}
					b.parse(name, cfg.Each)
					close(b.done)
				case <-ctx.Done():
					return // the reader may be blocked in a Read
				}
			}
		})
	}

	st := ReadStats{Failures: map[string]int64{}}
	var failed error
	// On an error the loop ends at once: the reader and the workers stop
	// at the cancel, and nothing waits for a reader blocked in r.Read.
loop:
	for b := range order {
		select {
		case <-b.done:
		case <-ctx.Done():
			failed = ctx.Err()
			break loop
		}
		st.Lines += int64(len(b.ends))
		st.Bytes += b.bytes
		st.Events += int64(len(b.events))
		for reason, n := range b.failures {
			st.Failures[reason] += n
		}
		if len(b.events) > 0 {
			if err := emit(b.events); err != nil {
				failed = err
				break
			}
		}
		if b.err != nil {
			failed = b.err
			break
		}
	}
	if failed == nil {
		failed = ctx.Err()
	}
	cancel()
	workers.Wait() // no worker outlives the call (the reader may, blocked in r.Read)
	return st, failed
}

// lineBatch is a run of consecutive lines of a stream, with the parser
// state at its first line, and once parsed, their events.
type lineBatch struct {
	parser    parsers.Line
	offset    int64  // of the first line
	text      []byte // the lines, one after the other, without line endings
	ends      []int  // end of each line in text
	consumed  []int  // bytes each line took in the stream
	truncated []bool // nil when no line was cut
	bytes     int64
	err       error // the read error that ended the stream after these lines

	done     chan struct{}
	events   []event.Event
	failures map[string]int64
}

// line returns the i-th line of the batch.
func (b *lineBatch) line(i int) []byte {
	start := 0
	if i > 0 {
		start = b.ends[i-1]
	}
	return b.text[start:b.ends[i]:b.ends[i]]
}

// parse makes the batch's events with its parser, as readLines does.
func (b *lineBatch) parse(name string, each func(event.Event)) {
	b.events = make([]event.Event, 0, len(b.ends))
	off := b.offset
	for i := range b.ends {
		ev := b.parser.Parse(parsers.Source{Name: name, Offset: off}, b.line(i))
		off += int64(b.consumed[i])
		if ev == nil {
			continue
		}
		if b.truncated != nil && b.truncated[i] {
			ev.Set("vigil.truncated", true)
		}
		if IsFlagged(ev) {
			if b.failures == nil {
				b.failures = map[string]int64{}
			}
			b.failures[ev.String(event.FieldParseError)]++
		}
		if each != nil {
			each(ev)
		}
		b.events = append(b.events, ev)
	}
}

// splitBatches reads lines into batches of up to n, moving p past each
// line and forking it at the start of each batch, and hands them to send
// until the stream ends, a read fails (the last batch carries the error)
// or send returns false.
func splitBatches(ctx context.Context, name string, br *bufio.Reader, dr *drainReader, p parsers.Forker, n int, send func(*lineBatch) bool) {
	var offset int64
	textCap := 0 // room for the text of a batch like the last one
	for ctx.Err() == nil {
		b := &lineBatch{parser: p.Fork(), offset: offset, ends: make([]int, 0, n), consumed: make([]int, 0, n)}
		if textCap > 0 {
			b.text = make([]byte, 0, textCap)
		}
		for len(b.ends) < n {
			start := len(b.text)
			text, used, truncated, err := appendLine(br, b.text)
			if used == 0 && errors.Is(err, io.EOF) {
				if len(b.ends) > 0 {
					send(b)
				}
				return
			}
			if err != nil && !errors.Is(err, io.EOF) {
				b.err = fmt.Errorf("read %s at byte %d: %w", name, offset, err)
				send(b)
				return
			}
			if line := text[start:]; offset == 0 && len(TrimBOM(0, line)) < len(line) {
				text = append(text[:start], line[len(utf8BOM):]...) // see TrimBOM
			}
			b.text = text
			b.ends = append(b.ends, len(text))
			b.consumed = append(b.consumed, used)
			if truncated {
				if b.truncated == nil {
					b.truncated = make([]bool, len(b.ends)-1, n)
				}
			}
			if b.truncated != nil {
				b.truncated = append(b.truncated, truncated)
			}
			b.bytes += int64(used)
			offset += int64(used)
			p.Skip(text[start:])
			if errors.Is(err, io.EOF) {
				send(b)
				return
			}
			if drained(br, dr) {
				break // a live input: its lines go on now, not when n came
			}
		}
		textCap = len(b.text) + len(b.text)/8
		if !send(b) {
			return
		}
	}
}

// appendLine is readLine appending the line to dst: it returns dst with
// the line (without its line ending) added, how many bytes the line took,
// and whether it was cut at maxOfflineLine.
func appendLine(br *bufio.Reader, dst []byte) (out []byte, n int, truncated bool, err error) {
	start := len(dst)
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if have := len(dst) - start; have+len(chunk) <= maxOfflineLine {
			dst = append(dst, chunk...)
		} else if !truncated {
			dst = append(dst, chunk[:maxOfflineLine-have]...)
			truncated = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(dst) > start && dst[len(dst)-1] == '\n' {
			dst = dst[:len(dst)-1]
		}
		if len(dst) > start && dst[len(dst)-1] == '\r' {
			dst = dst[:len(dst)-1]
		}
		return dst, n, truncated, err
	}
}

// readBatched is ReadParallel for a parser that cannot be forked: Read,
// with the events handed to emit in batches.
func readBatched(ctx context.Context, name string, br *bufio.Reader, dr *drainReader, p Parser, cfg ParallelConfig, emit func([]event.Event) error) (ReadStats, error) {
	batch := make([]event.Event, 0, cfg.BatchLines)
	st, err := Read(name, br, p, func(e event.Event) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if cfg.Each != nil {
			cfg.Each(e)
		}
		batch = append(batch, e)
		if len(batch) < cfg.BatchLines && !drained(br, dr) {
			return nil
		}
		full := batch
		batch = make([]event.Event, 0, cfg.BatchLines)
		return emit(full)
	})
	if err == nil && len(batch) > 0 {
		err = emit(batch)
	}
	return st, err
}
