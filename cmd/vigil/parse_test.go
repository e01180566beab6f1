package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// errFull is what a full disk answers a write.
var errFull = errors.New("no space left on device")

// fullWriter fails every write, as /dev/full does.
type fullWriter struct{}

func (fullWriter) Write([]byte) (int, error) { return 0, errFull }

// lineByLine hands out one line per Read, as a live pipe between its
// lines does, so the parse command flushes its output before each read.
type lineByLine struct{ lines []string }

func (l *lineByLine) Read(p []byte) (int, error) {
	if len(l.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, l.lines[0])
	l.lines[0] = l.lines[0][n:]
	if l.lines[0] == "" {
		l.lines = l.lines[1:]
	}
	return n, nil
}

// A failed write of the output is reported as a write error, whichever
// write fails: the flush before a read of a live input as well as a write
// of an event.
func TestParseOutputErrorIsAWriteError(t *testing.T) {
	line := "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n"
	cases := map[string]io.Reader{
		"live input, the flush before a read fails": &lineByLine{lines: []string{line, line}},
		"a file, an event's write fails":            strings.NewReader(strings.Repeat(line, 5000)),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			cmd := newParseCmd()
			var stderr bytes.Buffer
			cmd.SetOut(fullWriter{})
			cmd.SetErr(&stderr)
			cmd.SetIn(in)
			cmd.SetArgs([]string{"-f", "sshd", "-"})
			err := cmd.Execute()
			if !errors.Is(err, errFull) {
				t.Fatalf("err = %v, want the write error", err)
			}
			if strings.Contains(err.Error(), "read ") {
				t.Errorf("a write error reads as a read error: %v", err)
			}
		})
	}
}
