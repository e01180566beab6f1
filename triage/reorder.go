package triage

import (
	"cmp"
	"container/heap"
	"iter"
	"time"

	"github.com/vigil-siem/vigil/rules"
)

// ReorderConfig bounds the Reorder buffer. Zero values take the defaults.
type ReorderConfig struct {
	// Delay is how long, in wall-clock time, an alert is held before it
	// goes to the Grouper (0: DefaultReorderDelay; negative: none, every
	// alert is released at once): alerts that arrive within Delay of each
	// other are grouped in (event time, alert id) order whatever order
	// they arrived in. It is added to every verdict's latency.
	Delay time.Duration
	// MaxHeld bounds memory (default 10000): past it, the first alerts in
	// order are released before their Delay is up.
	MaxHeld int
}

// Reorder defaults.
const (
	DefaultReorderDelay = 2 * time.Second
	DefaultMaxHeld      = 10000
)

// Held is one alert released by a Reorder, with the value pushed with it
// (for the triage stage, its Kafka record).
type Held[T any] struct {
	Alert rules.Alert
	Value T
}

// Reorder holds alerts for a short wall-clock delay and releases them in
// (event time, alert id) order, so that the Grouper, which opens an
// incident with the first alert of its entity it sees and names the
// incident after that alert, builds the same incidents with the same ids
// from the same alerts whatever order they arrived in. The triage stage
// reads alerts from several detect tasks (local and re-keyed rules) whose
// interleaving on vigil.alerts varies from run to run; it usually spans
// well under a second.
//
// An alert is released once it has been held for Delay, together with
// every held alert that sorts before it (they must go first), so none
// waits longer than Delay. Two alerts that arrived within Delay of each
// other are released in order; an alert that arrives after a later one
// was released (its detect task more than Delay behind) is released in
// arrival order, as without the buffer. The event time is the alert's
// end (vigil.alert.last_seen, else @timestamp): what detection emits in
// order within one task.
//
// A Reorder is not safe for concurrent use: the triage stage keeps one
// per vigil.alerts partition, on its consumer goroutine.
type Reorder[T any] struct {
	cfg  ReorderConfig
	seq  uint64
	held heldHeap[T]     // by (event time, alert id, arrival)
	fifo []*heldAlert[T] // by arrival; released ones are skipped
	// head is the index in fifo of the first alert not yet due.
	head int
}

type heldAlert[T any] struct {
	at       time.Time // event time (end)
	id       string
	seq      uint64
	arrived  time.Time
	released bool
	Held[T]
}

// NewReorder returns a Reorder with cfg's zero values set to the defaults.
func NewReorder[T any](cfg ReorderConfig) *Reorder[T] {
	switch {
	case cfg.Delay == 0:
		cfg.Delay = DefaultReorderDelay
	case cfg.Delay < 0:
		cfg.Delay = 0
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	return &Reorder[T]{cfg: cfg}
}

// Push holds the alert a, which arrived at now with v, and returns the
// alerts due at now (Release), in the order to group them.
func (r *Reorder[T]) Push(a rules.Alert, v T, now time.Time) []Held[T] {
	_, last := alertSpan(a)
	r.seq++
	h := &heldAlert[T]{at: last, id: a.Vigil.Alert.ID, seq: r.seq, arrived: now, Held: Held[T]{Alert: a, Value: v}}
	heap.Push(&r.held, h)
	r.fifo = append(r.fifo, h)
	return r.Release(now)
}

// Release returns, in the order to group them, the alerts held for Delay
// at now and those that sort before them, and the first ones in order
// past MaxHeld.
func (r *Reorder[T]) Release(now time.Time) []Held[T] {
	// The greatest sort key among the alerts that are due.
	var upto *heldAlert[T]
	for ; r.head < len(r.fifo); r.head++ {
		h := r.fifo[r.head]
		if h.released {
			continue
		}
		if now.Sub(h.arrived) < r.cfg.Delay {
			break
		}
		if upto == nil || !h.less(upto) {
			upto = h
		}
	}
	var out []Held[T]
	for len(r.held) > 0 && (upto != nil && !upto.less(r.held[0]) || len(r.held) > r.cfg.MaxHeld) {
		h := heap.Pop(&r.held).(*heldAlert[T])
		h.released = true
		out = append(out, h.Held)
	}
	r.compact()
	return out
}

// Drain releases everything held, in order.
func (r *Reorder[T]) Drain() []Held[T] {
	out := make([]Held[T], 0, len(r.held))
	for len(r.held) > 0 {
		h := heap.Pop(&r.held).(*heldAlert[T])
		h.released = true
		out = append(out, h.Held)
	}
	r.fifo, r.head = r.fifo[:0], 0
	return out
}

// Len returns how many alerts are held.
func (r *Reorder[T]) Len() int { return len(r.held) }

// Values yields the values of the held alerts, in no particular order
// (the triage stage keeps its commit below their records).
func (r *Reorder[T]) Values() iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, h := range r.held {
			if !yield(h.Value) {
				return
			}
		}
	}
}

// compact drops the released alerts from the front of fifo, and rebuilds
// it when more than half of it is released alerts.
func (r *Reorder[T]) compact() {
	for r.head > 0 && len(r.fifo) > 0 && r.fifo[0].released {
		r.fifo[0] = nil
		r.fifo = r.fifo[1:]
		r.head--
	}
	if len(r.fifo) > 64 && len(r.fifo) > 2*len(r.held) {
		kept := make([]*heldAlert[T], 0, len(r.held)+16)
		head := 0
		for i, h := range r.fifo {
			if h.released {
				continue
			}
			if i < r.head {
				head++
			}
			kept = append(kept, h)
		}
		r.fifo, r.head = kept, head
	}
}

// less orders alerts by event time, then alert id, then arrival.
func (h *heldAlert[T]) less(o *heldAlert[T]) bool {
	if c := h.at.Compare(o.at); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(h.id, o.id); c != 0 {
		return c < 0
	}
	return h.seq < o.seq
}

// heldHeap is a min-heap of held alerts by less.
type heldHeap[T any] []*heldAlert[T]

func (q heldHeap[T]) Len() int           { return len(q) }
func (q heldHeap[T]) Less(i, j int) bool { return q[i].less(q[j]) }
func (q heldHeap[T]) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *heldHeap[T]) Push(x any)        { *q = append(*q, x.(*heldAlert[T])) }
func (q *heldHeap[T]) Pop() any {
	old := *q
	h := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return h
}
