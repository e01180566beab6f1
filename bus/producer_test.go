package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
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

// TestProducerLinger checks the linger a producer reports (the collector
// sizes what it keeps in flight by it): the default, ProducerConfig's, and
// kafka.settings' over both.
func TestProducerLinger(t *testing.T) {
	cfg := startBroker(t)
	for _, tc := range []struct {
		name     string
		pc       ProducerConfig
		settings map[string]string
		want     time.Duration
	}{
		{"default", ProducerConfig{}, nil, 5 * time.Millisecond},
		{"ProducerConfig", ProducerConfig{Linger: 25 * time.Millisecond}, nil, 25 * time.Millisecond},
		{"settings win", ProducerConfig{Linger: 25 * time.Millisecond}, map[string]string{"linger.ms": "40"}, 40 * time.Millisecond},
		{"fractional setting", ProducerConfig{}, map[string]string{"linger.ms": "0.5"}, 500 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Settings = tc.settings
			p, err := NewProducerWith(c, tc.pc)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(time.Second)
			if got := p.Linger(); got != tc.want {
				t.Errorf("Linger() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestSendAsyncStopsAtRefusedMessage hands the producer a batch whose
// middle message is over the size limit: SendAsync says so, and the
// message after it is not sent, so the topic holds no batch with a gap.
func TestSendAsyncStopsAtRefusedMessage(t *testing.T) {
	cfg := startBroker(t)
	ctx := context.Background()
	if err := EnsureTopics(ctx, cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	cfg.Settings = map[string]string{"message.max.bytes": "10000"}
	p := newProducer(t, cfg)
	d := p.SendAsync(ctx, []Message{
		{Topic: TopicEvents, Key: []byte("h"), Value: []byte("first")},
		{Topic: TopicEvents, Key: []byte("h"), Value: make([]byte, 20000)},
		{Topic: TopicEvents, Key: []byte("h"), Value: []byte("third")},
	})
	if d.Err() == nil {
		t.Fatal("SendAsync took a message over message.max.bytes without an error")
	}
	if err := d.Wait(ctx); err == nil {
		t.Fatal("Wait returned nil for a batch with a refused message")
	}
	if err := p.Send(ctx, []Message{{Topic: TopicEvents, Key: []byte("h"), Value: []byte("marker")}}); err != nil {
		t.Fatal(err)
	}
	got := consumeN(t, cfg, "refused", TopicEvents, 2)
	var values []string
	for _, r := range got {
		values = append(values, string(r.Value))
	}
	if len(values) != 2 || values[0] != "first" || values[1] != "marker" {
		t.Fatalf("topic holds %q, want [first marker]: the message after the refused one was sent", values)
	}
}

// TestWaitCountsReportsThatArrivedBeforeCancel waits for a batch whose
// delivery reports are all there with a context already cancelled: the
// batch is acknowledged, not taken for lost because its caller stops.
func TestWaitCountsReportsThatArrivedBeforeCancel(t *testing.T) {
	cfg := startBroker(t)
	if err := EnsureTopics(context.Background(), cfg, TopicEvents); err != nil {
		t.Fatal(err)
	}
	p := newProducer(t, cfg)
	msgs := make([]Message, 64)
	for i := range msgs {
		msgs[i] = Message{Topic: TopicEvents, Key: []byte("h"), Value: fmt.Appendf(nil, "#%d", i)}
	}
	d := p.SendAsync(context.Background(), msgs)
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	for len(d.reports) < d.sent { // every report queued, none read yet
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Wait(ctx); err != nil {
		t.Fatalf("Wait with every report there but ctx cancelled: %v, want nil", err)
	}
}

// BenchmarkSendAsync produces batches of 4,096 event-sized records with
// four batches in flight, as the file input does, into the embedded
// broker: the transport's share of collect → Kafka.
func BenchmarkSendAsync(b *testing.B) {
	p := benchProducer(b)
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
