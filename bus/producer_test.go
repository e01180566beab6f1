package bus

import (
	"context"
	"fmt"
	"testing"
)

// TestSendAsyncKeepsBatchOrder hands five batches to the producer back to
// back, reusing one slice (the producer keeps copies), before waiting for
// any: every record arrives once, in the order of the batches.
func TestSendAsyncKeepsBatchOrder(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	if err := EnsureTopics(ctx, cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	const batches, per = 5, 40
	msgs := make([]Message, per)
	var pending []*Delivery
	for b := range batches {
		for i := range msgs {
			msgs[i] = Message{Topic: TopicEvents, Key: []byte("host-a"), Value: fmt.Appendf(nil, "#%03d", b*per+i)}
		}
		pending = append(pending, p.SendAsync(ctx, msgs))
	}
	for i, d := range pending {
		if err := d.Wait(ctx); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	got := consumeN(t, cfg, "async-order", TopicEvents, batches*per)
	if len(got) != batches*per {
		t.Fatalf("consumed %d records, want %d", len(got), batches*per)
	}
	for i, r := range got {
		if want := fmt.Sprintf("#%03d", i); string(r.Value) != want {
			t.Fatalf("record %d is %q, want %q: batches overtook each other or a reused slice leaked", i, r.Value, want)
		}
	}
}

func TestSendAsyncReportsDeliveryFailure(t *testing.T) {
	b, err := StartBroker(BrokerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, Config{BootstrapServers: b.Addr(), Settings: map[string]string{"message.timeout.ms": "1500"}})
	b.Close()
	d := p.SendAsync(context.Background(), []Message{{Topic: TopicEvents, Value: []byte("lost?")}})
	if err := d.Wait(context.Background()); err == nil {
		t.Fatal("Wait succeeded with no broker; the delivery failure must be returned")
	}
}

// BenchmarkSendAsync produces batches of 4,096 event-sized records with
// four batches in flight, as the file input does, into the embedded
// broker: the transport's share of collect → Kafka.
func BenchmarkSendAsync(b *testing.B) {
	broker, err := StartBroker(BrokerConfig{Partitions: 6})
	if err != nil {
		b.Fatal(err)
	}
	defer broker.Close()
	cfg := Config{BootstrapServers: broker.Addr(), Partitions: 6}
	if err := EnsureTopics(context.Background(), cfg, TopicEvents); err != nil {
		b.Fatal(err)
	}
	p, err := NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(0)
	value := make([]byte, 700)
	batch := make([]Message, 4096)
	for i := range batch {
		batch[i] = Message{Topic: TopicEvents, Key: []byte("LabSZ"), Value: value}
	}
	ctx := context.Background()
	var inFlight []*Delivery
	b.SetBytes(int64(len(batch) * len(value)))
	for b.Loop() {
		inFlight = append(inFlight, p.SendAsync(ctx, batch))
		if len(inFlight) == 4 {
			if err := inFlight[0].Wait(ctx); err != nil {
				b.Fatal(err)
			}
			inFlight = inFlight[1:]
		}
	}
	for _, d := range inFlight {
		if err := d.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}
