package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Lag counts what the group has not committed: everything before the
// first commit, then only what arrived after it.
func TestLagCountsUncommittedRecords(t *testing.T) {
	cfg := startBroker(t)
	if err := EnsureTopics(context.Background(), cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	send := func(from, n int) {
		t.Helper()
		msgs := make([]Message, n)
		for i := range msgs {
			msgs[i] = Message{Topic: TopicEvents, Key: []byte(fmt.Sprint(from + i)), Value: []byte("v")}
		}
		if err := p.Send(context.Background(), msgs); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 10)
	c, err := NewConsumer(cfg, ConsumerConfig{Group: "lag", Topics: []string{TopicEvents}, MaxWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	handled := 0
	var lags []int64
	err = c.Run(ctx, func(_ context.Context, batch []Record) error {
		lag, err := c.Lag(5 * time.Second)
		if err != nil {
			return err
		}
		if n, _ := c.Assigned(); n != 3 {
			return fmt.Errorf("%d partitions assigned to the only member, want 3", n)
		}
		lags = append(lags, lag[TopicEvents])
		handled += len(batch)
		switch handled {
		case 10:
			send(10, 5) // committed after this batch: 5 left
		case 15:
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Lag is read before each batch's commit: every record not committed yet.
	if len(lags) == 0 || lags[0] != 10 {
		t.Fatalf("lags %v: want the first to be 10 (nothing committed yet)", lags)
	}
	if last := lags[len(lags)-1]; handled != 15 || last < 1 || last > 5 {
		t.Fatalf("handled %d, lags %v: the last batch must see only the 5 later records uncommitted", handled, lags)
	}
	after, err := c.Lag(5 * time.Second)
	if err != nil || after[TopicEvents] != 0 {
		t.Fatalf("lag after everything was committed: %v %v", after, err)
	}
}
