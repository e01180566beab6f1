package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestConsumerStartsWhereOnAssignSaysAndReportsRevocation(t *testing.T) {
	cfg := startBroker(t)
	const topic = "hooks"
	if err := EnsureTopics(context.Background(), Config{BootstrapServers: cfg.BootstrapServers, Partitions: 1}, topic); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	var msgs []Message
	for i := range 10 {
		msgs = append(msgs, Message{Topic: topic, Key: []byte("k"), Value: []byte(fmt.Sprint(i))})
	}
	if err := p.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	var assigned, revoked []TopicPartition
	ticks := 0
	c, err := NewConsumer(cfg, ConsumerConfig{
		Group:  "hooks-group",
		Topics: []string{topic},
		OnAssign: func(parts []TopicPartition) (map[TopicPartition]int64, error) {
			assigned = append(assigned, parts...)
			return map[TopicPartition]int64{{Topic: topic, Partition: 0}: 7}, nil
		},
		OnRevoke: func(parts []TopicPartition, lost bool) {
			if !lost {
				revoked = append(revoked, parts...)
			}
		},
		Tick: func(context.Context) error { ticks++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	err = c.Run(ctx, func(_ context.Context, batch []Record) error {
		for _, r := range batch {
			got = append(got, string(r.Value))
		}
		if len(got) >= 3 {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	committed, err := c.Committed([]TopicPartition{{Topic: topic, Partition: 0}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if fmt.Sprint(got) != "[7 8 9]" {
		t.Errorf("records %v, want those from offset 7 on", got)
	}
	if fmt.Sprint(assigned) != "[hooks[0]]" || fmt.Sprint(revoked) != "[hooks[0]]" {
		t.Errorf("assigned %v, revoked %v: want the one partition both times", assigned, revoked)
	}
	if committed[TopicPartition{Topic: topic, Partition: 0}] != 10 {
		t.Errorf("committed %v, want 10", committed)
	}
	if ticks == 0 {
		t.Error("Tick never called")
	}
}

func TestPartitionWriterAndReadPartitions(t *testing.T) {
	cfg := startBroker(t)
	if err := EnsureTopics(context.Background(), cfg, TopicState); err != nil {
		t.Fatal(err)
	}
	w, err := NewPartitionWriter(cfg, TopicState)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(time.Second)
	if w.Partitions() != 3 {
		t.Fatalf("%d partitions, want 3", w.Partitions())
	}
	ctx := context.Background()
	if err := w.Send(ctx, 2, []KeyValue{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Send(ctx, 0, []KeyValue{{Key: []byte("c"), Value: []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		parts []int32
		want  string
	}{
		{[]int32{2}, "[2:a=1 2:b=2 2:a=<nil>]"},
		{[]int32{0, 1}, "[0:c=3]"},
		{[]int32{1}, "[]"},
	} {
		recs, err := ReadPartitions(ctx, cfg, TopicState, c.parts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range recs {
			v := "<nil>"
			if r.Value != nil {
				v = string(r.Value)
			}
			got = append(got, fmt.Sprintf("%d:%s=%s", r.Partition, r.Key, v))
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("partitions %v: %v, want %s", c.parts, got, c.want)
		}
	}
}
