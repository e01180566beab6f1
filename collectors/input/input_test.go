package input

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
)

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	s := StateFile{Path: filepath.Join(dir, "sub", "registry.json")}
	var v struct{ Cursor string }
	if ok, err := s.Load(&v); ok || err != nil {
		t.Fatalf("Load of a missing file = %v, %v; want false, nil", ok, err)
	}
	for _, c := range []string{"first", "second"} {
		if err := s.Save(struct{ Cursor string }{c}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Load(&v); !ok || err != nil || v.Cursor != c {
			t.Fatalf("Load after Save(%s) = %v %v %+v", c, ok, err, v)
		}
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only the registry", len(entries))
	}
	os.WriteFile(s.Path, []byte("{torn"), 0o600)
	if _, err := s.Load(&v); err == nil || !strings.Contains(err.Error(), s.Path) {
		t.Errorf("Load of garbage = %v, want an error naming the file", err)
	}
}

func rec(s string) Record { return Record{Source: parsers.Source{Name: "t"}, Data: []byte(s)} }

func TestPump(t *testing.T) {
	t.Run("partial batch flushed after the interval, rest drained at the end", func(t *testing.T) {
		var c Counters
		var batches [][]string
		release := make(chan struct{})
		err := Pump(context.Background(), PumpConfig{BatchSize: 10, FlushInterval: time.Millisecond}, &c,
			func(ctx context.Context, q *Queue) error {
				q.Send(ctx, rec("a"))
				<-release // the first record must go out on the timer alone
				q.Send(ctx, rec("b"))
				q.Send(ctx, rec("c"))
				return nil
			},
			func(_ context.Context, b []Record) error {
				var s []string
				for _, r := range b {
					s = append(s, string(r.Data))
				}
				batches = append(batches, s)
				if len(batches) == 1 {
					close(release)
				}
				return nil
			}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(batches) < 2 || strings.Join(batches[0], ",") != "a" {
			t.Errorf("batches %v, want [a] first", batches)
		}
		if st := c.Snapshot(); st.Records != 3 || st.Bytes != 3 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("handler error stops the producer and is returned", func(t *testing.T) {
		var c Counters
		boom := errors.New("kafka down")
		stopped := make(chan struct{})
		err := Pump(context.Background(), PumpConfig{BatchSize: 1}, &c,
			func(ctx context.Context, q *Queue) error {
				defer close(stopped)
				for {
					if err := q.Send(ctx, rec("x")); err != nil {
						return err
					}
				}
			},
			func(context.Context, []Record) error { return boom }, nil)
		if !errors.Is(err, boom) {
			t.Errorf("Pump = %v, want the handler's error", err)
		}
		<-stopped
		if c.Snapshot().Records != 0 {
			t.Error("a failed batch was counted as delivered")
		}
	})
	t.Run("delivered sees only acknowledged batches", func(t *testing.T) {
		var c Counters
		var seen []string
		calls := 0
		err := Pump(context.Background(), PumpConfig{BatchSize: 1}, &c,
			func(ctx context.Context, q *Queue) error {
				for _, s := range []string{"a", "b", "c"} {
					if err := q.Send(ctx, rec(s)); err != nil {
						return err
					}
				}
				return nil
			},
			func(context.Context, []Record) error {
				calls++
				if calls == 2 {
					return errors.New("nack")
				}
				return nil
			},
			func(_ context.Context, b []Record) error {
				seen = append(seen, string(b[0].Data))
				return nil
			})
		if err == nil || strings.Join(seen, ",") != "a" {
			t.Errorf("Pump = %v, delivered %v; want an error and only a", err, seen)
		}
	})
	t.Run("TrySend drops and counts when full", func(t *testing.T) {
		var c Counters
		q := &Queue{ch: make(chan Record, 1), c: &c}
		if !q.TrySend(rec("a")) || q.TrySend(rec("b")) {
			t.Error("want the first kept and the second dropped")
		}
		if c.Snapshot().Dropped != 1 {
			t.Errorf("dropped %d", c.Snapshot().Dropped)
		}
	})
}

func TestReadLines(t *testing.T) {
	var got []string
	var offs []int64
	err := ReadLines(strings.NewReader("a\r\n"+strings.Repeat("x", 70<<10)+"\nend"), 10, func(l []byte, off int64, tr bool) error {
		got = append(got, string(l))
		offs = append(offs, off)
		if tr != (len(got) == 2) {
			t.Errorf("line %d truncated=%v", len(got), tr)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != "a" || got[1] != strings.Repeat("x", 10) || got[2] != "end" || offs[2] != 3+70<<10+1 {
		t.Errorf("got %q at %v", got, offs)
	}
}
