package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Partition-addressed records, for state a stage keeps in Kafka (the
// detect stage's checkpoints on vigil.state): the writer chooses the
// partition, so that a reader restoring some partitions of its input reads
// only the matching partitions of the state topic.

// KeyValue is one record of a PartitionWriter; a nil Value is a tombstone
// (on a compacted topic, the key is deleted).
type KeyValue struct {
	Key   []byte
	Value []byte
}

// PartitionWriter produces records to chosen partitions of one topic and
// waits for their acknowledgement. It is safe for concurrent use.
type PartitionWriter struct {
	p          *kafka.Producer
	topic      string
	partitions int
}

// NewPartitionWriter connects an idempotent producer (acks=all) for topic
// and reads its partition count (waiting at most 10s for metadata).
func NewPartitionWriter(cfg Config, topic string) (*PartitionWriter, error) {
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
	go func() {
		for range p.Events() { // client-level events: errors surface in delivery reports
		}
	}()
	md, err := p.GetMetadata(&topic, false, 10000)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	tm, ok := md.Topics[topic]
	if !ok || tm.Error.Code() != kafka.ErrNoError || len(tm.Partitions) == 0 {
		p.Close()
		return nil, fmt.Errorf("metadata of %s: the topic has no partition (%v)", topic, tm.Error)
	}
	return &PartitionWriter{p: p, topic: topic, partitions: len(tm.Partitions)}, nil
}

// Partitions is the topic's partition count.
func (w *PartitionWriter) Partitions() int { return w.partitions }

// Send produces recs to partition and returns when Kafka acknowledged all
// of them (in order: the producer is idempotent).
func (w *PartitionWriter) Send(ctx context.Context, partition int32, recs []KeyValue) error {
	if len(recs) == 0 {
		return nil
	}
	reports := make(chan kafka.Event, len(recs))
	sent := 0
	var errs []error
	for _, r := range recs {
		km := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &w.topic, Partition: partition},
			Key:            r.Key,
			Value:          r.Value,
		}
		for {
			err := w.p.Produce(km, reports)
			if err == nil {
				sent++
				break
			}
			var kerr kafka.Error
			if errors.As(err, &kerr) && kerr.Code() == kafka.ErrQueueFull {
				select {
				case <-ctx.Done():
					return errors.Join(append(errs, ctx.Err())...)
				case <-time.After(5 * time.Millisecond):
				}
				continue
			}
			errs = append(errs, fmt.Errorf("produce to %s[%d]: %w", w.topic, partition, err))
			break
		}
	}
	for got := 0; got < sent; {
		select {
		case ev := <-reports:
			got++
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				errs = append(errs, fmt.Errorf("delivery to %s[%d]: %w", w.topic, partition, m.TopicPartition.Error))
			}
		case <-ctx.Done():
			return errors.Join(append(errs, fmt.Errorf("waiting for %d delivery reports of %s[%d]: %w", sent-got, w.topic, partition, ctx.Err()))...)
		}
	}
	return errors.Join(errs...)
}

// Close waits up to timeout for queued records, then closes the producer.
func (w *PartitionWriter) Close(timeout time.Duration) {
	w.p.Flush(int(timeout / time.Millisecond))
	w.p.Close()
}

// ReadPartitions reads the records of some partitions of a topic, from
// the first to the last one stored when it is called, without joining a
// group. A tombstone is a Record with a nil Value.
func ReadPartitions(ctx context.Context, cfg Config, topic string, partitions []int32) ([]Record, error) {
	if len(partitions) == 0 {
		return nil, nil
	}
	cm, err := cfg.configMap(kafka.ConfigMap{
		"group.id":             "vigil-partition-reader", // required by the client; never joined nor committed
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
		"fetch.wait.max.ms":    50,
	})
	if err != nil {
		return nil, err
	}
	c, err := kafka.NewConsumer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka reader for %s: %w", cfg.BootstrapServers, err)
	}
	defer c.Close()
	end := map[int32]int64{} // partition → high watermark still to reach
	var assign []kafka.TopicPartition
	for _, p := range partitions {
		low, high, err := c.QueryWatermarkOffsets(topic, p, 10000)
		if err != nil {
			return nil, fmt.Errorf("watermarks of %s[%d]: %w", topic, p, err)
		}
		if high <= low {
			continue
		}
		end[p] = high
		assign = append(assign, kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(low)})
	}
	if len(assign) == 0 {
		return nil, nil
	}
	if err := c.Assign(assign); err != nil {
		return nil, fmt.Errorf("assign %s: %w", topic, err)
	}
	var out []Record
	for len(end) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				return nil, fmt.Errorf("read %s[%d]: %w", topic, e.TopicPartition.Partition, e.TopicPartition.Error)
			}
			out = append(out, toRecord(e))
			if high, ok := end[e.TopicPartition.Partition]; ok && int64(e.TopicPartition.Offset)+1 >= high {
				delete(end, e.TopicPartition.Partition)
			}
		case kafka.PartitionEOF:
			if high, ok := end[e.Partition]; ok && int64(e.Offset) >= high {
				delete(end, e.Partition)
			}
		case kafka.Error:
			if e.IsFatal() {
				return nil, fmt.Errorf("read %s: fatal: %w", topic, e)
			}
		}
	}
	return out, nil
}
