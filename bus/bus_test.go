package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func startBroker(t *testing.T) Config {
	t.Helper()
	b, err := StartBroker(BrokerConfig{Listen: "127.0.0.1:0", Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return Config{BootstrapServers: b.Addr(), Partitions: 3}
}

func newProducer(t *testing.T, cfg Config) *Producer {
	t.Helper()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(time.Second) })
	return p
}

// consumeN runs a consumer until it has handled n records or the deadline
// passes, and returns what it handled.
func consumeN(t *testing.T, cfg Config, group, topic string, n int) []Record {
	t.Helper()
	c, err := NewConsumer(cfg, ConsumerConfig{Group: group, Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []Record
	err = c.Run(ctx, func(_ context.Context, batch []Record) error {
		got = append(got, batch...)
		if len(got) >= n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEnsureTopicsCreatesAllTopicsWithPartitionsAndIsIdempotent(t *testing.T) {
	cfg := startBroker(t)
	cfg.Partitions = 4
	ctx := context.Background()
	for range 2 {
		if err := EnsureTopics(ctx, cfg, Topics...); err != nil {
			t.Fatal(err)
		}
	}
	cm, _ := cfg.configMap(nil)
	admin, err := kafka.NewAdminClient(cm)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	md, err := admin.GetMetadata(nil, true, 5000)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range Topics {
		tm, ok := md.Topics[topic]
		if !ok {
			t.Fatalf("topic %s was not created", topic)
		}
		if len(tm.Partitions) != 4 {
			t.Errorf("topic %s has %d partitions, want 4", topic, len(tm.Partitions))
		}
	}
}

func TestSameKeyKeepsOrderInOnePartition(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	if err := EnsureTopics(ctx, cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	var msgs []Message
	for i := range 60 {
		key := fmt.Sprintf("host-%d", i%3)
		msgs = append(msgs, Message{Topic: TopicEvents, Key: []byte(key), Value: fmt.Appendf(nil, "%s #%02d", key, i),
			Headers: map[string]string{"n": fmt.Sprint(i)}})
	}
	if err := p.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	got := consumeN(t, cfg, "order", TopicEvents, 60)
	if len(got) != 60 {
		t.Fatalf("consumed %d records, want 60", len(got))
	}
	partitionOf := map[string]int32{}
	last := map[string]string{}
	for _, r := range got {
		k := string(r.Key)
		if p, seen := partitionOf[k]; seen && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		partitionOf[k] = r.Partition
		if string(r.Value) <= last[k] {
			t.Fatalf("key %s out of order: %q after %q", k, r.Value, last[k])
		}
		last[k] = string(r.Value)
		if r.Headers["n"] == "" {
			t.Fatalf("header lost on %q", r.Value)
		}
	}
}

func TestUncommittedBatchIsReadAgainAfterRestart(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	if err := EnsureTopics(ctx, cfg, TopicAlerts); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	if err := p.Send(ctx, []Message{{Topic: TopicAlerts, Key: []byte("k"), Value: []byte("first")}}); err != nil {
		t.Fatal(err)
	}

	// A member that dies while handling: its handler fails, nothing is committed.
	crash := errors.New("killed mid-batch")
	c, err := NewConsumer(cfg, ConsumerConfig{Group: "stage", Topics: []string{TopicAlerts}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var seen []string
	err = c.Run(runCtx, func(_ context.Context, batch []Record) error {
		for _, r := range batch {
			seen = append(seen, string(r.Value))
		}
		return crash
	})
	cancel()
	c.Close()
	if !errors.Is(err, crash) {
		t.Fatalf("Run returned %v, want the handler's error", err)
	}
	if len(seen) != 1 || seen[0] != "first" {
		t.Fatalf("the dying member saw %v", seen)
	}

	// The restarted member reads the same record again, and commits it.
	again := consumeN(t, cfg, "stage", TopicAlerts, 1)
	if len(again) != 1 || string(again[0].Value) != "first" {
		t.Fatalf("after restart the group read %v, want the uncommitted record again", again)
	}

	// Once committed, it is not read a third time: the next record is the new one.
	if err := p.Send(ctx, []Message{{Topic: TopicAlerts, Key: []byte("k"), Value: []byte("second")}}); err != nil {
		t.Fatal(err)
	}
	next := consumeN(t, cfg, "stage", TopicAlerts, 1)
	if len(next) != 1 || string(next[0].Value) != "second" {
		t.Fatalf("after commit the group read %q, want only \"second\"", values(next))
	}
}

func values(rs []Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	return out
}

func TestDeliveryErrorIsReturnedWhenBrokerIsGone(t *testing.T) {
	b, err := StartBroker(BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BootstrapServers: b.Addr(), Settings: map[string]string{"message.timeout.ms": "1500"}}
	p := newProducer(t, cfg)
	b.Close()
	err = p.Send(context.Background(), []Message{{Topic: TopicEvents, Value: []byte("lost?")}})
	if err == nil {
		t.Fatal("Send succeeded with no broker; a delivery failure must be returned")
	}
	if !strings.Contains(err.Error(), "delivery to vigil.events") {
		t.Fatalf("error does not say which delivery failed: %v", err)
	}
}

func TestSendStopsWaitingWhenContextEnds(t *testing.T) {
	b, err := StartBroker(BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, Config{BootstrapServers: b.Addr()})
	b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = p.Send(ctx, []Message{{Topic: TopicEvents, Value: []byte("x")}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %v, want the context's deadline error", err)
	}
}

func TestBadSettingsAndAddressesAreClearErrors(t *testing.T) {
	if _, err := NewProducer(Config{}); err == nil || !strings.Contains(err.Error(), "bootstrap_servers") {
		t.Fatalf("empty bootstrap servers: %v", err)
	}
	_, err := NewProducer(Config{BootstrapServers: "127.0.0.1:1", Settings: map[string]string{"no.such.setting": "1"}})
	if err == nil {
		t.Fatal("an unknown librdkafka setting must be refused")
	}
	for _, listen := range []string{"nonsense", "0.0.0.0:9092", "127.0.0.1:99999"} {
		if _, err := StartBroker(BrokerConfig{Listen: listen}); err == nil {
			t.Errorf("StartBroker(%q) succeeded, want an error", listen)
		}
	}
}

func TestDeadLetterKeepsRecordAndReason(t *testing.T) {
	r := Record{Topic: TopicEvents, Partition: 2, Offset: 41, Key: []byte("k"), Value: []byte("{bad")}
	m := DeadLetter("detect", r, "decode event: unexpected EOF")
	if m.Topic != TopicDLQ || string(m.Value) != "{bad" || string(m.Key) != "k" {
		t.Fatalf("dead letter lost the record: %+v", m)
	}
	want := map[string]string{HeaderDLQReason: "decode event: unexpected EOF", HeaderDLQStage: "detect",
		HeaderDLQTopic: TopicEvents, HeaderDLQPartition: "2", HeaderDLQOffset: "41"}
	for k, v := range want {
		if m.Headers[k] != v {
			t.Errorf("header %s = %q, want %q", k, m.Headers[k], v)
		}
	}
}
