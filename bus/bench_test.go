package bus

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkSend produces acknowledged batches of 500 event-sized records
// into the embedded broker over TCP.
func BenchmarkSend(b *testing.B) {
	p := benchProducer(b)
	value := make([]byte, 700)
	batch := make([]Message, 500)
	for i := range batch {
		batch[i] = Message{Topic: TopicEvents, Key: fmt.Appendf(nil, "host-%d", i%20), Value: value}
	}
	ctx := context.Background()
	b.SetBytes(int64(len(batch) * len(value)))
	for b.Loop() {
		if err := p.Send(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// benchProducer starts an embedded broker with six partitions of
// vigil.events and a producer connected to it, both closed when b ends.
func benchProducer(b *testing.B) *Producer {
	b.Helper()
	broker, err := StartBroker(BrokerConfig{Partitions: 6})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(broker.Close)
	cfg := Config{BootstrapServers: broker.Addr(), Partitions: 6}
	if err := EnsureTopics(context.Background(), cfg, TopicEvents); err != nil {
		b.Fatal(err)
	}
	p, err := NewProducer(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(0) })
	return p
}
