package sshd

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// forkedParse parses lines as a parallel reader does: one parser Skips
// every line, and each batch of `every` lines is parsed by a Fork taken at
// its start (the batches one after the other here; the forks share nothing).
func forkedParse(ref time.Time, lines [][]byte, every int) []event.Event {
	p := New(Config{Reference: ref})
	var out []event.Event
	for start := 0; start < len(lines); start += every {
		end := min(start+every, len(lines))
		f := p.Fork()
		for _, l := range lines[start:end] {
			p.Skip(l)
		}
		for i, l := range lines[start:end] {
			out = append(out, f.Parse(parsers.Source{Name: "x", Offset: int64(start + i)}, l))
		}
	}
	return out
}

func TestForkParsesAsOneParser(t *testing.T) {
	ref := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	split := func(s string) [][]byte {
		var out [][]byte
		for _, l := range strings.Split(s, "\n") {
			out = append(out, []byte(l))
		}
		return out
	}
	streams := map[string][][]byte{
		"real lines": seedLines(t),
		// The year moves on at the wrap; lines in between that are not
		// syslog, carry a priority, an RFC 3339 stamp or fractions must
		// move the state exactly as Parse does.
		"new year and mixed forms": split("Dec 30 23:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 9 ssh2\n" +
			"Dec 30 23:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 9 ssh2\n" +
			"garbage\n\n<13>Dec 31 23:59:59 h sshd[2]: Connection closed by 1.2.3.4 [preauth]\n" +
			"Dec 31 23:59:59\nDec 31 23:59:59.5 h sshd[3]: x\n" +
			"Jan  1 00:00:01 h sshd[4]: Accepted password for root from 1.2.3.4 port 9 ssh2\r\n" +
			"2026-03-01T10:00:00+01:00 h sshd[5]: Invalid user a from 1.2.3.4\n" +
			"Feb 30 10:00:00 h sshd[6]: bad date\nMar  1 10:00:00 h sshd[7]: after rfc3339\n" +
			"Jan  1 00:00:02 h sshd[8]: wraps again\nJan  1 00:00:02"),
	}
	for name, lines := range streams {
		one := New(Config{Reference: ref})
		var want []event.Event
		for i, l := range lines {
			want = append(want, one.Parse(parsers.Source{Name: "x", Offset: int64(i)}, l))
		}
		// One parser that skips some lines and parses the others parses
		// them as a parser that parses every line.
		mixed := New(Config{Reference: ref})
		for i, l := range lines {
			if i%3 == 1 {
				mixed.Skip(l)
				continue
			}
			if got := mixed.Parse(parsers.Source{Name: "x", Offset: int64(i)}, l); !reflect.DeepEqual(got, want[i]) {
				t.Fatalf("%s, every third line skipped: line %d (%q):\n got %v\nwant %v", name, i, lines[i], got, want[i])
			}
		}
		for _, every := range []int{1, 2, 3, 7, 64, len(lines) + 1} {
			got := forkedParse(ref, lines, every)
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s, forks every %d lines: line %d (%q):\n got %v\nwant %v", name, every, i, lines[i], got[i], want[i])
				}
			}
		}
	}
}
