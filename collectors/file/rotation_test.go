package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// numbered returns lines "line-0001" .. for from..to (inclusive), each
// ending in "\n".
func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "line-%04d\n", i)
	}
	return b.String()
}

// gatedFollower follows files and hands every batch to the test, which
// decides when the handler returns (a slow Kafka), so a test can rotate a
// file while lines are read but not yet acknowledged.
type gatedFollower struct {
	batches chan []Line
	release chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

// followGated follows with Run, or with RunAsync when async is set: then
// the handler returns at once and each release acknowledges the oldest
// batch not yet acknowledged, while the input reads on.
func followGated(t *testing.T, cfg Config, async bool) *gatedFollower {
	t.Helper()
	cfg.Follow = true
	cfg.PollInterval = 5 * time.Millisecond
	if cfg.CloseInactive == 0 {
		cfg.CloseInactive = 100 * time.Millisecond
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gatedFollower{batches: make(chan []Line), release: make(chan struct{}), cancel: cancel, done: make(chan error, 1)}
	if async {
		var mu sync.Mutex
		var acks []*input.Ack
		go func() {
			for {
				select {
				case <-g.release:
					mu.Lock()
					a := acks[0]
					acks = acks[1:]
					mu.Unlock()
					a.Finish(nil)
				case <-ctx.Done():
					return
				}
			}
		}()
		go func() {
			g.done <- in.RunAsync(ctx, func(ctx context.Context, lines []Line) *input.Ack {
				a := input.NewAck()
				mu.Lock()
				acks = append(acks, a)
				mu.Unlock()
				select {
				case g.batches <- lines:
				case <-ctx.Done():
					a.Finish(ctx.Err())
				}
				return a
			})
		}()
	} else {
		go func() {
			g.done <- in.Run(ctx, func(ctx context.Context, lines []Line) error {
				select {
				case g.batches <- lines:
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case <-g.release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	}
	t.Cleanup(func() {
		cancel()
		<-g.done
	})
	return g
}

// take waits for the next batch, keeping the handler blocked.
func (g *gatedFollower) take(t *testing.T) []Line {
	t.Helper()
	select {
	case b := <-g.batches:
		return b
	case err := <-g.done:
		t.Fatalf("Run ended early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no batch delivered")
	}
	return nil
}

// until acknowledges batches, first those already taken (held), until
// every line of want was delivered, and returns every line seen.
func (g *gatedFollower) until(t *testing.T, want []string, held [][]Line) []string {
	t.Helper()
	missing := map[string]bool{}
	for _, w := range want {
		missing[w] = true
	}
	var seen []string
	for {
		var batch []Line
		if len(held) > 0 {
			batch, held = held[0], held[1:]
		} else {
			batch = g.take(t)
		}
		for _, l := range batch {
			seen = append(seen, string(l.Data))
			delete(missing, string(l.Data))
		}
		g.release <- struct{}{}
		if len(missing) == 0 && len(held) == 0 {
			return seen
		}
	}
}

func TestFollowRotation(t *testing.T) {
	cases := []struct {
		name string
		glob bool // paths: auth.log* instead of auth.log
		// rotate runs while the handler holds the first batch (lines 1-50
		// read, not acknowledged): it writes line-0051.. and rotates.
		rotate func(t *testing.T, p string)
	}{
		{"rename, writer keeps the old file a while", false, func(t *testing.T, p string) {
			w, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			mustRename(t, p, p+".1")
			w.WriteString(numbered(51, 60)) // the logger has not reopened yet
			appendTo(t, p, numbered(61, 80))
		}},
		{"rename, rotated name matched by the glob", true, func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 60))
			mustRename(t, p, p+".1")
			appendTo(t, p, numbered(61, 80))
		}},
		{"copytruncate", true, func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 60))
			copyFile(t, p, p+".1")
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, p, numbered(61, 80))
		}},
		{"truncate, rewritten shorter", false, func(t *testing.T, p string) {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, p, numbered(61, 70))
		}},
		{"truncate, rewritten longer than before", false, func(t *testing.T, p string) {
			if err := os.Truncate(p, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(t, p, numbered(61, 130))
		}},
		{"delete and recreate", false, func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 60))
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			appendTo(t, p, numbered(61, 80))
		}},
	}
	for _, tc := range cases {
		for _, async := range []bool{false, true} {
			name := tc.name
			if async {
				name += ", several batches in flight"
			}
			t.Run(name, func(t *testing.T) {
				testFollowRotation(t, tc.name, tc.glob, tc.rotate, async)
			})
		}
	}
}

func testFollowRotation(t *testing.T, name string, glob bool, rotate func(t *testing.T, p string), async bool) {
	dir := t.TempDir()
	p := writeFile(t, dir, "auth.log", numbered(1, 50))
	path := p
	if glob {
		path = p + "*"
	}
	// With async, batches of 20 lines: lines 1-50 are handed on in three
	// batches, all in flight (not acknowledged) while the file rotates;
	// with InFlight 3 the input then waits, as Run waits in its handler,
	// so the rotation is not raced by a read.
	cfg := Config{Paths: []string{path}, BatchLines: 1000}
	if async {
		cfg.BatchLines, cfg.InFlight = 20, 3
	}
	g := followGated(t, cfg, async)
	var held [][]Line
	for n := 0; n < 50; {
		b := g.take(t)
		held = append(held, b)
		n += len(b)
	}
	rotate(t, p)
	appendTo(t, p, "END\n")
	want := 80
	switch name {
	case "truncate, rewritten shorter":
		want = 70
	case "truncate, rewritten longer than before":
		want = 130
	}
	var expect []string
	for i := 1; i <= want; i++ {
		if strings.HasPrefix(name, "truncate") && i > 50 && i <= 60 {
			continue // never written
		}
		expect = append(expect, fmt.Sprintf("line-%04d", i))
	}
	seen := g.until(t, append(expect, "END"), held)
	// One more round of polls: a duplicate would arrive by then.
	time.Sleep(20 * time.Millisecond)
	appendTo(t, p, "END2\n")
	seen = append(seen, g.until(t, []string{"END2"}, nil)...)
	got := map[string]int{}
	for _, s := range seen {
		got[s]++
	}
	for _, k := range expect {
		if got[k] != 1 {
			t.Errorf("%s delivered %d times, want once", k, got[k])
		}
		delete(got, k)
	}
	delete(got, "END")
	delete(got, "END2")
	if len(got) > 0 {
		t.Errorf("unexpected lines: %v", got)
	}
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
}

// runOnce reads the files to their end (no follow) with a registry and
// returns the lines delivered.
func runOnce(t *testing.T, cfg Config) []string {
	t.Helper()
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = in.Run(context.Background(), func(_ context.Context, lines []Line) error {
		for _, l := range lines {
			seen = append(seen, string(l.Data))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return seen
}

// TestRegistryResumesAcrossRestarts stops the input, changes the files as
// logrotate would while it is stopped, and starts it again on the same
// registry: every line is delivered once over both runs.
func TestRegistryResumesAcrossRestarts(t *testing.T) {
	cases := []struct {
		name          string
		whileStopped  func(t *testing.T, p string)
		secondRunWant string // lines of the second run, in order
	}{
		{"appended", func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 53))
		}, "line-0051,line-0052,line-0053"},
		{"nothing new", func(t *testing.T, p string) {}, ""},
		{"renamed and recreated", func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 52))
			mustRename(t, p, p+".1")
			appendTo(t, p, numbered(53, 54))
		}, "line-0051,line-0052,line-0053,line-0054"},
		{"copytruncate", func(t *testing.T, p string) {
			appendTo(t, p, numbered(51, 52))
			copyFile(t, p, p+".1")
			os.Truncate(p, 0)
			appendTo(t, p, numbered(53, 54))
		}, "line-0053,line-0054,line-0051,line-0052"},
		{"truncated and rewritten longer", func(t *testing.T, p string) {
			os.Truncate(p, 0)
			appendTo(t, p, numbered(53, 120))
		}, strings.Join(strings.Split(strings.TrimSuffix(strings.ReplaceAll(numbered(53, 120), "\n", ","), ","), ","), ",")},
		{"deleted and recreated", func(t *testing.T, p string) {
			os.Remove(p)
			appendTo(t, p, numbered(53, 54))
		}, "line-0053,line-0054"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "auth.log", numbered(1, 50))
			cfg := Config{Paths: []string{filepath.Join(dir, "auth.log*")}, RegistryPath: filepath.Join(dir, "data", "registry.json")}
			if first := runOnce(t, cfg); len(first) != 50 {
				t.Fatalf("first run delivered %d lines, want 50", len(first))
			}
			tc.whileStopped(t, p)
			got := strings.Join(runOnce(t, cfg), ",")
			if got != tc.secondRunWant {
				t.Errorf("second run delivered %q, want %q", got, tc.secondRunWant)
			}
			if third := runOnce(t, cfg); len(third) != 0 {
				t.Errorf("third run delivered %v, want nothing", third)
			}
		})
	}
}

var errCrash = errors.New("process died")

// TestCrashBetweenAckAndRegistryWrite: the handler returned nil (Kafka has
// the lines) but the process died before the registry write: on restart
// those lines are delivered again (at least once), never skipped.
func TestCrashBetweenAckAndRegistryWrite(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "auth.log", "l1\nl2\nl3\nl4\nl5\nl6\n")
	cfg := Config{Paths: []string{p}, BatchLines: 2, RegistryPath: filepath.Join(dir, "registry.json"), RegistryFlush: time.Nanosecond}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	in.afterHandle = func() {
		calls++
		if calls == 2 {
			panic(errCrash) // dies after the ack of l3,l4, before writing it down
		}
	}
	var acked []string
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				t.Fatalf("recovered %v, want the simulated crash", r)
			}
		}()
		in.Run(context.Background(), func(_ context.Context, lines []Line) error {
			for _, l := range lines {
				acked = append(acked, string(l.Data))
			}
			return nil
		})
	}()
	if strings.Join(acked, ",") != "l1,l2,l3,l4" {
		t.Fatalf("before the crash Kafka acknowledged %v", acked)
	}
	got := strings.Join(runOnce(t, cfg), ",")
	if got != "l3,l4,l5,l6" {
		t.Errorf("after restart delivered %q, want l3,l4 again then l5,l6", got)
	}
}

// TestHandlerErrorKeepsRegistryBehind: a batch Kafka did not acknowledge
// is not written down, so the next run delivers it.
func TestHandlerErrorKeepsRegistryBehind(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "auth.log", "l1\nl2\nl3\nl4\n")
	cfg := Config{Paths: []string{p}, BatchLines: 2, RegistryPath: filepath.Join(dir, "registry.json")}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = in.Run(context.Background(), func(context.Context, []Line) error {
		calls++
		if calls == 2 {
			return errors.New("kafka down")
		}
		return nil
	})
	if err == nil {
		t.Fatal("Run succeeded, want the handler's error")
	}
	if got := strings.Join(runOnce(t, cfg), ","); got != "l3,l4" {
		t.Errorf("next run delivered %q, want l3,l4", got)
	}
}

func TestRegistryRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "auth.log", "l1\n")
	reg := writeFile(t, dir, "registry.json", "{not json")
	in, err := New(Config{Paths: []string{p}, RegistryPath: reg})
	if err != nil {
		t.Fatal(err)
	}
	err = in.Run(context.Background(), func(context.Context, []Line) error { return nil })
	if err == nil || !strings.Contains(err.Error(), reg) {
		t.Errorf("Run = %v, want an error naming the registry", err)
	}
}
