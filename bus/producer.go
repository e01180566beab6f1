package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Message is one record to produce.
type Message struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers map[string]string
}

// Producer sends records to Kafka and waits for their acknowledgement.
// It is safe for concurrent use.
type Producer struct {
	p      *kafka.Producer
	fatal  atomic.Pointer[error]
	done   chan struct{}
	linger time.Duration
}

// ProducerConfig tunes a producer for its traffic; the zero value suits
// most stages. Settings in Config.Settings still override it.
type ProducerConfig struct {
	// Linger is how long librdkafka waits to fill a batch before sending
	// it (linger.ms; default 5ms). A producer that streams many records
	// back to back (the collector) sends fuller batches and wakes
	// librdkafka's thread far less with a longer one, for that much more
	// latency on a quiet stream.
	Linger time.Duration
}

// NewProducer connects an idempotent producer (acks=all).
func NewProducer(cfg Config) (*Producer, error) {
	return NewProducerWith(cfg, ProducerConfig{})
}

// NewProducerWith connects an idempotent producer (acks=all) tuned by pc.
func NewProducerWith(cfg Config, pc ProducerConfig) (*Producer, error) {
	linger := 5
	if pc.Linger > 0 {
		linger = max(1, int(pc.Linger/time.Millisecond))
	}
	cm, err := cfg.configMap(kafka.ConfigMap{
		"enable.idempotence":  true,
		"acks":                "all",
		"linger.ms":           linger,
		"message.timeout.ms":  120000,
		"go.delivery.reports": true,
		// Reports only say stored or failed: copying every key and value
		// back into Go (the default) costs an allocation per message.
		"go.delivery.report.fields": "none",
		"go.logs.channel.enable":    false,
		// Delivery reports go to each batch's own channel and ProduceChannel
		// is not used: the default million-slot channels (24 MB allocated
		// per producer) would hold nothing but client-level errors.
		"go.events.channel.size":  1024,
		"go.produce.channel.size": 1,
	})
	if err != nil {
		return nil, err
	}
	effective := time.Duration(linger) * time.Millisecond
	for _, key := range []string{"linger.ms", "queue.buffering.max.ms"} { // as Settings left them; the second is an alias
		if v, err := cm.Get(key, nil); err == nil && v != nil {
			if ms, err := strconv.ParseFloat(fmt.Sprint(v), 64); err == nil {
				effective = time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	p, err := kafka.NewProducer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka producer for %s: %w", cfg.BootstrapServers, err)
	}
	pr := &Producer{p: p, done: make(chan struct{}), linger: effective}
	go pr.watch()
	return pr, nil
}

// Linger is how long the producer waits to fill a batch (linger.ms, as
// configured: ProducerConfig.Linger or kafka.settings).
func (p *Producer) Linger() time.Duration { return p.linger }

// watch drains the producer's event channel: per-message reports go to the
// channel given to Produce, so what arrives here are client-level errors.
// A fatal one (the idempotent producer lost its guarantees) fails every
// later Send.
func (p *Producer) watch() {
	defer close(p.done)
	for ev := range p.p.Events() {
		if e, ok := ev.(kafka.Error); ok && e.IsFatal() {
			err := fmt.Errorf("kafka producer: fatal: %w", e)
			p.fatal.Store(&err)
		}
	}
}

// Send produces every message and returns when Kafka has acknowledged all
// of them. The returned error joins every delivery failure; a nil error
// means every message is stored. When the local queue is full, Send waits
// for room rather than dropping.
func (p *Producer) Send(ctx context.Context, msgs []Message) error {
	return p.SendAsync(ctx, msgs).Wait(ctx)
}

// Delivery is a batch handed to the producer by SendAsync, on its way to
// Kafka.
type Delivery struct {
	reports chan kafka.Event
	sent    int // messages the producer took
	got     int // delivery reports received
	errs    []error
	done    bool
}

// SendAsync produces every message, in order, and returns once the
// producer has taken them all (so batches sent one after the other keep
// their order), without waiting for Kafka's acknowledgement: Wait does.
// When the local queue is full, SendAsync waits for room rather than
// dropping; a message the producer refuses otherwise stops it (Err says
// so), and the messages after it are not sent. msgs may be reused once
// SendAsync returned: the producer keeps copies.
func (p *Producer) SendAsync(ctx context.Context, msgs []Message) *Delivery {
	d := &Delivery{}
	if len(msgs) == 0 {
		return d
	}
	if e := p.fatal.Load(); e != nil {
		d.errs = append(d.errs, *e)
		return d
	}
	d.reports = make(chan kafka.Event, len(msgs))
	// One kafka.Message serves every message: Produce copies key, value and
	// headers into librdkafka and reports on a Message of its own.
	var km kafka.Message
	km.TopicPartition.Partition = kafka.PartitionAny
	for i := range msgs {
		m := &msgs[i]
		km.TopicPartition.Topic = &m.Topic
		km.Key, km.Value = m.Key, m.Value
		km.Headers = km.Headers[:0]
		for k, v := range m.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: k, Value: []byte(v)})
		}
		for {
			err := p.p.Produce(&km, d.reports)
			if err == nil {
				d.sent++
				break
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
				// Backpressure: wait for deliveries to make room.
				select {
				case <-ctx.Done():
					d.errs = append(d.errs, fmt.Errorf("producing %d of %d messages: %w", len(msgs)-i, len(msgs), ctx.Err()))
					return d
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			// Nothing after a message the producer refused: the batch
			// would arrive with a gap.
			d.errs = append(d.errs, fmt.Errorf("produce to %s (message %d of %d, the rest not sent): %w", m.Topic, i+1, len(msgs), err))
			return d
		}
	}
	return d
}

// Wait returns when Kafka has acknowledged or failed every message the
// producer took, with every failure joined (nil: all stored). On ctx
// cancellation it stops waiting: the messages may still be delivered, but
// the caller must treat them as not acknowledged. Wait may be called again
// after a cancellation; it must not be called concurrently.
func (d *Delivery) Wait(ctx context.Context) error {
	for !d.done && d.got < d.sent {
		select {
		case ev := <-d.reports:
			d.report(ev)
		case <-ctx.Done():
			// Reports already there still count: a batch Kafka has
			// acknowledged is not taken for a lost one because the
			// caller is stopping.
			for d.got < d.sent && d.drainOne() {
			}
			if d.got == d.sent {
				continue
			}
			return errors.Join(append(d.errs[:len(d.errs):len(d.errs)],
				fmt.Errorf("waiting for %d of %d delivery reports: %w", d.sent-d.got, d.sent, ctx.Err()))...)
		}
	}
	d.done = true
	return errors.Join(d.errs...)
}

// report counts one delivery report.
func (d *Delivery) report(ev kafka.Event) {
	d.got++
	if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
		topic := ""
		if m.TopicPartition.Topic != nil {
			topic = *m.TopicPartition.Topic
		}
		d.errs = append(d.errs, fmt.Errorf("delivery to %s: %w", topic, m.TopicPartition.Error))
	}
}

// drainOne counts a delivery report if one is there, without waiting.
func (d *Delivery) drainOne() bool {
	select {
	case ev := <-d.reports:
		d.report(ev)
		return true
	default:
		return false
	}
}

// Err returns, without waiting, the failures known so far: messages
// SendAsync could not hand to the producer, and delivery failures Wait
// has read (nil: none yet). A caller sending batch after batch checks it
// before sending the next, so nothing is sent after a batch with a gap.
// Like Wait, it must not be called concurrently with Wait.
func (d *Delivery) Err() error { return errors.Join(d.errs...) }

// Close waits up to timeout for queued messages, then closes the producer.
func (p *Producer) Close(timeout time.Duration) {
	p.p.Flush(int(timeout / time.Millisecond))
	p.p.Close()
	<-p.done
}
