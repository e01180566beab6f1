package collectors

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// maxOfflineLine caps one line read by Read; a longer line is cut there and
// its event flagged (vigil.truncated).
const maxOfflineLine = 1 << 20

// ReadStats counts what Read did.
type ReadStats struct {
	Lines  int64 // lines read (for line formats)
	Bytes  int64
	Events int64 // events emitted, flagged ones included
	// Failures counts flagged events by reason.
	Failures map[string]int64
}

// Failed returns the number of flagged events.
func (s ReadStats) Failed() int64 {
	var n int64
	for _, c := range s.Failures {
		n += c
	}
	return n
}

// Reasons returns the failure reasons, most frequent first.
func (s ReadStats) Reasons() []string {
	out := make([]string, 0, len(s.Failures))
	for r := range s.Failures {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if s.Failures[out[i]] != s.Failures[out[j]] {
			return s.Failures[out[i]] > s.Failures[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// Read parses a whole stream offline (vigil parse, vigil replay, vigil
// scan): through the parser's Document method when it has one, else line
// by line with exact byte offsets. Every record becomes an event handed to
// emit, flagged when it could not be parsed; Read returns emit's first
// error or a read error.
func Read(name string, r io.Reader, p Parser, emit func(event.Event) error) (ReadStats, error) {
	st := ReadStats{Failures: map[string]int64{}}
	count := func(e event.Event) error {
		st.Events++
		if IsFlagged(e) {
			st.Failures[e.String(event.FieldParseError)]++
		}
		return emit(e)
	}
	br := bufio.NewReaderSize(r, maxHead)
	if a, ok := p.(*autoParser); ok {
		// A stream of lines (not one JSON document) is read as lines,
		// and counted as such.
		if a.linesOnly(streamHead(br)) {
			return st, readLines(name, br, p, &st, count)
		}
	}
	if doc, ok := p.(parsers.Document); ok {
		cr := &countingReader{r: br}
		err := doc.ParseDocument(name, cr, count)
		st.Bytes = cr.n
		return st, err
	}
	return st, readLines(name, br, p, &st, count)
}

// lineChunkSize is the size of the buffers readLines reads lines into:
// lines are carved from one chunk after the other rather than each
// allocated, and a chunk is never written again where a line was handed
// out, so a parser may keep what it was given.
const lineChunkSize = 64 << 10

// readLines parses a stream line by line with exact byte offsets.
func readLines(name string, br *bufio.Reader, p Parser, st *ReadStats, emit func(event.Event) error) error {
	var offset int64
	var chunk []byte
	for {
		if cap(chunk)-len(chunk) < lineChunkSize/16 {
			chunk = make([]byte, 0, lineChunkSize)
		}
		start := len(chunk)
		text, n, truncated, err := appendLine(br, chunk)
		if n == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s at byte %d: %w", name, offset, err)
		}
		// appendLine moves the chunk to a larger array for a line longer
		// than its room; the lines handed out before stay where they are.
		chunk = text
		line := TrimBOM(offset, text[start:len(text):len(text)])
		st.Lines++
		st.Bytes += int64(n)
		ev := p.Parse(parsers.Source{Name: name, Offset: offset}, line)
		offset += int64(n)
		if ev != nil { // header lines (Zeek #fields) are not records
			if truncated {
				ev.Set("vigil.truncated", true)
			}
			if cerr := emit(ev); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// TrimBOM returns the line at offset of its stream without the UTF-8 byte
// order mark a stream may start with: it is no part of the first record,
// whose timestamp or JSON it would hide from every parser.
func TrimBOM(offset int64, line []byte) []byte {
	if offset == 0 {
		return bytes.TrimPrefix(line, []byte(utf8BOM))
	}
	return line
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
