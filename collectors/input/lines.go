package input

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ReadLines reads r line by line ("\n" or "\r\n" ends a line; a last line
// without one still counts) and calls fn with each line, its byte offset in
// r and whether it was cut to max bytes. The line passed to fn is a fresh
// copy. It returns nil at the end of r, or fn's or the read error.
func ReadLines(r io.Reader, max int, fn func(line []byte, offset int64, truncated bool) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var (
		off     int64
		pend    []byte
		pendLen int64
	)
	emit := func() error {
		data, truncated := trimLine(pend, max)
		truncated = truncated || pendLen > int64(len(pend))
		line := append([]byte(nil), data...)
		err := fn(line, off, truncated)
		off += pendLen
		pend, pendLen = pend[:0], 0
		return err
	}
	for {
		chunk, err := br.ReadSlice('\n')
		pendLen += int64(len(chunk))
		if room := max + 2 - len(pend); room > 0 {
			pend = append(pend, chunk[:min(room, len(chunk))]...)
		}
		switch {
		case err == nil:
			if err := emit(); err != nil {
				return err
			}
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if pendLen > 0 {
				return emit()
			}
			return nil
		default:
			return fmt.Errorf("read at offset %d: %w", off+pendLen, err)
		}
	}
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
