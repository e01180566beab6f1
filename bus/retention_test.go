package bus

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The embedded broker bounds each partition in bytes, oldest records
// first, but keeps every checkpoint of vigil.state however far past the
// bound: a detector's state must survive retention.
func TestEmbeddedBrokerRetentionSparesCheckpoints(t *testing.T) {
	b, err := StartBroker(BrokerConfig{Partitions: 1, RetentionBytes: 64 << 10, CleanInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := Config{BootstrapServers: b.Addr(), Partitions: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := EnsureTopics(ctx, cfg, TopicEvents, TopicState); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	const n = 400 // × 1 KB in 40 batches: 400 KB per topic, six times the bound
	value := bytes.Repeat([]byte("x"), 1000)
	for batch := range n / 10 {
		var msgs []Message
		for i := range 10 {
			key := []byte(fmt.Sprintf("key-%d", batch*10+i)) // distinct: compaction keeps them all
			msgs = append(msgs, Message{Topic: TopicEvents, Key: key, Value: value}, Message{Topic: TopicState, Key: key, Value: value})
		}
		if err := p.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}

	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": b.Addr(), "group.id": "retention-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	watermarks := func(topic string) (low, high int64) {
		t.Helper()
		low, high, err := c.QueryWatermarkOffsets(topic, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		return low, high
	}
	for {
		low, high := watermarks(TopicEvents)
		if high != n {
			t.Fatalf("%s holds offsets up to %d, want %d", TopicEvents, high, n)
		}
		// What is left must fit the bound, give or take a batch.
		if low > 0 && (high-low)*1000 <= 64<<10+10*1100 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s still starts at %d of %d after a minute: retention did not bound it to 64 KiB", TopicEvents, low, high)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // two more cleaner rounds
	if low, high := watermarks(TopicState); low != 0 || high != n {
		t.Errorf("%s spans offsets %d to %d, want 0 to %d: checkpoints were dropped", TopicState, low, high, n)
	}
	recs, err := ReadPartitions(ctx, cfg, TopicState, []int32{0})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for _, r := range recs {
		keys[string(r.Key)] = true
	}
	if len(keys) != n {
		t.Errorf("%s holds %d distinct checkpoint keys, want all %d", TopicState, len(keys), n)
	}
}

func TestBrokerSettingsDefaults(t *testing.T) {
	got := BrokerConfig{}.brokerSettings()
	want := map[string]string{"log.retention.ms": "604800000", "log.retention.bytes": "268435456", "log.cleaner.backoff.ms": "15000"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("default %s = %q, want %q", k, got[k], v)
		}
	}
	if got := (BrokerConfig{RetentionBytes: -5}).brokerSettings()["log.retention.bytes"]; got != "-1" {
		t.Errorf("a negative RetentionBytes gives log.retention.bytes %q, want -1 (no bound)", got)
	}
}

// A vigil.state an older Vigil created (compaction only) in a data
// directory gets the settings that keep its checkpoints when the broker
// starts on that directory again, and the cleaner runs (kfake starts it
// for loaded topics only when a topic is created or altered).
func TestEmbeddedBrokerKeepsCheckpointsOfAnOlderDataDir(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 400
	value := bytes.Repeat([]byte("x"), 1000)

	b, err := StartBroker(BrokerConfig{Partitions: 1, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BootstrapServers: b.Addr(), Partitions: 1}
	admin, err := kafka.NewAdminClient(&kafka.ConfigMap{"bootstrap.servers": b.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := admin.CreateTopics(ctx, []kafka.TopicSpecification{
		{Topic: TopicState, NumPartitions: 1, ReplicationFactor: 1, Config: map[string]string{"cleanup.policy": "compact"}},
		{Topic: TopicEvents, NumPartitions: 1, ReplicationFactor: 1},
	})
	admin.Close()
	if err != nil || res[0].Error.Code() != kafka.ErrNoError {
		t.Fatalf("create topics as an older Vigil did: %v %v", err, res)
	}
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for batch := range n / 10 {
		var msgs []Message
		for i := range 10 {
			key := []byte(fmt.Sprintf("key-%d", batch*10+i))
			msgs = append(msgs, Message{Topic: TopicEvents, Key: key, Value: value}, Message{Topic: TopicState, Key: key, Value: value})
		}
		if err := p.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
	}
	p.Close(time.Second)
	b.Close()

	b, err = StartBroker(BrokerConfig{Partitions: 1, DataDir: dir, RetentionBytes: 64 << 10, CleanInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := kafka.NewConsumer(&kafka.ConfigMap{"bootstrap.servers": b.Addr(), "group.id": "retention-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Retention runs: the events are cut to the bound...
	for {
		low, _, err := c.QueryWatermarkOffsets(TopicEvents, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if low > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s was not cut to 64 KiB after a minute", TopicEvents)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	// ...and the checkpoints stay.
	low, high, err := c.QueryWatermarkOffsets(TopicState, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if low != 0 || high != n {
		t.Errorf("%s spans offsets %d to %d after the restart, want 0 to %d: checkpoints were dropped", TopicState, low, high, n)
	}
}
