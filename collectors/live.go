package collectors

import (
	"bufio"
	"bytes"
	"io"
)

// A stream may be live: `tail -f auth.log | vigil scan -` gives a line,
// then nothing for minutes. Nothing read from it may wait for more input
// than it needs: auto looks at no more of the head than it takes to tell
// a JSON document from lines (streamHead), and a batch of lines or events
// goes on when the input has nothing more to give at once (drained), not
// only when it is full.

// maxHead is the most of a stream's head auto looks at.
const maxHead = 64 << 10

// streamHead returns the head of br's stream, as much of it as
// detectDocument needs to decide (the first byte that is not white space,
// or the first line of a stream that starts with '{', or the keys of a
// JSON document), at most maxHead bytes, waiting for no more input than
// that. detectDocument decides on it as it would on the first maxHead
// bytes.
func streamHead(br *bufio.Reader) []byte {
	n := 1
	for {
		head, err := br.Peek(n)
		if err != nil {
			return head // the whole stream, or maxHead of it
		}
		// What arrived with the last read costs nothing to look at.
		head, _ = br.Peek(max(n, br.Buffered()))
		if len(head) >= maxHead || headDecides(head) {
			return head
		}
		n = len(head) + 1
	}
}

// utf8BOM is the byte order mark some editors write at the start of a file.
const utf8BOM = "\ufeff"

// headDecides says whether detectDocument's answer on head is its answer
// on every longer head of the same stream.
func headDecides(head []byte) bool {
	trimmed := bytes.TrimLeft(head, " \t\r\n"+utf8BOM)
	if len(trimmed) < len(utf8BOM) && bytes.HasPrefix([]byte(utf8BOM), trimmed) {
		return false // nothing yet, or a byte order mark cut short
	}
	switch trimmed[0] {
	case '[':
		return len(trimmed) >= jsonFormatHead
	case '{':
		first, _, complete := bytes.Cut(trimmed, []byte("\n"))
		if !complete {
			return false
		}
		// JSON lines are decided by their first line; a document by the
		// keys in its head.
		return jsonValidLine(first) || len(trimmed) >= jsonFormatHead
	}
	return true // lines
}

// drainReader remembers whether its last Read returned less than it was
// asked for: how a pipe or a socket says it has nothing more for now (a
// file's reads come short only at its end).
type drainReader struct {
	r     io.Reader
	short bool
}

func (d *drainReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	d.short = n < len(p)
	return n, err
}

// drained says whether br, reading from d, has given everything its input
// had to give at once: reading on would wait for the input.
func drained(br *bufio.Reader, d *drainReader) bool {
	return br.Buffered() == 0 && d.short
}
