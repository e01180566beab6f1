package file

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// collect runs an input without Follow and returns every line it delivered.
func collect(t *testing.T, cfg Config) ([]Line, *Input) {
	t.Helper()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []Line
	err = in.Run(context.Background(), func(_ context.Context, lines []Line) error {
		got = append(got, lines...)
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, in
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// expected splits content into lines with their byte offsets, the way the
// input must: "\n" or "\r\n" ends a line, and a last line without ending
// still counts.
func expected(content string) (offsets []int64, data []string) {
	var off int64
	for content != "" {
		i := strings.IndexByte(content, '\n')
		line, size := content, len(content)
		if i >= 0 {
			line, size = content[:i], i+1
		}
		offsets = append(offsets, off)
		data = append(data, strings.TrimSuffix(line, "\r"))
		off += int64(size)
		content = content[size:]
	}
	return offsets, data
}

func TestRunDeliversLinesWithExactOffsets(t *testing.T) {
	cases := []struct{ name, content string }{
		{"newline terminated", "a\nbb\nccc\n"},
		{"no trailing newline", "Dec 10 06:55:46 LabSZ sshd[1]: x\nlast line without newline"},
		{"CRLF, as loghub files", "one\r\ntwo\r\nthree"},
		{"empty lines kept", "a\n\n\nb\n"},
		{"multibyte and NUL bytes", "h\u00e9llo \u2603\n\x00\x01\xff\n"},
		{"single line", "only"},
		{"empty file", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "auth.log", tc.content)
			got, in := collect(t, Config{Paths: []string{p}, BatchLines: 2})
			offs, data := expected(tc.content)
			if len(got) != len(data) {
				t.Fatalf("got %d lines, want %d: %+v", len(got), len(data), got)
			}
			for i, l := range got {
				if l.Offset != offs[i] || string(l.Data) != data[i] || l.Truncated || l.Path != p {
					t.Errorf("line %d = {%s %d %q %v}, want {%s %d %q false}", i, l.Path, l.Offset, l.Data, l.Truncated, p, offs[i], data[i])
				}
				// The offset points at the line in the file itself.
				if !strings.HasPrefix(tc.content[l.Offset:], string(l.Data)) {
					t.Errorf("line %d: file at offset %d does not start with the line", i, l.Offset)
				}
			}
			if in.Lines() != int64(len(data)) || in.Bytes() != int64(len(tc.content)) {
				t.Errorf("Lines()=%d Bytes()=%d, want %d and %d", in.Lines(), in.Bytes(), len(data), len(tc.content))
			}
			if len(tc.content) > 0 && in.Offsets()[p] != int64(len(tc.content)) {
				t.Errorf("Offsets()[%s] = %d, want %d (end of file)", p, in.Offsets()[p], len(tc.content))
			}
		})
	}
}

func TestRunReadsLoghubFileCompletely(t *testing.T) {
	// Real data: CRLF line endings and no newline after the last line.
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var path string
	for {
		c := filepath.Join(dir, "shared", "corpus", "loghub", "OpenSSH_2k.log")
		if _, err := os.Stat(c); err == nil {
			path = c
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("shared/corpus not found")
		}
		dir = filepath.Dir(dir)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, in := collect(t, Config{Paths: []string{path}})
	if len(got) != 2000 {
		t.Fatalf("got %d lines, want 2000", len(got))
	}
	last := got[len(got)-1]
	if !bytes.HasSuffix(content, last.Data) || last.Offset+int64(len(last.Data)) != int64(len(content)) {
		t.Errorf("last line %q at %d is not the end of the file", last.Data, last.Offset)
	}
	for i, l := range got {
		if bytes.ContainsAny(l.Data, "\r\n") {
			t.Fatalf("line %d still holds a line ending: %q", i, l.Data)
		}
		if !bytes.Equal(content[l.Offset:l.Offset+int64(len(l.Data))], l.Data) {
			t.Fatalf("line %d: offset %d does not point at it", i, l.Offset)
		}
	}
	if in.Bytes() != int64(len(content)) {
		t.Errorf("Bytes() = %d, want %d", in.Bytes(), len(content))
	}
}

func TestRunTruncatesLongLines(t *testing.T) {
	long := strings.Repeat("x", 100)
	huge := strings.Repeat("y", 300<<10) // longer than the read buffer
	cases := []struct {
		name    string
		content string
		max     int
		want    []string
		trunc   []bool
	}{
		{"cut and flagged", "short\n" + long + "\nafter\n", 10, []string{"short", long[:10], "after"}, []bool{false, true, false}},
		{"exactly max with CRLF is whole", "0123456789\r\nnext", 10, []string{"0123456789", "next"}, []bool{false, false}},
		{"max+1 is cut", "0123456789A\nnext", 10, []string{"0123456789", "next"}, []bool{true, false}},
		{"longer than the read buffer, under max", huge + "\nz\n", 1 << 20, []string{huge, "z"}, []bool{false, false}},
		{"longer than the read buffer, over max", huge + "\nz\n", 1000, []string{huge[:1000], "z"}, []bool{true, false}},
		{"unterminated long last line", "a\n" + long, 10, []string{"a", long[:10]}, []bool{false, true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "big.log", tc.content)
			got, in := collect(t, Config{Paths: []string{p}, MaxLineBytes: tc.max})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d lines, want %d", len(got), len(tc.want))
			}
			offs, _ := expected(tc.content)
			for i, l := range got {
				if string(l.Data) != tc.want[i] || l.Truncated != tc.trunc[i] || l.Offset != offs[i] {
					t.Errorf("line %d: %d bytes, truncated=%v, offset %d; want %d bytes, truncated=%v, offset %d",
						i, len(l.Data), l.Truncated, l.Offset, len(tc.want[i]), tc.trunc[i], offs[i])
				}
			}
			if in.Bytes() != int64(len(tc.content)) {
				t.Errorf("Bytes() = %d, want %d: a cut line still counts whole", in.Bytes(), len(tc.content))
			}
		})
	}
}

func TestRunStopsAtHandleErrorWithoutCountingTheBatch(t *testing.T) {
	p := writeFile(t, t.TempDir(), "auth.log", "l1\nl2\nl3\nl4\nl5\n")
	in, err := New(Config{Paths: []string{p}, BatchLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	errKafka := errors.New("kafka did not acknowledge")
	var calls int
	var seen []string
	err = in.Run(context.Background(), func(_ context.Context, lines []Line) error {
		calls++
		if calls == 2 {
			return errKafka
		}
		for _, l := range lines {
			seen = append(seen, string(l.Data))
		}
		return nil
	})
	if !errors.Is(err, errKafka) {
		t.Fatalf("Run returned %v, want the handle's error", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("error %q does not name the file", err)
	}
	if calls != 2 || strings.Join(seen, ",") != "l1,l2" {
		t.Errorf("handle called %d times, acknowledged %v; want 2 calls, l1,l2", calls, seen)
	}
	// Only the acknowledged batch counts as read: l3 and l4 would be read again.
	if in.Lines() != 2 || in.Bytes() != 6 || in.Offsets()[p] != 6 {
		t.Errorf("Lines()=%d Bytes()=%d Offsets()=%d, want 2, 6, 6", in.Lines(), in.Bytes(), in.Offsets()[p])
	}
}

func TestRunMissingFiles(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.log")
	for _, paths := range [][]string{{missing}, {filepath.Join(dir, "*.log")}} {
		in, err := New(Config{Paths: paths})
		if err != nil {
			t.Fatal(err)
		}
		err = in.Run(context.Background(), func(context.Context, []Line) error { return nil })
		if err == nil || !strings.Contains(err.Error(), paths[0]) {
			t.Errorf("Run(%v) = %v, want an error naming the path", paths, err)
		}
	}
}

func TestRunReadsGlobsAndSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.log", "a1\na2\n")
	b := writeFile(t, dir, "b.log", "b1")
	writeFile(t, dir, "c.txt", "not matched\n")
	// b.log is named twice (glob and path): it must be read once.
	got, in := collect(t, Config{Paths: []string{filepath.Join(dir, "*.log"), b}})
	perFile := map[string][]string{}
	for _, l := range got {
		perFile[l.Path] = append(perFile[l.Path], string(l.Data))
	}
	if strings.Join(perFile[a], ",") != "a1,a2" || strings.Join(perFile[b], ",") != "b1" || len(perFile) != 2 {
		t.Errorf("lines per file = %v", perFile)
	}
	if in.Lines() != 3 || in.Bytes() != 8 {
		t.Errorf("Lines()=%d Bytes()=%d, want 3 and 8", in.Lines(), in.Bytes())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Paths: []string{""}},
		{Paths: []string{"/var/log/[auth.log"}},
		{Paths: []string{"x"}, MaxLineBytes: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", cfg)
		}
	}
}

// follower runs an input with Follow in the background and hands its
// lines over a channel.
type follower struct {
	lines  chan Line
	cancel context.CancelFunc
	done   chan error
}

func follow(t *testing.T, cfg Config) *follower {
	t.Helper()
	cfg.Follow = true
	cfg.PollInterval = 5 * time.Millisecond
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{lines: make(chan Line, 100), cancel: cancel, done: make(chan error, 1)}
	go func() {
		f.done <- in.Run(ctx, func(_ context.Context, lines []Line) error {
			for _, l := range lines {
				f.lines <- l
			}
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

// next waits for the next line; the deadline only keeps a broken input
// from hanging the test suite.
func (f *follower) next(t *testing.T) Line {
	t.Helper()
	select {
	case l := <-f.lines:
		return l
	case err := <-f.done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no line delivered")
	}
	return Line{}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestFollowPicksUpAppendedLines(t *testing.T) {
	p := writeFile(t, t.TempDir(), "auth.log", "first\n")
	f := follow(t, Config{Paths: []string{p}})
	if l := f.next(t); string(l.Data) != "first" || l.Offset != 0 {
		t.Fatalf("got %q at %d", l.Data, l.Offset)
	}
	appendTo(t, p, "second\nthi")
	if l := f.next(t); string(l.Data) != "second" || l.Offset != 6 {
		t.Fatalf("got %q at %d, want second at 6", l.Data, l.Offset)
	}
	// "thi" is completed before it has stayed unterminated long enough.
	appendTo(t, p, "rd\n")
	if l := f.next(t); string(l.Data) != "third" || l.Offset != 13 {
		t.Fatalf("got %q at %d, want third at 13", l.Data, l.Offset)
	}
	f.cancel()
	if err := <-f.done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v after cancel, want context.Canceled", err)
	}
	f.done <- nil // for the cleanup
}

func TestFollowDeliversAnUnterminatedLineOnceIdle(t *testing.T) {
	p := writeFile(t, t.TempDir(), "auth.log", "a\nno newline yet")
	f := follow(t, Config{Paths: []string{p}})
	f.next(t)
	if l := f.next(t); string(l.Data) != "no newline yet" || l.Offset != 2 {
		t.Fatalf("got %q at %d", l.Data, l.Offset)
	}
	appendTo(t, p, "\nlater\n")
	// The line ending that arrives late is an empty line of its own.
	if l := f.next(t); string(l.Data) != "" || l.Offset != 16 {
		t.Fatalf("got %q at %d, want the empty rest at 16", l.Data, l.Offset)
	}
	if l := f.next(t); string(l.Data) != "later" {
		t.Fatalf("got %q, want later", l.Data)
	}
}

func TestFollowWaitsForMissingFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	f := follow(t, Config{Paths: []string{p, filepath.Join(dir, "*.gz.log")}})
	appendTo(t, p, "appeared\n")
	if l := f.next(t); string(l.Data) != "appeared" || l.Path != p {
		t.Fatalf("got %q from %s", l.Data, l.Path)
	}
	g := filepath.Join(dir, "new.gz.log")
	appendTo(t, g, "globbed\n")
	if l := f.next(t); string(l.Data) != "globbed" || l.Path != g {
		t.Fatalf("got %q from %s", l.Data, l.Path)
	}
}

func BenchmarkRead(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchRead(b, Config{}) })
	b.Run("registry", func(b *testing.B) {
		benchRead(b, Config{RegistryPath: filepath.Join(b.TempDir(), "registry.json")})
	})
	b.Run("multiline", func(b *testing.B) { benchRead(b, Config{Multiline: Multiline{Pattern: `^\s`}}) })
}

// benchRead reads a 9 MB auth.log of 100,000 lines with a no-op handler;
// with a registry, every run starts from a fresh one.
func benchRead(b *testing.B, cfg Config) {
	var buf bytes.Buffer
	line := "Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2\n"
	const perFile = 100_000
	for range perFile {
		buf.WriteString(line)
	}
	p := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	total := 0
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := cfg
		c.Paths = []string{p}
		if c.RegistryPath != "" {
			os.Remove(c.RegistryPath)
		}
		in, err := New(c)
		if err != nil {
			b.Fatal(err)
		}
		err = in.Run(context.Background(), func(_ context.Context, lines []Line) error {
			mu.Lock()
			total += len(lines)
			mu.Unlock()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if total != perFile*b.N {
		b.Fatalf("read %d lines, want %d", total, perFile*b.N)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "lines/s")
}
