package pipeline

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// The event-time merge of a re-key partition. A re-key partition takes
// the copies of every vigil.events partition (its sources), each source in
// its own order, but interleaved however the members producing them
// progressed: after a restart, one source may be replayed far ahead of
// another. An engine's watermark is the newest event time it saw minus
// detect.allowed_lateness; fed the copies as they come, a source running
// ahead moves it past events another source has yet to deliver, which
// then arrive late: a window closes before them, a suppression window is
// opened a second time (the chaos test's duplicate alert, issue #8).
//
// So, with an allowed lateness, a copy first waits in its task's merge
// until every active source has delivered up to its event time: the
// merge's bound is the minimum, over the sources, of the newest event
// time of each. Copies go to the engines in event-time order (equal times
// in arrival order) once the bound reaches them, so an engine's newest
// event never passes the slowest source and a source's events are late
// only if they were late in that source. A source that has sent nothing
// for detectOptions.idle (processing time, default defaultRekeyIdle) is
// idle and not waited for, as Kafka Streams' max.task.idle.ms: a host
// gone quiet does not stop detection, its later events are evaluated as
// they come. The merge's events and each source's newest time are in the
// partition's checkpoint. Without an allowed lateness, events are
// evaluated in arrival order and nothing waits.

// defaultRekeyIdle is how long a re-key partition waits for a source that
// sends nothing before it stops waiting for it.
const defaultRekeyIdle = 5 * time.Second

// heldEngineID is the engine id of a merge's events in a checkpoint (not
// a re-key group id: those are field names or "*").
const heldEngineID = "#held"

// heldEvent is a copy waiting in a merge for its group's engine.
type heldEvent struct {
	group string
	ev    event.Event
	t     time.Time
	seq   uint64
}

// heldHeap orders held copies by event time, then arrival.
type heldHeap []heldEvent

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(heldEvent)) }
func (h *heldHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = heldEvent{}
	*h = old[:len(old)-1]
	return e
}

// rekeyMerge is the merge of one re-key partition (all its groups).
type rekeyMerge struct {
	newest map[int32]time.Time // per source partition: its newest event time so far
	seen   map[int32]time.Time // per source partition: when its last copy came (processing time)
	held   heldHeap
	seq    uint64 // copies held so far: the order of equal times
}

func newRekeyMerge() *rekeyMerge {
	return &rekeyMerge{newest: map[int32]time.Time{}, seen: map[int32]time.Time{}}
}

// add takes a copy for group from source partition src at now. It returns
// false when the copy has no event time: such a copy does not wait (the
// engines evaluate it at once, by match rules only).
func (m *rekeyMerge) add(group string, src int32, ev event.Event, now time.Time) bool {
	m.seen[src] = now
	t, ok := ev.Time()
	if !ok {
		return false
	}
	if t.After(m.newest[src]) {
		m.newest[src] = t
	}
	m.seq++
	heap.Push(&m.held, heldEvent{group: group, ev: ev, t: t, seq: m.seq})
	return true
}

// touch notes that src is alive at now without a new copy (it replays
// copies taken already).
func (m *rekeyMerge) touch(src int32, now time.Time) {
	if _, ok := m.seen[src]; ok {
		m.seen[src] = now
	}
}

// bound is the event time every active source has delivered up to: the
// minimum of their newest times. A source is active when its last copy
// came less than idle ago. ok is false when no source is active: nothing
// is waited for.
func (m *rekeyMerge) bound(now time.Time, idle time.Duration) (time.Time, bool) {
	var b time.Time
	ok := false
	for src, t := range m.newest {
		if now.Sub(m.seen[src]) >= idle {
			continue
		}
		if !ok || t.Before(b) {
			b, ok = t, true
		}
	}
	return b, ok
}

// release returns, oldest first, the held copies the bound has reached
// (every one when all is set).
func (m *rekeyMerge) release(now time.Time, idle time.Duration, all bool) []heldEvent {
	if len(m.held) == 0 {
		return nil
	}
	b, ok := m.bound(now, idle)
	var out []heldEvent
	for len(m.held) > 0 && (all || !ok || !m.held[0].t.After(b)) {
		out = append(out, heap.Pop(&m.held).(heldEvent))
	}
	return out
}

// restoreSources takes the sources' newest times of a checkpoint; each
// counts as heard from at now (it has idle to show up again).
func (m *rekeyMerge) restoreSources(newest map[int32]time.Time, now time.Time) {
	for src, t := range newest {
		m.newest[src] = t
		m.seen[src] = now
	}
}

// sources returns the sources' newest times for a checkpoint.
func (m *rekeyMerge) sources() map[int32]time.Time {
	if len(m.newest) == 0 {
		return nil
	}
	out := make(map[int32]time.Time, len(m.newest))
	for src, t := range m.newest {
		out[src] = t
	}
	return out
}

// heldVersion is the encoding version of a merge's checkpoint record.
const heldVersion = 1

// heldRecord is a merge's held copies in a checkpoint.
type heldRecord struct {
	Version int        `json:"version"`
	Seq     uint64     `json:"seq"`
	Events  []heldJSON `json:"events"`
}

type heldJSON struct {
	Group string      `json:"group"`
	Seq   uint64      `json:"seq"`
	Event event.Event `json:"event"`
}

// checkpoint returns the held copies as state records (none when nothing
// waits).
func (m *rekeyMerge) checkpoint() ([]rules.StateRecord, error) {
	if len(m.held) == 0 {
		return nil, nil
	}
	r := heldRecord{Version: heldVersion, Seq: m.seq, Events: make([]heldJSON, 0, len(m.held))}
	for _, h := range m.held {
		r.Events = append(r.Events, heldJSON{Group: h.group, Seq: h.seq, Event: h.ev})
	}
	v, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("checkpoint re-key merge: %w", err)
	}
	return []rules.StateRecord{{Key: "held", Value: v}}, nil
}

// restore loads the held copies of a checkpoint into an empty merge. A
// record that cannot be read is an error; a held event without a time
// cannot have been written and is skipped.
func (m *rekeyMerge) restore(recs []rules.StateRecord) error {
	for _, rec := range recs {
		var r heldRecord
		if err := json.Unmarshal(rec.Value, &r); err != nil {
			return fmt.Errorf("restore re-key merge %s: %w", rec.Key, err)
		}
		if r.Version != heldVersion {
			return fmt.Errorf("restore re-key merge %s: version %d, this detector reads %d", rec.Key, r.Version, heldVersion)
		}
		m.seq = max(m.seq, r.Seq)
		for _, h := range r.Events {
			t, ok := h.Event.Time()
			if !ok {
				continue
			}
			m.held = append(m.held, heldEvent{group: h.Group, ev: h.Event, t: t, seq: h.Seq})
		}
	}
	heap.Init(&m.held)
	return nil
}
