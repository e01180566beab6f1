package input

import (
	"context"
	"errors"
	"sync"
)

// Ack is the outcome of a batch handed to an AsyncHandler: it is finished
// once, with nil when the batch is acknowledged (stored by Kafka) or with
// the error that kept it from being stored.
type Ack struct {
	once sync.Once
	done chan struct{}
	err  error

	mu   sync.Mutex                      // serializes calls of wait
	wait func(ctx context.Context) error // nil unless Deferred
}

// NewAck returns an unfinished Ack.
func NewAck() *Ack { return &Ack{done: make(chan struct{})} }

// Acked returns an Ack already finished with err.
func Acked(err error) *Ack {
	a := NewAck()
	a.Finish(err)
	return a
}

// Deferred returns an Ack whose outcome wait learns (e.g. by waiting for
// Kafka's delivery reports): Wait runs it on the waiting goroutine, so no
// goroutine is spent per batch. A wait interrupted by the end of its ctx
// leaves the Ack unfinished, and a later Wait runs it again.
func Deferred(wait func(ctx context.Context) error) *Ack {
	a := NewAck()
	a.wait = wait
	return a
}

// Finish records the batch's outcome; only the first call counts.
func (a *Ack) Finish(err error) {
	a.once.Do(func() {
		a.err = err
		close(a.done)
	})
}

// Done is closed when the outcome is known.
func (a *Ack) Done() <-chan struct{} { return a.done }

// Wait returns the outcome, waiting for it until ctx is done. An outcome
// already known is returned even when ctx is done, so a shutting-down
// input still records what was acknowledged.
func (a *Ack) Wait(ctx context.Context) error {
	select {
	case <-a.done:
		return a.err
	default:
	}
	if a.wait != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		select {
		case <-a.done: // finished while this call waited for the lock
			return a.err
		default:
		}
		err := a.wait(ctx)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return err // interrupted, not an outcome
		}
		a.Finish(err)
		return err
	}
	select {
	case <-a.done:
		return a.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AsyncHandler takes a batch of records and returns before the batch is
// acknowledged, so an input can read the next batches while earlier ones
// are on their way. The batch counts as delivered (offsets may advance)
// only once its Ack finished with nil, and an input advances strictly in
// order: never past a batch whose Ack is unfinished or failed, whatever
// later batches did. An input never calls its AsyncHandler concurrently,
// so the handler may do order-dependent work (parsing) before returning.
type AsyncHandler func(ctx context.Context, batch []Record) *Ack
