package collectors

import (
	"context"

	"github.com/vigil-siem/vigil/collectors/input"
)

// Record is one raw record read by an input, with where it came from
// (defined in the leaf package collectors/input, so the inputs need not
// import this package).
type Record = input.Record

// Handler takes a batch of records; see input.Handler.
type Handler = input.Handler

// AsyncHandler takes a batch of records and returns its Ack at once; see
// input.AsyncHandler.
type AsyncHandler = input.AsyncHandler

// Ack is the outcome of a batch handed to an AsyncHandler.
type Ack = input.Ack

// NewAck returns an unfinished Ack, for an AsyncHandler to finish.
func NewAck() *Ack { return input.NewAck() }

// DeferredAck returns an Ack whose outcome wait learns when the Ack is
// waited for; see input.Deferred.
func DeferredAck(wait func(ctx context.Context) error) *Ack { return input.Deferred(wait) }

// Acked returns an Ack already finished with err.
func Acked(err error) *Ack { return input.Acked(err) }

// InputStats are an input's counters: records, bytes and batches
// delivered, time blocked on the pipeline, records dropped or rejected.
type InputStats = input.Stats

// Input reads records and hands them to handle in batches; a batch counts
// as delivered (offsets and cursors may advance, HTTP may answer 200) only
// when handle returned nil. handle is never called concurrently by one
// Input. Run returns when ctx is done (ctx.Err()), when handle fails (its
// error), or at the end of input for inputs that end (file without follow,
// stdin, journald without follow; then nil).
type Input interface {
	Run(ctx context.Context, handle Handler) error
	// Stats may be called at any time, from any goroutine.
	Stats() InputStats
}

// AsyncInput is an Input that can keep several batches in flight: it reads
// on while earlier batches wait for their Ack, and advances its offsets
// strictly in order, only past batches acknowledged together with every
// batch before them. The file input is one.
type AsyncInput interface {
	Input
	RunAsync(ctx context.Context, handle AsyncHandler) error
}
