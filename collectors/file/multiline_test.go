package file

import (
	"path/filepath"
	"strings"
	"testing"
)

const javaLog = `2025-12-10 09:52:17 ERROR request failed
java.lang.IllegalStateException: boom
    at com.example.Foo.bar(Foo.java:10)
    at com.example.Main.main(Main.java:5)
Caused by: java.io.IOException: disk
    ... 2 more
2025-12-10 09:52:18 INFO recovered
`

func TestMultiline(t *testing.T) {
	cases := []struct {
		name    string
		content string
		ml      Multiline
		max     int
		want    []string
		trunc   []bool
	}{
		{
			name:    "java stack trace: lines not starting with a date join the one before",
			content: javaLog,
			ml:      Multiline{Pattern: `^\d{4}-\d{2}-\d{2} `, Negate: true, Match: "after"},
			want: []string{
				"2025-12-10 09:52:17 ERROR request failed\njava.lang.IllegalStateException: boom\n    at com.example.Foo.bar(Foo.java:10)\n    at com.example.Main.main(Main.java:5)\nCaused by: java.io.IOException: disk\n    ... 2 more",
				"2025-12-10 09:52:18 INFO recovered",
			},
		},
		{
			name:    "indented continuation lines, match after",
			content: "a\n  a2\n  a3\nb\nc\n  c2\n",
			ml:      Multiline{Pattern: `^\s`, Match: "after"},
			want:    []string{"a\n  a2\n  a3", "b", "c\n  c2"},
		},
		{
			name:    "backslash continuation, match before",
			content: "one \\\ntwo \\\nthree\nfour\n",
			ml:      Multiline{Pattern: `\\$`, Match: "before"},
			want:    []string{"one \\\ntwo \\\nthree", "four"},
		},
		{
			name:    "max_lines starts a new record, nothing is dropped",
			content: "a\n 1\n 2\n 3\n 4\nb\n",
			ml:      Multiline{Pattern: `^\s`, MaxLines: 3},
			want:    []string{"a\n 1\n 2", " 3\n 4", "b"},
		},
		{
			name:    "joined record longer than max_line_bytes is cut and flagged",
			content: "abcdef\n ghijkl\nz\n",
			ml:      Multiline{Pattern: `^\s`},
			max:     10,
			want:    []string{"abcdef\n gh", "z"},
			trunc:   []bool{true, false},
		},
		{
			name:    "continuation lines before any start line form a record",
			content: " orphan\nstart\n",
			ml:      Multiline{Pattern: `^\s`},
			want:    []string{" orphan", "start"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "app.log", tc.content)
			got, in := collect(t, Config{Paths: []string{p}, Multiline: tc.ml, MaxLineBytes: tc.max, BatchLines: 2})
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records %q, want %d", len(got), data(got), len(tc.want))
			}
			for i, l := range got {
				if string(l.Data) != tc.want[i] {
					t.Errorf("record %d = %q, want %q", i, l.Data, tc.want[i])
				}
				if tc.trunc != nil && l.Truncated != tc.trunc[i] {
					t.Errorf("record %d truncated=%v, want %v", i, l.Truncated, tc.trunc[i])
				}
				// The offset points at the record's first line in the file.
				first, _, _ := strings.Cut(tc.want[i], "\n")
				if !strings.HasPrefix(tc.content[l.Offset:], first) {
					t.Errorf("record %d: offset %d does not point at %q", i, l.Offset, first)
				}
			}
			if in.Bytes() != int64(len(tc.content)) {
				t.Errorf("Bytes() = %d, want the whole file, %d", in.Bytes(), len(tc.content))
			}
		})
	}
}

func data(lines []Line) []string {
	var s []string
	for _, l := range lines {
		s = append(s, string(l.Data))
	}
	return s
}

// TestMultilineRecordWaitingIsNotCommitted: lines held for a record that is
// not complete yet are not in the registry, so a restart reads them again.
func TestMultilineRecordWaitingIsNotCommitted(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "app.log", "a\n  a2\nb\n  b2\n")
	reg := filepath.Join(dir, "registry.json")
	cfg := Config{Paths: []string{p}, RegistryPath: reg, Multiline: Multiline{Pattern: `^\s`}}
	// Follow, and stop once "a" was delivered: "b" and "  b2" are held
	// waiting for the next start line (the timeout is 5s).
	f := follow(t, cfg)
	if l := f.next(t); string(l.Data) != "a\n  a2" {
		t.Fatalf("first record %q", l.Data)
	}
	f.cancel()
	<-f.done
	f.done <- nil
	appendTo(t, p, "c\n")
	got := runOnce(t, cfg)
	if strings.Join(got, "|") != "b\n  b2|c" {
		t.Errorf("after restart got %q, want the held record b again, then c", got)
	}
}

func TestFollowMultilineTimeoutDeliversTheLastRecord(t *testing.T) {
	p := writeFile(t, t.TempDir(), "app.log", "a\n  a2\n")
	f := follow(t, Config{Paths: []string{p}, Multiline: Multiline{Pattern: `^\s`, Timeout: 20e6}})
	if l := f.next(t); string(l.Data) != "a\n  a2" {
		t.Fatalf("got %q", l.Data)
	}
}

func TestInvalidUTF8IsKeptAndFlagged(t *testing.T) {
	content := "ok h\u00e9llo\nbad \xff\xfe bytes\n\x00nul is valid\n"
	p := writeFile(t, t.TempDir(), "x.log", content)
	got, _ := collect(t, Config{Paths: []string{p}})
	want := []struct {
		data    string
		invalid bool
	}{{"ok h\u00e9llo", false}, {"bad \xff\xfe bytes", true}, {"\x00nul is valid", false}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines", len(got))
	}
	for i, w := range want {
		if string(got[i].Data) != w.data || got[i].InvalidUTF8 != w.invalid {
			t.Errorf("line %d = %q invalid=%v, want %q invalid=%v", i, got[i].Data, got[i].InvalidUTF8, w.data, w.invalid)
		}
	}
}

func TestNewRejectsBadMultiline(t *testing.T) {
	for _, ml := range []Multiline{{Pattern: "("}, {Pattern: "x", Match: "around"}, {Pattern: "x", MaxLines: -1}} {
		if _, err := New(Config{Paths: []string{"x"}, Multiline: ml}); err == nil || !strings.Contains(err.Error(), "multiline") {
			t.Errorf("New(multiline %+v) = %v, want an error naming multiline", ml, err)
		}
	}
}
