package bus

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// pendingResult is a Pending whose Wait returns err.
type pendingResult struct{ err error }

func (p pendingResult) Wait(context.Context) error { return p.err }

func produceN(t *testing.T, cfg Config, n int) {
	t.Helper()
	ctx := context.Background()
	if err := EnsureTopics(ctx, cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for i := range n {
		msgs = append(msgs, Message{Topic: TopicEvents, Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "%d", i)})
	}
	if err := newProducer(t, cfg).Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
}

// TestRunAsyncCommitsOnlyAcknowledgedBatchesInOrder: the second batch's
// output fails while the third's succeeds; only the first is committed,
// so the group reads everything else again.
func TestRunAsyncCommitsOnlyAcknowledgedBatchesInOrder(t *testing.T) {
	cfg := startBroker(t)
	produceN(t, cfg, 60)
	c, err := NewConsumer(cfg, ConsumerConfig{Group: "async", Topics: []string{TopicEvents}, MaxBatch: 10, MaxPending: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed := errors.New("broker said no")
	var batches [][]Record
	err = c.RunAsync(ctx, func(_ context.Context, batch []Record) (Pending, error) {
		batches = append(batches, append([]Record(nil), batch...))
		if len(batches) == 2 {
			return pendingResult{failed}, nil
		}
		return pendingResult{}, nil
	})
	c.Close()
	if !errors.Is(err, failed) {
		t.Fatalf("RunAsync returned %v, want the second batch's failure", err)
	}
	if len(batches) < 3 {
		t.Fatalf("%d batches handled before the failure was seen, want at least 3 (MaxPending 2)", len(batches))
	}
	first := map[string]bool{}
	for _, r := range batches[0] {
		first[string(r.Value)] = true
	}
	again := consumeN(t, cfg, "async", TopicEvents, 60-len(first))
	if len(again) != 60-len(first) {
		t.Fatalf("read again %d records, want the %d not in the first batch", len(again), 60-len(first))
	}
	for _, r := range again {
		if first[string(r.Value)] {
			t.Errorf("record %s of the acknowledged first batch was not committed", r.Value)
		}
	}
}

// TestRunAsyncFlushCommitsEverythingHandled: a Tick hook that calls
// Flush (as a checkpoint does) sees every handled record committed.
func TestRunAsyncFlushCommitsEverythingHandled(t *testing.T) {
	cfg := startBroker(t)
	produceN(t, cfg, 40)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	handled := map[TopicPartition]int64{}
	n := 0
	var c *Consumer
	var mismatch []string
	c, err := NewConsumer(cfg, ConsumerConfig{Group: "flush", Topics: []string{TopicEvents}, MaxBatch: 7, MaxPending: 3,
		Tick: func(ctx context.Context) error {
			if err := c.Flush(ctx); err != nil {
				return err
			}
			var parts []TopicPartition
			for tp := range handled {
				parts = append(parts, tp)
			}
			got, err := c.Committed(parts, 10*time.Second)
			if err != nil {
				return err
			}
			for tp, next := range handled {
				if got[tp] != next {
					mismatch = append(mismatch, fmt.Sprintf("%s committed %d, handled up to %d", tp, got[tp], next))
				}
			}
			if n >= 40 {
				cancel()
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.RunAsync(ctx, func(_ context.Context, batch []Record) (Pending, error) {
		for _, r := range batch {
			handled[TopicPartition{r.Topic, r.Partition}] = r.Offset + 1
		}
		n += len(batch)
		return pendingResult{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 40 {
		t.Fatalf("handled %d records, want 40", n)
	}
	for _, m := range mismatch {
		t.Error(m)
	}
}
