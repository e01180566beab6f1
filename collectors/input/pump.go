package input

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults for the zero values of PumpConfig.
const (
	DefaultBatchSize     = 512
	DefaultFlushInterval = 200 * time.Millisecond
)

// PumpConfig bounds a Pump.
type PumpConfig struct {
	// BatchSize is the most records per handler call (default 512).
	BatchSize int
	// FlushInterval is the longest a partial batch waits for more records
	// (default 200ms).
	FlushInterval time.Duration
	// QueueSize is how many records may wait between the reader and the
	// handler (default 4 × BatchSize): the input's memory bound.
	QueueSize int
}

func (c PumpConfig) withDefaults() PumpConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 4 * c.BatchSize
	}
	return c
}

// Queue is the bounded queue between an input's readers and its handler.
type Queue struct {
	ch chan Record
	c  *Counters
}

// Send queues r, waiting while the queue is full (that wait is counted as
// blocked time): the reader stops reading, which pushes back on the sender.
func (q *Queue) Send(ctx context.Context, r Record) error {
	select {
	case q.ch <- r:
		return nil
	default:
	}
	start := time.Now()
	select {
	case q.ch <- r:
		q.c.Waited(time.Since(start))
		return nil
	case <-ctx.Done():
		q.c.Waited(time.Since(start))
		return ctx.Err()
	}
}

// TrySend queues r if there is room; otherwise it counts r as dropped and
// returns false. Only for senders that cannot be pushed back (UDP).
func (q *Queue) TrySend(r Record) bool {
	select {
	case q.ch <- r:
		return true
	default:
		q.c.Dropped(1)
		return false
	}
}

// Pump runs produce in its own goroutine and hands what it queues to
// handle in batches, one call at a time. After handle returned nil for a
// batch, the batch is counted in c and passed to delivered (to advance a
// cursor), if not nil. Pump returns when ctx is done (ctx.Err()), when
// handle or delivered fail (their error; produce is cancelled), or when
// produce returns: then what it queued is delivered first and produce's
// error (nil at end of input) is returned.
func Pump(ctx context.Context, cfg PumpConfig, c *Counters,
	produce func(ctx context.Context, q *Queue) error,
	handle Handler, delivered func(ctx context.Context, batch []Record) error) error {
	cfg = cfg.withDefaults()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := &Queue{ch: make(chan Record, cfg.QueueSize), c: c}
	done := make(chan error, 1)
	go func() { done <- produce(pctx, q) }()

	var batch []Record
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := batch
		batch = make([]Record, 0, cfg.BatchSize)
		if err := handle(ctx, b); err != nil {
			return fmt.Errorf("batch of %d records: %w", len(b), err)
		}
		c.Delivered(len(b), BatchBytes(b))
		if delivered != nil {
			return delivered(ctx, b)
		}
		return nil
	}
	fail := func(err error) error {
		cancel()
		<-done
		return err
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case r := <-q.ch:
			if len(batch) == 0 {
				timer.Reset(cfg.FlushInterval)
			}
			batch = append(batch, r)
			if len(batch) >= cfg.BatchSize {
				timer.Stop()
				if err := flush(); err != nil {
					return fail(err)
				}
			}
		case <-timer.C:
			if err := flush(); err != nil {
				return fail(err)
			}
		case perr := <-done:
			for drained := false; !drained; {
				select {
				case r := <-q.ch:
					batch = append(batch, r)
					if len(batch) >= cfg.BatchSize {
						if err := flush(); err != nil {
							return err
						}
					}
				default:
					drained = true
				}
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := flush(); err != nil {
				return err
			}
			if errors.Is(perr, context.Canceled) && ctx.Err() != nil {
				return ctx.Err()
			}
			return perr
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}
}
