package collectors

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/event"
)

// keeper is a parser that keeps every line it is given, as a parser may.
type keeper struct {
	lines   [][]byte
	offsets []int64
}

func (k *keeper) Parse(src Source, line []byte) event.Event {
	k.lines = append(k.lines, line)
	k.offsets = append(k.offsets, src.Offset)
	return event.Event{event.FieldID: event.MakeID(src.Name, src.Offset, line)}
}

// TestReadHandsOutLinesThatStay: Read carves lines from shared buffers;
// a line a parser kept must still hold its bytes after the whole stream
// is read, across buffer boundaries, with CRLF endings, a line longer
// than a buffer and one cut at the line limit, and appending to a line
// must not overwrite the next.
func TestReadHandsOutLinesThatStay(t *testing.T) {
	var want []string
	var data strings.Builder
	for i := range 3000 {
		l := strings.Repeat(string(rune('a'+i%26)), i%300)
		switch i {
		case 1000:
			l = strings.Repeat("long ", 20000) // more than a buffer
		case 2000:
			l = strings.Repeat("x", maxOfflineLine+10) // cut at the limit
		}
		data.WriteString(l)
		if i%7 == 0 {
			data.WriteString("\r")
		}
		data.WriteString("\n")
		want = append(want, l[:min(len(l), maxOfflineLine)])
	}
	data.WriteString("last line without newline")
	want = append(want, "last line without newline")

	k := &keeper{}
	var truncated []int
	st, err := Read("test.log", strings.NewReader(data.String()), k, func(e event.Event) error {
		if _, cut := e["vigil.truncated"]; cut {
			truncated = append(truncated, len(k.lines)-1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range k.lines {
		_ = append(k.lines[i], "appended by the parser"...)
	}
	if len(k.lines) != len(want) || st.Bytes != int64(data.Len()) {
		t.Fatalf("%d lines, %d bytes; want %d lines, %d bytes", len(k.lines), st.Bytes, len(want), data.Len())
	}
	text := data.String()
	var offset int64
	for i, l := range k.lines {
		if string(l) != want[i] || k.offsets[i] != offset {
			t.Fatalf("line %d at %d: kept %.30q (%d bytes), want %.30q (%d bytes) at %d", i, k.offsets[i], l, len(l), want[i], len(want[i]), offset)
		}
		offset += int64(strings.IndexByte(text[offset:], '\n')) + 1
	}
	if len(truncated) != 1 || truncated[0] != 2000 {
		t.Fatalf("lines flagged as cut: %v, want [2000]", truncated)
	}
}
