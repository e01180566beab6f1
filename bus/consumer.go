package bus

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Record is one consumed Kafka record.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
	Headers   map[string]string
}

// ConsumerConfig says what a consumer reads and how it batches.
type ConsumerConfig struct {
	// Group is the consumer group: every copy of a stage joins the same one.
	Group  string
	Topics []string
	// MaxBatch caps the records handed to the handler at once (default 500).
	MaxBatch int
	// MaxWait is how long a batch may wait to fill once it has its first
	// record (default 50ms).
	MaxWait time.Duration
	// OnError receives errors that do not stop consuming (a commit refused
	// after a rebalance, a broker connection lost and retried). Optional.
	OnError func(error)
}

// Consumer reads records as a member of a consumer group and commits
// offsets only after they were handled.
type Consumer struct {
	c        *kafka.Consumer
	cfg      ConsumerConfig
	consumed atomic.Int64
}

// NewConsumer joins the group and subscribes to the topics. A group with no
// committed offset starts at the earliest record.
func NewConsumer(cfg Config, cc ConsumerConfig) (*Consumer, error) {
	if cc.Group == "" || len(cc.Topics) == 0 {
		return nil, fmt.Errorf("kafka consumer: group and topics are required")
	}
	if cc.MaxBatch <= 0 {
		cc.MaxBatch = 500
	}
	if cc.MaxWait <= 0 {
		cc.MaxWait = 50 * time.Millisecond
	}
	cm, err := cfg.configMap(kafka.ConfigMap{
		"group.id":                 cc.Group,
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"auto.offset.reset":        "earliest",
		"session.timeout.ms":       10000,
		"heartbeat.interval.ms":    1000,
		"fetch.wait.max.ms":        50,
	})
	if err != nil {
		return nil, err
	}
	c, err := kafka.NewConsumer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer for %s: %w", cfg.BootstrapServers, err)
	}
	if err := c.SubscribeTopics(cc.Topics, nil); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe to %v: %w", cc.Topics, err)
	}
	return &Consumer{c: c, cfg: cc}, nil
}

// Consumed counts the records handled and committed so far.
func (c *Consumer) Consumed() int64 { return c.consumed.Load() }

// Run hands batches of records to handle until ctx is done. The offsets of
// a batch are committed only after handle returned nil; if handle fails,
// Run returns that error and the batch stays uncommitted, so the group
// reads it again (here after a restart, or on another member).
func (c *Consumer) Run(ctx context.Context, handle func(ctx context.Context, batch []Record) error) error {
	for {
		batch, err := c.poll(ctx)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		if err := handle(ctx, batch); err != nil {
			return err
		}
		c.commit(batch)
		c.consumed.Add(int64(len(batch)))
	}
}

// poll waits for the first record (until ctx is done), then gathers more
// for up to MaxWait.
func (c *Consumer) poll(ctx context.Context) ([]Record, error) {
	var batch []Record
	var deadline time.Time
	for len(batch) < c.cfg.MaxBatch {
		timeout := 100
		if len(batch) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			timeout = int(left/time.Millisecond) + 1
		} else if ctx.Err() != nil {
			return nil, nil
		}
		switch e := c.c.Poll(timeout).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				c.report(fmt.Errorf("consume: %w", e.TopicPartition.Error))
				continue
			}
			if len(batch) == 0 {
				deadline = time.Now().Add(c.cfg.MaxWait)
			}
			batch = append(batch, toRecord(e))
		case kafka.Error:
			if e.IsFatal() {
				return nil, fmt.Errorf("kafka consumer: fatal: %w", e)
			}
			c.report(e)
		}
	}
	return batch, nil
}

func toRecord(m *kafka.Message) Record {
	r := Record{
		Topic:     *m.TopicPartition.Topic,
		Partition: m.TopicPartition.Partition,
		Offset:    int64(m.TopicPartition.Offset),
		Key:       m.Key,
		Value:     m.Value,
		Timestamp: m.Timestamp,
	}
	if len(m.Headers) > 0 {
		r.Headers = make(map[string]string, len(m.Headers))
		for _, h := range m.Headers {
			r.Headers[h.Key] = string(h.Value)
		}
	}
	return r
}

// commit commits, per partition, the offset after the batch's last record.
// A refused commit (the partition moved to another member meanwhile) is
// reported, not fatal: the new owner re-reads those records, and ids make
// the repeat harmless.
func (c *Consumer) commit(batch []Record) {
	type tp struct {
		topic     string
		partition int32
	}
	next := make(map[tp]int64)
	for _, r := range batch {
		k := tp{r.Topic, r.Partition}
		if r.Offset+1 > next[k] {
			next[k] = r.Offset + 1
		}
	}
	offsets := make([]kafka.TopicPartition, 0, len(next))
	for k, off := range next {
		topic := k.topic
		offsets = append(offsets, kafka.TopicPartition{Topic: &topic, Partition: k.partition, Offset: kafka.Offset(off)})
	}
	sort.Slice(offsets, func(i, j int) bool {
		if *offsets[i].Topic != *offsets[j].Topic {
			return *offsets[i].Topic < *offsets[j].Topic
		}
		return offsets[i].Partition < offsets[j].Partition
	})
	committed, err := c.c.CommitOffsets(offsets)
	if err != nil {
		c.report(fmt.Errorf("commit offsets: %w", err))
		return
	}
	var errs []error
	for _, tp := range committed {
		if tp.Error != nil {
			errs = append(errs, fmt.Errorf("commit %s[%d]@%d: %w", *tp.Topic, tp.Partition, tp.Offset, tp.Error))
		}
	}
	if len(errs) > 0 {
		c.report(errors.Join(errs...))
	}
}

func (c *Consumer) report(err error) {
	if c.cfg.OnError != nil {
		c.cfg.OnError(err)
	}
}

// Close leaves the group, so its partitions move to other members at once.
func (c *Consumer) Close() error { return c.c.Close() }

// Assigned returns how many partitions the group assigned to this
// consumer (0 before the first rebalance completes).
func (c *Consumer) Assigned() (int, error) {
	parts, err := c.c.Assignment()
	if err != nil {
		return 0, fmt.Errorf("kafka consumer %s: assignment: %w", c.cfg.Group, err)
	}
	return len(parts), nil
}

// Lag returns, per topic, the records of the partitions assigned to this
// consumer that its group has not committed: the high watermark minus the
// committed offset (minus the low watermark when nothing is committed
// yet). It asks the broker, each request waiting at most timeout.
func (c *Consumer) Lag(timeout time.Duration) (map[string]int64, error) {
	parts, err := c.c.Assignment()
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: assignment: %w", c.cfg.Group, err)
	}
	lag := map[string]int64{}
	for _, t := range c.cfg.Topics {
		lag[t] = 0
	}
	if len(parts) == 0 {
		return lag, nil
	}
	ms := int(timeout / time.Millisecond)
	committed, err := c.c.Committed(parts, ms)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: committed offsets: %w", c.cfg.Group, err)
	}
	for _, tp := range committed {
		low, high, err := c.c.QueryWatermarkOffsets(*tp.Topic, tp.Partition, ms)
		if err != nil {
			return nil, fmt.Errorf("kafka consumer %s: watermarks of %s[%d]: %w", c.cfg.Group, *tp.Topic, tp.Partition, err)
		}
		from := int64(tp.Offset)
		if from < 0 {
			from = low
		}
		if high > from {
			lag[*tp.Topic] += high - from
		}
	}
	return lag, nil
}
