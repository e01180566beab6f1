package stdin

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

func TestRunDeliversEveryLineWithOffsets(t *testing.T) {
	cases := []struct {
		name    string
		content string
		max     int
		want    []string
		offsets []int64
		trunc   []bool
		invalid []bool
	}{
		{"plain", "a\nbb\n", 0, []string{"a", "bb"}, []int64{0, 2}, nil, nil},
		{"CRLF and no final newline", "one\r\ntwo", 0, []string{"one", "two"}, []int64{0, 5}, nil, nil},
		{"long line cut", "0123456789abc\nz\n", 10, []string{"0123456789", "z"}, []int64{0, 14}, []bool{true, false}, nil},
		{"invalid UTF-8 kept", "\xff\xfe\nok\n", 0, []string{"\xff\xfe", "ok"}, []int64{0, 3}, nil, []bool{true, false}},
		{"empty", "", 0, nil, nil, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, err := New(Config{Reader: strings.NewReader(tc.content), MaxLineBytes: tc.max, BatchLines: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []input.Record
			err = in.Run(context.Background(), func(_ context.Context, b []input.Record) error {
				got = append(got, b...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d", len(got), len(tc.want))
			}
			for i, r := range got {
				if string(r.Data) != tc.want[i] || r.Source.Offset != tc.offsets[i] || r.Source.Name != "stdin" {
					t.Errorf("record %d = %q %v, want %q at %d", i, r.Data, r.Source, tc.want[i], tc.offsets[i])
				}
				if tc.trunc != nil && r.Truncated != tc.trunc[i] {
					t.Errorf("record %d truncated %v", i, r.Truncated)
				}
				if tc.invalid != nil && r.InvalidUTF8 != tc.invalid[i] {
					t.Errorf("record %d invalid UTF-8 %v", i, r.InvalidUTF8)
				}
			}
			if s := in.Stats(); s.Records != int64(len(tc.want)) {
				t.Errorf("Stats().Records = %d", s.Records)
			}
		})
	}
}

// TestSlowHandlerStopsTheReader: while the handler is blocked, the input
// reads no further than its bounded queue, and every line arrives in the
// end.
func TestSlowHandlerStopsTheReader(t *testing.T) {
	pr, pw := io.Pipe()
	in, err := New(Config{Reader: pr, BatchLines: 2})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var got []string
	done := make(chan error, 1)
	go func() {
		done <- in.Run(context.Background(), func(_ context.Context, b []input.Record) error {
			<-release
			for _, r := range b {
				got = append(got, string(r.Data))
			}
			return nil
		})
	}()
	// Queue (8 records) + one batch (2) + one line in the reader's hands:
	// the writer cannot get more in until the handler returns.
	written := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 100; n++ {
			if _, err := pw.Write([]byte("line\n")); err != nil {
				break
			}
		}
		written <- n
		pw.Close()
	}()
	select {
	case n := <-written:
		t.Fatalf("writer wrote all %d lines while the handler was blocked", n)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if n := <-written; n != 100 {
		t.Fatalf("wrote %d", n)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Errorf("delivered %d lines, want 100", len(got))
	}
	if in.Stats().Blocked == 0 {
		t.Error("Stats().Blocked = 0 after the handler held the input back")
	}
}

func TestHandlerErrorStopsRun(t *testing.T) {
	in, _ := New(Config{Reader: strings.NewReader("a\nb\n")})
	boom := errors.New("kafka down")
	err := in.Run(context.Background(), func(context.Context, []input.Record) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("Run = %v, want the handler's error", err)
	}
}

func TestRunReturnsWhenCancelledWhileReading(t *testing.T) {
	pr, _ := io.Pipe() // never written, never closed
	in, _ := New(Config{Reader: pr})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.Run(ctx, func(context.Context, []input.Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}
