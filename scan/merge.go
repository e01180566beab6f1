package scan

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
)

// Chunk sizes of the merge: each input hands the merge its events this
// many at a time, at most maxChunk and at least minChunk, about
// mergeBudget events in chunks over all inputs.
const (
	maxChunk    = 256
	minChunk    = 16
	mergeBudget = 8192
)

// timed is an event with its time, parsed once by the input's reader.
type timed struct {
	ev event.Event
	t  time.Time
	ok bool // the event has a time
}

// before orders heads: events without a time first (they pass through at
// once), then by time, then by input.
func (a *timed) before(b *timed) bool {
	if a.ok != b.ok {
		return !a.ok
	}
	return a.ok && a.t.Before(b.t)
}

// mergeInput is one input of the merge: its current chunk and where in it
// the merge is.
type mergeInput struct {
	index  int
	chunks <-chan []timed
	chunk  []timed
	pos    int
}

func (m *mergeInput) head() *timed { return &m.chunk[m.pos] }

// heads orders the inputs that have an event by their next event, then by
// input position, so that the merge does not depend on goroutine timing.
type heads []*mergeInput

func (h heads) Len() int { return len(h) }
func (h heads) Less(i, j int) bool {
	a, b := h[i].head(), h[j].head()
	if a.before(b) {
		return true
	}
	if b.before(a) {
		return false
	}
	return h[i].index < h[j].index
}
func (h heads) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heads) Push(x any)   { *h = append(*h, x.(*mergeInput)) }
func (h *heads) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// readMerged reads the inputs concurrently, each on its own goroutine
// with its own parser, and hands their events to emit as one stream in
// event-time order: always the input whose next event is oldest (equal
// times: the input given first), an event without a time as soon as it is
// next in its input. Each input keeps its own order, so a file that is
// itself out of order reaches the engines as it is. Each input holds at
// most a few chunks of events. stats gets each input's ReadStats, in the
// order of inputs, once every reader has finished. It returns emit's
// first error or the first read error, with the input's name.
func readMerged(ctx context.Context, inputs []Input, stats []InputSummary, emit func(event.Event) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	size := max(minChunk, min(maxChunk, mergeBudget/len(inputs)))
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	h := make(heads, 0, len(inputs))
	all := make([]*mergeInput, len(inputs))
	for i, in := range inputs {
		chunks := make(chan []timed, 1)
		all[i] = &mergeInput{index: i, chunks: chunks}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(chunks)
			chunk := make([]timed, 0, size)
			send := func() error {
				select {
				case chunks <- chunk:
				case <-ctx.Done():
					return ctx.Err()
				}
				chunk = make([]timed, 0, size)
				return nil
			}
			st, err := collectors.Read(in.Name, in.Reader, in.Parser, func(e event.Event) error {
				t, ok := e.Time()
				chunk = append(chunk, timed{ev: e, t: t, ok: ok})
				if len(chunk) == size {
					return send()
				}
				return nil
			})
			if err == nil && len(chunk) > 0 {
				err = send()
			}
			stats[i] = InputSummary{Name: in.Name, ReadStats: st}
			if err != nil && ctx.Err() == nil {
				errs[i] = fmt.Errorf("%s: %w", in.Name, err)
				cancel() // a failed input stops the scan
			}
		}()
	}
	// next moves m to its next event, waiting for its next chunk; false
	// when the input has ended.
	next := func(m *mergeInput) bool {
		m.pos++
		for m.pos >= len(m.chunk) {
			c, ok := <-m.chunks
			if !ok {
				return false
			}
			m.chunk, m.pos = c, 0
		}
		return true
	}
	err := func() error {
		for _, m := range all {
			m.pos = -1
			if next(m) {
				h = append(h, m)
			} else if err := ctx.Err(); err != nil {
				return err
			}
		}
		heap.Init(&h)
		for len(h) > 0 {
			m := h[0]
			if err := emit(m.head().ev); err != nil {
				return err
			}
			m.chunk[m.pos].ev = nil // let the collector have it
			if next(m) {
				heap.Fix(&h, 0)
				continue
			}
			if err := ctx.Err(); err != nil {
				return err // an input failed or the scan was stopped
			}
			heap.Pop(&h)
		}
		return nil
	}()
	if err != nil {
		cancel()
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e // the read error that stopped the merge
		}
	}
	return err
}
