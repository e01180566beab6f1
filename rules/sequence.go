package rules

import (
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A sequence rule's steps, expanded by their counts, are its stages: a
// step with count 3 is three identical stages (EQL's runs). For each key,
// the engine keeps at most one partial match per stage, waiting for that
// stage; a newer partial match for the same stage replaces the older one,
// so the sequence reported is always the most recent one. A partial match
// expires when an event arrives more than maxspan after its first event.
// When the last stage matches, the sequence fires and every partial match
// of that key is discarded, so a key fires again only after a whole new
// sequence.

// sweepEvery is how many events a rule sees between sweeps of idle keys.
const sweepEvery = 4096

type sequenceState struct {
	keys      map[string]*sequenceKey
	watermark time.Time // the newest event time seen by the rule
	seen      int
}

type sequenceKey struct {
	pending []*partial // pending[s]: matched stages 0..s-1, waiting for stage s
	last    time.Time
}

// partial is a chain of matched events, newest first.
type partial struct {
	ev    event.Event
	t     time.Time
	first time.Time
	prev  *partial
	len   int
}

func newSequenceState() *sequenceState {
	return &sequenceState{keys: map[string]*sequenceKey{}}
}

// events returns the matched events oldest first, one entry per distinct
// event (a folded "message repeated N times" event stands for N matches),
// and the number of matches.
func (p *partial) events() ([]event.Event, int) {
	var out []event.Event
	for q := p; q != nil; q = q.prev {
		if len(out) > 0 && out[len(out)-1].ID() == q.ev.ID() && q.ev.ID() != "" {
			continue
		}
		out = append(out, q.ev)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, p.len
}

// repeatCount is how many occurrences an event stands for (at most 1000).
func repeatCount(ev event.Event) int {
	switch n := ev.Get(event.FieldRepeat).(type) {
	case int64:
		return int(min(max(n, 1), 1000))
	case float64:
		return int(min(max(n, 1), 1000))
	}
	return 1
}

func (e *Engine) processSequence(c *Compiled, ev event.Event, t time.Time) *partial {
	// Evaluate each step once; most events match none and stop here.
	var matched []bool
	any := false
	for i, cond := range c.steps {
		if e.eval(cond, ev) {
			if matched == nil {
				matched = make([]bool, len(c.steps))
			}
			matched[i], any = true, true
		}
	}
	if !any {
		return nil
	}
	key, ok := groupKey(c.Rule.By, ev)
	if !ok {
		return nil
	}
	st := e.seq[c]
	if t.After(st.watermark) {
		st.watermark = t
	}
	st.seen++
	if st.seen%sweepEvery == 0 {
		st.sweep(time.Duration(c.Rule.MaxSpan))
	}
	k := st.keys[key]
	if k == nil {
		k = &sequenceKey{pending: make([]*partial, len(c.stages))}
		st.keys[key] = k
	}
	k.last = t
	for range repeatCount(ev) {
		if fired := k.advance(c, matched, ev, t); fired != nil {
			delete(st.keys, key)
			return fired
		}
	}
	return nil
}

// advance feeds one occurrence of an event through the stages of one key,
// last stage first so that one occurrence moves a partial match by one
// stage only.
func (k *sequenceKey) advance(c *Compiled, matched []bool, ev event.Event, t time.Time) *partial {
	maxspan := time.Duration(c.Rule.MaxSpan)
	n := len(c.stages)
	for s := n - 1; s >= 1; s-- {
		p := k.pending[s]
		if p == nil || !matched[c.stages[s]] {
			continue
		}
		if t.Sub(p.first) > maxspan {
			k.pending[s] = nil // expired
			continue
		}
		if t.Before(p.t) {
			continue // steps are ordered in event time
		}
		next := &partial{ev: ev, t: t, first: p.first, prev: p, len: p.len + 1}
		k.pending[s] = nil
		if s == n-1 {
			return next
		}
		k.pending[s+1] = next
	}
	if matched[c.stages[0]] {
		p := &partial{ev: ev, t: t, first: t, len: 1}
		if n == 1 {
			return p
		}
		k.pending[1] = p
	}
	return nil
}

// sweep forgets keys whose every partial match has expired.
func (st *sequenceState) sweep(maxspan time.Duration) {
	for key, k := range st.keys {
		if st.watermark.Sub(k.last) > maxspan {
			delete(st.keys, key)
		}
	}
}
