package bus

import (
	"context"
	"errors"
	"fmt"
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
	p     *kafka.Producer
	fatal atomic.Pointer[error]
	done  chan struct{}
}

// NewProducer connects an idempotent producer (acks=all).
func NewProducer(cfg Config) (*Producer, error) {
	cm, err := cfg.configMap(kafka.ConfigMap{
		"enable.idempotence":     true,
		"acks":                   "all",
		"linger.ms":              5,
		"message.timeout.ms":     120000,
		"go.delivery.reports":    true,
		"go.logs.channel.enable": false,
	})
	if err != nil {
		return nil, err
	}
	p, err := kafka.NewProducer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka producer for %s: %w", cfg.BootstrapServers, err)
	}
	pr := &Producer{p: p, done: make(chan struct{})}
	go pr.watch()
	return pr, nil
}

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
	if len(msgs) == 0 {
		return nil
	}
	if e := p.fatal.Load(); e != nil {
		return *e
	}
	reports := make(chan kafka.Event, len(msgs))
	sent := 0
	var errs []error
	for i := range msgs {
		m := &msgs[i]
		km := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &m.Topic, Partition: kafka.PartitionAny},
			Key:            m.Key,
			Value:          m.Value,
		}
		for k, v := range m.Headers {
			km.Headers = append(km.Headers, kafka.Header{Key: k, Value: []byte(v)})
		}
		for {
			err := p.p.Produce(km, reports)
			if err == nil {
				sent++
				break
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
				// Backpressure: wait for deliveries to make room.
				select {
				case <-ctx.Done():
					errs = append(errs, ctx.Err())
					return p.await(ctx, reports, sent, errs)
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			errs = append(errs, fmt.Errorf("produce to %s: %w", m.Topic, err))
			break
		}
	}
	return p.await(ctx, reports, sent, errs)
}

// await collects n delivery reports. On ctx cancellation it stops waiting;
// the messages may still be delivered, but the caller must treat them as
// not acknowledged.
func (p *Producer) await(ctx context.Context, reports chan kafka.Event, n int, errs []error) error {
	for got := 0; got < n; {
		select {
		case ev := <-reports:
			got++
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				topic := ""
				if m.TopicPartition.Topic != nil {
					topic = *m.TopicPartition.Topic
				}
				errs = append(errs, fmt.Errorf("delivery to %s: %w", topic, m.TopicPartition.Error))
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("waiting for %d of %d delivery reports: %w", n-got, n, ctx.Err()))
			return errors.Join(errs...)
		}
	}
	return errors.Join(errs...)
}

// Close waits up to timeout for queued messages, then closes the producer.
func (p *Producer) Close(timeout time.Duration) {
	p.p.Flush(int(timeout / time.Millisecond))
	p.p.Close()
	<-p.done
}
