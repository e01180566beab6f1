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
	// OnAssign, when set, is called when the group assigns partitions to
	// this member, before any of their records is polled. It returns where
	// to start each partition (an offset, or OffsetBeginning; a partition
	// it leaves out starts at the group's committed offset); an error
	// stops Run with that error.
	OnAssign func(parts []TopicPartition) (map[TopicPartition]int64, error)
	// OnRevoke, when set, is called when partitions are taken from this
	// member, while it still owns them (lost is true when the group
	// already gave them to another member: nothing should be written on
	// their behalf). Records of those partitions polled but not yet handed
	// to the handler are dropped.
	OnRevoke func(parts []TopicPartition, lost bool)
	// Tick, when set, is called by Run after every poll, with or without
	// records (at least every 100ms), on Run's goroutine: periodic work
	// that must not race with the handler. An error stops Run.
	Tick func(ctx context.Context) error
	// CommitFloor, when set, holds a partition's committed offset back:
	// after a batch, the offset committed for a partition is the lower of
	// the batch's next offset and the floor returned (when ok). A stage
	// whose in-memory state spans batches (triage's open incidents) keeps
	// the records that built it uncommitted, so a restart reads them again
	// and rebuilds it. A negative floor (OffsetBeginning) commits nothing
	// for the partition.
	CommitFloor func(tp TopicPartition) (offset int64, ok bool)
	// CommitMetadata, when set, returns the metadata string stored with
	// every commit of a partition (Kafka's offset commit metadata), read
	// back with CommittedMetadata: what a stage needs on restart besides
	// the offset (triage: where to re-read alerts from to rebuild the
	// incidents still open to joining). Keep it short.
	CommitMetadata func(tp TopicPartition) string
	// MaxPending is how many handled batches RunAsync lets wait for their
	// output's acknowledgement while it handles the next (default 1).
	MaxPending int
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String is "topic[partition]".
func (tp TopicPartition) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

// Consumer reads records as a member of a consumer group and commits
// offsets only after they were handled.
type Consumer struct {
	c        *kafka.Consumer
	cfg      ConsumerConfig
	consumed atomic.Int64
	// revoked are partitions taken away during the current poll: their
	// records gathered so far are dropped from the batch.
	revoked map[TopicPartition]bool
	// hookErr is an OnAssign failure, returned by the next poll.
	hookErr error
	// hooksOff silences OnAssign and OnRevoke (Abandon).
	hooksOff bool
	// handled and floored are, per partition, the offset after the last
	// record handled and the offset last committed, with CommitFloor: a
	// partition whose floor rose is committed again between batches.
	handled, floored map[TopicPartition]int64
	// pending are the batches RunAsync handled, oldest first, whose
	// output is not yet known to be acknowledged: uncommitted.
	pending []pendingBatch
}

// Pending is the output of a batch on its way to Kafka, as a RunAsync
// handler returns it (*Delivery is one): Wait returns nil once all of it
// is acknowledged.
type Pending interface {
	Wait(ctx context.Context) error
}

// pendingBatch is a handled batch whose offsets wait for its output.
type pendingBatch struct {
	next    map[TopicPartition]int64 // per partition, the offset after the batch
	records int
	out     Pending
}

// flushTimeout bounds the wait for the last batch's output when RunAsync
// stops or partitions are revoked.
const flushTimeout = 30 * time.Second

// pendingPoll is how long RunAsync's poll waits for a first record while
// a batch's output is in flight: with nothing to read, that batch is
// acknowledged and committed at once rather than after an idle poll.
const pendingPoll = 5 * time.Millisecond

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
	if cc.MaxPending <= 0 {
		cc.MaxPending = 1
	}
	defaults := kafka.ConfigMap{
		"group.id":                 cc.Group,
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"auto.offset.reset":        "earliest",
		"session.timeout.ms":       10000,
		"heartbeat.interval.ms":    1000,
		"fetch.wait.max.ms":        50,
	}
	cm, err := cfg.configMap(defaults)
	if err != nil {
		return nil, err
	}
	c, err := kafka.NewConsumer(cm)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer for %s: %w", cfg.BootstrapServers, err)
	}
	cons := &Consumer{c: c, cfg: cc}
	var rebalance kafka.RebalanceCb
	if cc.OnAssign != nil || cc.OnRevoke != nil {
		rebalance = cons.rebalance
	}
	if err := c.SubscribeTopics(cc.Topics, rebalance); err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe to %v: %w", cc.Topics, err)
	}
	return cons, nil
}

// rebalance runs inside Poll (so on Run's goroutine, between batches):
// it lets the caller place the assigned partitions and save the revoked
// ones before they move.
func (c *Consumer) rebalance(kc *kafka.Consumer, ev kafka.Event) error {
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		parts := e.Partitions
		if c.cfg.OnAssign != nil && !c.hooksOff {
			start, err := c.cfg.OnAssign(fromKafka(parts))
			if err != nil {
				c.hookErr = fmt.Errorf("kafka consumer %s: on assignment: %w", c.cfg.Group, err)
			}
			for i := range parts {
				if off, ok := start[TopicPartition{*parts[i].Topic, parts[i].Partition}]; ok && (off >= 0 || off == OffsetBeginning) {
					parts[i].Offset = kafka.Offset(off)
				}
			}
		}
		if err := kc.Assign(parts); err != nil {
			c.report(fmt.Errorf("kafka consumer %s: assign %d partitions: %w", c.cfg.Group, len(parts), err))
		}
	case kafka.RevokedPartitions:
		tps := fromKafka(e.Partitions)
		// What the handled batches produced must be acknowledged (and
		// their offsets committed) before OnRevoke saves anything that
		// depends on them. If it cannot be, the hook is skipped: the
		// partitions are replayed from what was saved before.
		var flushErr error
		if !c.hooksOff {
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			flushErr = c.Flush(ctx)
			cancel()
		}
		if flushErr != nil && c.hookErr == nil {
			c.hookErr = fmt.Errorf("kafka consumer %s: on revocation: %w", c.cfg.Group, flushErr)
		}
		if c.revoked == nil {
			c.revoked = map[TopicPartition]bool{}
		}
		for _, tp := range tps {
			c.revoked[tp] = true
			delete(c.handled, tp)
			delete(c.floored, tp)
		}
		if c.cfg.OnRevoke != nil && !c.hooksOff && flushErr == nil {
			c.cfg.OnRevoke(tps, kc.AssignmentLost())
		}
		if err := kc.Unassign(); err != nil {
			c.report(fmt.Errorf("kafka consumer %s: unassign: %w", c.cfg.Group, err))
		}
	}
	return nil
}

func fromKafka(parts []kafka.TopicPartition) []TopicPartition {
	out := make([]TopicPartition, 0, len(parts))
	for _, p := range parts {
		if p.Topic != nil {
			out = append(out, TopicPartition{Topic: *p.Topic, Partition: p.Partition})
		}
	}
	return out
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
		if len(batch) > 0 {
			if err := handle(ctx, batch); err != nil {
				return err
			}
			c.commit(batch)
			c.consumed.Add(int64(len(batch)))
		}
		if ctx.Err() != nil {
			return nil
		}
		if c.cfg.Tick != nil {
			if err := c.cfg.Tick(ctx); err != nil {
				return err
			}
		}
		c.commitRisenFloors()
	}
}

// commitRisenFloors commits again the partitions whose CommitFloor rose
// since their last commit (state closed without new records).
func (c *Consumer) commitRisenFloors() {
	if c.cfg.CommitFloor == nil {
		return
	}
	risen := map[TopicPartition]int64{}
	for tp, next := range c.handled {
		off := next
		if floor, ok := c.cfg.CommitFloor(tp); ok && floor < off {
			off = floor
		}
		if off > c.floored[tp] {
			risen[tp] = next
		}
	}
	if len(risen) > 0 {
		c.commitOffsets(risen)
	}
}

// RunAsync is Run for a handler that starts producing a batch's output
// and returns it still in flight (Producer.SendAsync's *Delivery): the
// next batches are polled and handled while Kafka acknowledges earlier
// ones (up to MaxPending of them). Batches are committed in order, each
// only once its output's Wait returned nil; a failed Wait stops RunAsync
// with that error, that batch and the later ones uncommitted. With
// nothing to poll, every pending batch is waited for and committed. Tick
// and OnRevoke hooks that save what depends on handled batches call Flush
// first (OnRevoke is called after an implicit Flush). When ctx is done,
// RunAsync waits (up to 30s, ignoring ctx) for the pending batches'
// output, commits them and returns nil, or the wait's error.
func (c *Consumer) RunAsync(ctx context.Context, handle func(ctx context.Context, batch []Record) (Pending, error)) error {
	for {
		batch, err := c.poll(ctx)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			out, err := handle(ctx, batch)
			if err != nil {
				return err
			}
			// Earlier batches' output was handed to the producer before
			// this one's: wait for the oldest while this one is in flight.
			c.pending = append(c.pending, pendingBatch{next: nextOffsets(batch), records: len(batch), out: out})
			for len(c.pending) > c.cfg.MaxPending {
				if err := c.flushOldest(ctx); err != nil {
					return err
				}
			}
		} else if err := c.Flush(ctx); err != nil { // idle: nothing to overlap with
			return err
		}
		if ctx.Err() != nil {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			defer cancel()
			return c.Flush(fctx)
		}
		if c.cfg.Tick != nil {
			if err := c.cfg.Tick(ctx); err != nil {
				return err
			}
		}
		c.commitRisenFloors()
	}
}

// Flush waits for the output of the batches RunAsync handled and commits
// their offsets; nothing to do when there is none (and under Run). It
// must be called on Run's goroutine (from a hook). On failure the
// batches not acknowledged stay uncommitted and Flush returns the error
// again.
func (c *Consumer) Flush(ctx context.Context) error {
	for len(c.pending) > 0 {
		if err := c.flushOldest(ctx); err != nil {
			return err
		}
	}
	return nil
}

// flushOldest waits for the oldest pending batch's output and commits it.
func (c *Consumer) flushOldest(ctx context.Context) error {
	p := c.pending[0]
	if p.out != nil {
		if err := p.out.Wait(ctx); err != nil {
			return fmt.Errorf("kafka consumer %s: output of a batch of %d records: %w", c.cfg.Group, p.records, err)
		}
	}
	c.pending[0] = pendingBatch{}
	c.pending = c.pending[1:]
	c.commitOffsets(p.next)
	c.consumed.Add(int64(p.records))
	return nil
}

// OffsetBeginning, as a start offset from OnAssign, starts a partition at
// its first stored record.
const OffsetBeginning = int64(kafka.OffsetBeginning)

// Committed returns the group's committed offset (the next record to
// read) of each partition; a partition without one is left out.
func (c *Consumer) Committed(parts []TopicPartition, timeout time.Duration) (map[TopicPartition]int64, error) {
	got, err := c.CommittedMetadata(parts, timeout)
	if err != nil {
		return nil, err
	}
	out := make(map[TopicPartition]int64, len(got))
	for tp, co := range got {
		out[tp] = co.Offset
	}
	return out, nil
}

// CommittedOffset is a committed offset with the metadata stored with it
// (ConsumerConfig.CommitMetadata).
type CommittedOffset struct {
	Offset   int64
	Metadata string
}

// CommittedMetadata returns the group's committed offset of each
// partition with its metadata; a partition without one is left out.
func (c *Consumer) CommittedMetadata(parts []TopicPartition, timeout time.Duration) (map[TopicPartition]CommittedOffset, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	kps := make([]kafka.TopicPartition, 0, len(parts))
	for _, tp := range parts {
		topic := tp.Topic
		kps = append(kps, kafka.TopicPartition{Topic: &topic, Partition: tp.Partition})
	}
	got, err := c.c.Committed(kps, int(timeout/time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: committed offsets: %w", c.cfg.Group, err)
	}
	out := map[TopicPartition]CommittedOffset{}
	for _, kp := range got {
		if kp.Topic != nil && kp.Error == nil && kp.Offset >= 0 {
			co := CommittedOffset{Offset: int64(kp.Offset)}
			if kp.Metadata != nil {
				co.Metadata = *kp.Metadata
			}
			out[TopicPartition{Topic: *kp.Topic, Partition: kp.Partition}] = co
		}
	}
	return out, nil
}

// Abandon turns off OnAssign and OnRevoke, so that closing the consumer
// runs no hook and commits nothing more (a batch RunAsync left pending
// stays uncommitted): a stage that stops as if it had crashed uses it.
func (c *Consumer) Abandon() { c.hooksOff = true }

// poll waits for the first record (until ctx is done, or for one idle
// poll when Tick is set), then gathers more for up to MaxWait.
func (c *Consumer) poll(ctx context.Context) ([]Record, error) {
	var batch []Record
	var deadline time.Time
	for len(batch) < c.cfg.MaxBatch {
		timeout := 100
		if len(c.pending) > 0 {
			timeout = int(pendingPoll / time.Millisecond)
		}
		if len(batch) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			timeout = int(left/time.Millisecond) + 1
		} else if ctx.Err() != nil {
			return nil, nil
		}
		ev := c.c.Poll(timeout)
		if c.hookErr != nil {
			return nil, c.hookErr
		}
		if len(c.revoked) > 0 {
			batch = dropRevoked(batch, c.revoked)
			c.revoked = nil
		}
		switch e := ev.(type) {
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
		if ev == nil && len(batch) == 0 && (c.cfg.Tick != nil || len(c.pending) > 0) {
			return nil, nil // idle: let Run tick, RunAsync flush
		}
	}
	return batch, nil
}

// dropRevoked removes the records of revoked partitions from a batch
// not yet handled: their new owner reads them.
func dropRevoked(batch []Record, revoked map[TopicPartition]bool) []Record {
	kept := batch[:0]
	for _, r := range batch {
		if !revoked[TopicPartition{r.Topic, r.Partition}] {
			kept = append(kept, r)
		}
	}
	return kept
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
func (c *Consumer) commit(batch []Record) { c.commitOffsets(nextOffsets(batch)) }

// nextOffsets returns, per partition, the offset after the batch's last
// record.
func nextOffsets(batch []Record) map[TopicPartition]int64 {
	next := make(map[TopicPartition]int64)
	for _, r := range batch {
		k := TopicPartition{r.Topic, r.Partition}
		if r.Offset+1 > next[k] {
			next[k] = r.Offset + 1
		}
	}
	return next
}

// commitOffsets commits the offsets (lowered to CommitFloor's).
func (c *Consumer) commitOffsets(next map[TopicPartition]int64) {
	offsets := make([]kafka.TopicPartition, 0, len(next))
	for k, off := range next {
		if c.cfg.CommitFloor != nil {
			if floor, ok := c.cfg.CommitFloor(k); ok && floor < off {
				off = floor
			}
			if c.handled == nil {
				c.handled, c.floored = map[TopicPartition]int64{}, map[TopicPartition]int64{}
			}
			c.handled[k], c.floored[k] = next[k], off
			if off < 0 {
				continue // held before any record: nothing to commit yet
			}
		}
		topic := k.Topic
		kp := kafka.TopicPartition{Topic: &topic, Partition: k.Partition, Offset: kafka.Offset(off)}
		if c.cfg.CommitMetadata != nil {
			md := c.cfg.CommitMetadata(k)
			kp.Metadata = &md
		}
		offsets = append(offsets, kp)
	}
	if len(offsets) == 0 {
		return // every partition held before its first record: nothing to commit
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
