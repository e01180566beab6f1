package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/input"
)

// TestRunAsyncKeepsSeveralBatchesInFlight: the handler finishes no Ack
// until it holds InFlight batches. An input that waited for each Ack
// before reading on would never get there.
func TestRunAsyncKeepsSeveralBatchesInFlight(t *testing.T) {
	const inFlight = 4
	p := writeFile(t, t.TempDir(), "auth.log", numbered(1, 2*inFlight*3))
	in, err := New(Config{Paths: []string{p}, BatchLines: 2, InFlight: inFlight})
	if err != nil {
		t.Fatal(err)
	}
	var held []*input.Ack
	var got []string
	most := 0
	done := make(chan error, 1)
	go func() {
		done <- in.RunAsync(context.Background(), func(_ context.Context, lines []Line) *input.Ack {
			for _, l := range lines {
				got = append(got, string(l.Data))
			}
			a := input.NewAck()
			held = append(held, a)
			most = max(most, len(held))
			if len(held) == inFlight {
				for i := len(held) - 1; i >= 0; i-- { // newest first
					held[i].Finish(nil)
				}
				held = nil
			}
			return a
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunAsync: %v", err)
		}
	case <-time.After(10 * time.Second): // only keeps a broken input from hanging the suite
		t.Fatalf("RunAsync waited for an Ack with %d of %d batches in flight", len(held), inFlight)
	}
	if want := strings.TrimSuffix(strings.ReplaceAll(numbered(1, 2*inFlight*3), "\n", ","), ","); strings.Join(got, ",") != want {
		t.Errorf("delivered %v, want every line once in order", got)
	}
	if most != inFlight {
		t.Errorf("at most %d batches were in flight, want %d", most, inFlight)
	}
	if in.Lines() != 2*inFlight*3 || in.Offsets()[p] != int64(len(numbered(1, 2*inFlight*3))) {
		t.Errorf("Lines()=%d Offsets()=%v, want every line counted", in.Lines(), in.Offsets())
	}
}

// TestRunAsyncRegistryNeverPassesAnUnacknowledgedBatch: lines l1..l10 in
// batches of two, all in flight at once. Batch 2 (l3,l4) fails or never
// finishes while the batches after it are acknowledged first: neither
// Offsets nor the registry may pass l2, and the next run delivers l3
// onwards again.
func TestRunAsyncRegistryNeverPassesAnUnacknowledgedBatch(t *testing.T) {
	errKafka := errors.New("kafka: delivery failed")
	cases := []struct {
		name string
		// finish decides, when batch i (0-based) is handed on, what to do
		// with the Acks handed out so far; cancel stops the run.
		finish  func(i int, acks []*input.Ack, cancel context.CancelFunc)
		wantErr error
	}{
		{
			name: "batch 2 fails after batches 3 and 4 were acknowledged",
			finish: func(i int, acks []*input.Ack, _ context.CancelFunc) {
				switch i {
				case 0:
					acks[0].Finish(nil)
				case 3:
					acks[3].Finish(nil)
					acks[2].Finish(nil)
					acks[1].Finish(errKafka)
				case 4:
					acks[4].Finish(nil)
				}
			},
			wantErr: errKafka,
		},
		{
			name: "batch 2 never acknowledged, later ones are, then shutdown",
			finish: func(i int, acks []*input.Ack, cancel context.CancelFunc) {
				switch i {
				case 0:
					acks[0].Finish(nil)
				case 3:
					acks[2].Finish(nil)
					acks[3].Finish(nil)
					cancel()
				}
			},
			wantErr: context.Canceled,
		},
		{
			name: "batch 2 fails at once, batch 3 was not even read yet",
			finish: func(i int, acks []*input.Ack, _ context.CancelFunc) {
				switch i {
				case 0:
					acks[0].Finish(nil)
				case 1:
					acks[1].Finish(errKafka)
				case 2, 3, 4:
					acks[i].Finish(nil)
				}
			},
			wantErr: errKafka,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := writeFile(t, dir, "auth.log", "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\n")
			cfg := Config{Paths: []string{p}, BatchLines: 2, InFlight: 5,
				RegistryPath: filepath.Join(dir, "registry.json"), RegistryFlush: time.Nanosecond}
			in, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var acks []*input.Ack
			err = in.RunAsync(ctx, func(_ context.Context, lines []Line) *input.Ack {
				a := input.NewAck()
				acks = append(acks, a)
				tc.finish(len(acks)-1, acks, cancel)
				return a
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RunAsync = %v, want %v", err, tc.wantErr)
			}
			if off := in.Offsets()[p]; off != int64(len("l1\nl2\n")) {
				t.Errorf("Offsets()[%s] = %d, want %d: only l1,l2 are acknowledged in order", p, off, len("l1\nl2\n"))
			}
			if in.Lines() != 2 {
				t.Errorf("Lines() = %d, want 2", in.Lines())
			}
			if got := strings.Join(runOnce(t, cfg), ","); got != "l3,l4,l5,l6,l7,l8,l9,l10" {
				t.Errorf("next run delivered %q, want l3 onwards again", got)
			}
		})
	}
}

// TestRunAsyncCrashBetweenAckAndRegistryWrite is the crash test with
// batches in flight: the process dies after Kafka acknowledged l3,l4 (and
// maybe later batches) but before the registry recorded it: l3 onwards
// come again, nothing is skipped.
func TestRunAsyncCrashBetweenAckAndRegistryWrite(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "auth.log", "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\n")
	cfg := Config{Paths: []string{p}, BatchLines: 2, InFlight: 3,
		RegistryPath: filepath.Join(dir, "registry.json"), RegistryFlush: time.Nanosecond}
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
	var handed []string
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				t.Fatalf("recovered %v, want the simulated crash", r)
			}
		}()
		in.RunAsync(context.Background(), func(_ context.Context, lines []Line) *input.Ack {
			for _, l := range lines {
				handed = append(handed, string(l.Data))
			}
			return input.Acked(nil)
		})
	}()
	if len(handed) < 4 {
		t.Fatalf("before the crash the input handed on only %v", handed)
	}
	if got := strings.Join(runOnce(t, cfg), ","); got != "l3,l4,l5,l6,l7,l8" {
		t.Errorf("after restart delivered %q, want l3,l4 again then the rest", got)
	}
}

// BenchmarkAckLatency reads 100,000 lines in batches of 512 whose
// acknowledgement takes 1ms (a Kafka round trip): Run waits for each, so
// it is bound by the round trips; RunAsync overlaps them with reading.
func BenchmarkAckLatency(b *testing.B) {
	line := "Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2\n"
	const lines = 100_000
	p := filepath.Join(b.TempDir(), "auth.log")
	if err := os.WriteFile(p, []byte(strings.Repeat(line, lines)), 0o600); err != nil {
		b.Fatal(err)
	}
	const rtt = time.Millisecond
	for _, async := range []bool{false, true} {
		name := "Run"
		if async {
			name = "RunAsync"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				in, err := New(Config{Paths: []string{p}})
				if err != nil {
					b.Fatal(err)
				}
				if async {
					err = in.RunAsync(context.Background(), func(context.Context, []Line) *input.Ack {
						a := input.NewAck()
						time.AfterFunc(rtt, func() { a.Finish(nil) })
						return a
					})
				} else {
					err = in.Run(context.Background(), func(context.Context, []Line) error {
						time.Sleep(rtt)
						return nil
					})
				}
				if err != nil {
					b.Fatal(err)
				}
				if in.Lines() != lines {
					b.Fatalf("delivered %d lines, want %d", in.Lines(), lines)
				}
			}
			b.ReportMetric(float64(b.N*lines)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
