package rules

import (
	"reflect"
	"slices"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A sequence that starts with a step of count N ≥ 2 (ten failed logins,
// then a success) keeps, per key, N partial matches of its first N stages
// in sequence.go's representation, and an event of that step extends each
// of them: N allocations per event. In event-time order that state is a
// function of the step's last events alone, so a key keeps those instead
// (a run), and builds a partial match only when one is taken further.
//
// Why: an event of the run's step at t, in order (no earlier than the
// newest), moves every partial match waiting at a run stage s < N up to
// s+1 if it is live, and drops it if it expired; stage 0 starts a new one.
// So after it, the match waiting at stage s (1 ≤ s < N) is the last s
// events, if their span is at most maxspan (each extension checked the
// span to the event extending it, the last check the strictest); else
// there is none. The match waiting at stage N (the next step) is the last
// N events likewise, but when their span is too long it is the one
// waiting there before (an older one, which no later event can reach in
// time, but an earlier one out of order can): the run keeps it apart
// (tail). A match taken from stage N by the next step, or found expired
// there, is gone until the run's step forms a new one (taken).
//
// An event of the run's step older than the newest would find matches
// that sequence.go keeps and a run does not tell apart: the key is turned
// into sequence.go's representation (general) first. Once the run's step
// has replaced every match at the run's stages by chains of its last
// events again, the key goes back to run form (toRun). Keys restored from
// a checkpoint start general. TestRunsMatchTheGeneralForm compares the
// two forms on random streams, checkpoints included.

// runEntry is one event of a run.
type runEntry struct {
	ev event.Event
	t  time.Time
}

// runLength is the number of leading stages kept as a run: the first
// step's count when it is at least 2, the step is not missing and neither
// is the stage after the run; 0 otherwise.
func runLength(c *Compiled) int {
	if len(c.stages) == 0 || c.Rule.Steps[c.stages[0]].Missing {
		return 0
	}
	n := 0
	for n < len(c.stages) && c.stages[n] == c.stages[0] {
		n++
	}
	if n < 2 || n < len(c.stages) && c.Rule.Steps[c.stages[n]].Missing {
		return 0
	}
	return n
}

// runCap is how many events a run keeps: the last N (for the match waiting
// at stage N), or N-1 when the run is the whole sequence.
func runCap(c *Compiled) int {
	if c.run == len(c.stages) {
		return c.run - 1
	}
	return c.run
}

// span reports whether the last s events of k's run are at most maxspan
// apart (so that they form a partial match); false with fewer than s.
func (k *sequenceKey) span(s int, maxspan time.Duration) bool {
	n := len(k.run)
	return s >= 1 && n >= s && k.run[n-1].t.Sub(k.run[n-s].t) <= maxspan
}

// window builds the partial match of the last s events of k's run.
func (k *sequenceKey) window(s int) *partial { return chain(k.run[len(k.run)-s:]) }

// chain builds the partial match of events, oldest first (nil for none).
func chain(events []runEntry) *partial {
	var p *partial
	for i, en := range events {
		if p == nil {
			p = &partial{ev: en.ev, t: en.t, first: en.t, len: 1}
			continue
		}
		p = &partial{ev: en.ev, t: en.t, first: p.first, prev: p, len: p.len + 1, stage: int32(i)}
	}
	return p
}

// waitingAfterRun is the events of what waits at stage N (the step after
// the run) of a key in run form, oldest first, and whether they are the
// run's last N events.
func (k *sequenceKey) waitingAfterRun(c *Compiled) (events []runEntry, window bool) {
	maxspan := time.Duration(c.Rule.MaxSpan)
	if k.span(c.run, maxspan) {
		if k.taken {
			return nil, true
		}
		return k.run[len(k.run)-c.run:], true
	}
	return k.tail, false
}

// pendingOf returns what waits at each stage of k (sequence.go's
// pending), built from the run when k is in run form.
func (k *sequenceKey) pendingOf(c *Compiled) []*partial {
	if k.run == nil {
		return k.pending
	}
	out := append([]*partial(nil), k.pending...)
	maxspan := time.Duration(c.Rule.MaxSpan)
	last := min(c.run, len(c.stages)-1) // the run's stages wait at 1..N-1, the next step at N
	for s := 1; s <= last; s++ {
		switch {
		case s == c.run:
			events, _ := k.waitingAfterRun(c)
			out[s] = chain(events)
		case k.span(s, maxspan):
			out[s] = k.window(s)
		}
	}
	return out
}

// toGeneral turns k from run form into sequence.go's.
func (k *sequenceKey) toGeneral(c *Compiled) {
	k.pending = k.pendingOf(c)
	k.run, k.tail, k.taken = nil, nil, false
}

// toRun turns k, general, back into run form when its matches at the
// run's stages are what the run would hold: each the chain of the last
// events of the longest, present exactly when their span allows. It
// leaves k general otherwise.
func (k *sequenceKey) toRun(c *Compiled, scratch *[]runEntry) {
	maxspan := time.Duration(c.Rule.MaxSpan)
	last := min(c.run, len(c.stages)-1)
	// The run's events: the longest chain that ends with the newest, the
	// one waiting at stage 1 (a run's, when there is one).
	var longest *partial
	if newest := k.pending[1]; newest != nil {
		for s := 1; s <= last; s++ {
			if p := k.pending[s]; p != nil && p.t.Equal(newest.t) && sameEventRef(p.ev, newest.ev) && p.len > longest.lenOr0() {
				longest = p
			}
		}
	}
	if int(longest.lenOr0()) > runCap(c) {
		return
	}
	run, ok := appendChain((*scratch)[:0], longest)
	*scratch = run
	if !ok {
		return
	}
	r := &sequenceKey{run: run}
	for s := 1; s < c.run && s <= last; s++ {
		if !sameChain(k.pending[s], r, s, r.span(s, maxspan)) {
			return
		}
	}
	if c.run < len(c.stages) {
		if r.span(c.run, maxspan) {
			if !sameChain(k.pending[c.run], r, c.run, true) {
				return // taken, or not the run's: a run holds neither
			}
		} else if p := k.pending[c.run]; p != nil {
			if r.tail, ok = appendChain(nil, p); !ok {
				return
			}
		}
	}
	k.run = append(make([]runEntry, 0, runCap(c)), run...)
	k.tail, k.taken = r.tail, false
	clear(k.pending[1 : last+1])
}

// appendChain appends p's events to events, oldest first, and reports
// whether p is the chain chain would build of them (its length and first
// time those of its links, its oldest link the start).
func appendChain(events []runEntry, p *partial) ([]runEntry, bool) {
	from := len(events)
	for q := p; q != nil; q = q.prev {
		events = append(events, runEntry{ev: q.ev, t: q.t})
	}
	added := events[from:]
	slices.Reverse(added)
	return events, p == nil || int(p.len) == len(added) && p.first.Equal(added[0].t)
}

// lenOr0 is p's length, 0 for nil.
func (p *partial) lenOr0() int32 {
	if p == nil {
		return 0
	}
	return p.len
}

// sameChain says whether p is the partial match of the last s events of
// r's run (want) or nil (not want).
func sameChain(p *partial, r *sequenceKey, s int, want bool) bool {
	if !want || p == nil {
		return !want && p == nil
	}
	if int(p.len) != s || !p.first.Equal(r.run[len(r.run)-s].t) {
		return false
	}
	q := p
	for i := len(r.run) - 1; i >= len(r.run)-s; i-- {
		if q == nil || !q.t.Equal(r.run[i].t) || !sameEventRef(q.ev, r.run[i].ev) {
			return false
		}
		q = q.prev
	}
	return q == nil
}

// sameEventRef says whether a and b are one event value (the same map).
func sameEventRef(a, b event.Event) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// extendRun feeds an event of the run's step, no earlier than the newest,
// to a key in run form: the stages below N at once. It returns the match
// it completes when the run is the whole sequence.
func (e *Engine) extendRun(c *Compiled, st *sequenceState, key string, k *sequenceKey, se *seqEvent) *partial {
	maxspan := time.Duration(c.Rule.MaxSpan)
	n := len(c.stages)
	// The match waiting at the last run stage (the last N-1 events) is
	// live: this event takes it on.
	live := len(k.run) >= c.run-1 && se.t.Sub(k.run[len(k.run)-(c.run-1)].t) <= maxspan
	if c.run == n {
		if live {
			p := k.window(c.run-1).then(se, n-1)
			st.keys.remove(key)
			return p
		}
	} else {
		if !live && !k.taken && k.span(c.run, maxspan) {
			// The last window stays waiting at N.
			k.tail = append([]runEntry(nil), k.run[len(k.run)-c.run:]...)
		}
		if live {
			k.tail = nil // replaced by the window this event forms
		}
		k.taken = false
	}
	if len(k.run) == runCap(c) {
		copy(k.run, k.run[1:])
		k.run = k.run[:len(k.run)-1]
	}
	k.run = append(k.run, runEntry{ev: se.ev, t: se.t})
	return nil
}

// afterRun feeds an event of the step after the run (stage N) to a key in
// run form, as advance does with what waits there.
func (e *Engine) afterRun(c *Compiled, st *sequenceState, key string, k *sequenceKey, se *seqEvent) *partial {
	maxspan := time.Duration(c.Rule.MaxSpan)
	s := c.run
	events, window := k.waitingAfterRun(c)
	if len(events) == 0 {
		return nil
	}
	take := func() {
		if window {
			k.taken = true
		} else {
			k.tail = nil
		}
	}
	if se.t.Sub(events[0].t) > maxspan {
		take() // expired
		return nil
	}
	if se.t.Before(events[len(events)-1].t) {
		return nil // steps are ordered in event time
	}
	next := chain(events).then(se, s)
	take()
	if s == len(c.stages)-1 {
		st.keys.remove(key)
		return next
	}
	e.place(c, st, key, k, s+1, next)
	return nil
}
