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
	if doc, ok := p.(parsers.Document); ok {
		cr := &countingReader{r: r}
		err := doc.ParseDocument(name, cr, count)
		st.Bytes = cr.n
		return st, err
	}
	return st, readLines(name, bufio.NewReaderSize(r, 64<<10), p, &st, count)
}

// readLines parses a stream line by line with exact byte offsets.
func readLines(name string, br *bufio.Reader, p Parser, st *ReadStats, emit func(event.Event) error) error {
	var offset int64
	for {
		line, n, truncated, err := readLine(br)
		if n == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s at byte %d: %w", name, offset, err)
		}
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

// readLine returns the next line without its line ending (\n or \r\n),
// how many bytes it consumed, and whether the line was cut at
// maxOfflineLine. The last line of a stream may lack a newline.
func readLine(br *bufio.Reader) (line []byte, n int, truncated bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if len(buf)+len(chunk) <= maxOfflineLine {
			buf = append(buf, chunk...)
		} else if !truncated {
			buf = append(buf, chunk[:maxOfflineLine-len(buf)]...)
			truncated = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, n, truncated, err
	}
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
