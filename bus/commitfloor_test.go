package bus

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestCommitFloorHoldsTheCommitBackAndARestartReadsFromIt: a member that
// keeps state built from some records holds its partition's commit at the
// first of them; a member started after it reads from there again.
func TestCommitFloorHoldsTheCommitBackAndARestartReadsFromIt(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	p := newProducer(t, cfg)

	tests := []struct {
		name      string
		floor     int64 // -1: no floor
		committed int64
		reread    []string
	}{
		{"no floor", -1, 6, nil},
		{"floor inside the batch", 2, 2, []string{"a2", "a3", "a4", "a5"}},
		{"floor at the first record", 0, 0, []string{"a0", "a1", "a2", "a3", "a4", "a5"}},
		{"floor past the batch", 100, 6, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			group := "floor-" + fmt.Sprint(tc.floor)
			topic := "vigil.test." + group
			if err := EnsureTopics(ctx, cfg, topic); err != nil {
				t.Fatal(err)
			}
			var msgs []Message
			for i := range 6 {
				msgs = append(msgs, Message{Topic: topic, Key: []byte("one-entity"), Value: []byte(fmt.Sprintf("a%d", i))})
			}
			if err := p.Send(ctx, msgs); err != nil {
				t.Fatal(err)
			}
			var part TopicPartition
			c, err := NewConsumer(cfg, ConsumerConfig{Group: group, Topics: []string{topic},
				CommitFloor: func(tp TopicPartition) (int64, bool) { return tc.floor, tc.floor >= 0 }})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			n := 0
			err = c.Run(runCtx, func(_ context.Context, batch []Record) error {
				n += len(batch)
				part = TopicPartition{Topic: batch[0].Topic, Partition: batch[0].Partition}
				if n >= len(msgs) {
					cancel()
				}
				return nil
			})
			cancel()
			if err != nil || n != len(msgs) {
				t.Fatalf("first member: %v, %d records", err, n)
			}
			got, err := c.Committed([]TopicPartition{part}, 10*time.Second)
			c.Close()
			if err != nil {
				t.Fatal(err)
			}
			if off, ok := got[part]; !ok || off != tc.committed {
				t.Fatalf("committed %v (present %v), want %d", off, ok, tc.committed)
			}

			// The restarted member: what it reads before a marker sent now.
			marker := "marker-" + group
			if err := p.Send(ctx, []Message{{Topic: topic, Key: []byte("one-entity"), Value: []byte(marker)}}); err != nil {
				t.Fatal(err)
			}
			again := consumeN(t, cfg, group, topic, len(tc.reread)+1)
			vals := values(again)
			if i := slices.Index(vals, marker); i >= 0 {
				vals = vals[:i]
			} else {
				t.Fatalf("restarted member read %v, without the marker", vals)
			}
			if !slices.Equal(vals, tc.reread) {
				t.Fatalf("restarted member re-read %v, want %v", vals, tc.reread)
			}
		})
	}
}

// TestCommitMetadataIsReadBack: the metadata a member stores with its
// commits comes back with the committed offset, through the embedded
// broker's offset commit and fetch, for a member that did not write it.
func TestCommitMetadataIsReadBack(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	p := newProducer(t, cfg)
	group, topic := "metadata", "vigil.test.metadata"
	if err := EnsureTopics(ctx, cfg, topic); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, []Message{{Topic: topic, Key: []byte("k"), Value: []byte("a0")}, {Topic: topic, Key: []byte("k"), Value: []byte("a1")}}); err != nil {
		t.Fatal(err)
	}
	var part TopicPartition
	c, err := NewConsumer(cfg, ConsumerConfig{Group: group, Topics: []string{topic},
		CommitMetadata: func(tp TopicPartition) string { return fmt.Sprintf("rebuild=%d;%s", 0, tp) }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	n := 0
	err = c.Run(runCtx, func(_ context.Context, batch []Record) error {
		n += len(batch)
		part = TopicPartition{Topic: batch[0].Topic, Partition: batch[0].Partition}
		if n >= 2 {
			cancel()
		}
		return nil
	})
	cancel()
	c.Close()
	if err != nil || n != 2 {
		t.Fatalf("first member: %v, %d records", err, n)
	}
	other, err := NewConsumer(cfg, ConsumerConfig{Group: group, Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got, err := other.CommittedMetadata([]TopicPartition{part}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := CommittedOffset{Offset: 2, Metadata: fmt.Sprintf("rebuild=0;%s", part)}
	if got[part] != want {
		t.Fatalf("committed %+v, want %+v", got[part], want)
	}
}
