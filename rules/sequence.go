package rules

import (
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A sequence rule's steps, expanded by their counts, are its stages: a
// step with count 3 is three identical stages (EQL's runs). Each stage
// joins on the rule's by fields plus its step's own by fields (matched by
// position, EQL's [a] by x [b] by y), so the key of a partial match is the
// value it waits for. For each key, the engine keeps at most one partial
// match per stage, waiting for that stage; a newer partial match for the
// same stage replaces the older one, so the sequence reported is always
// the most recent one. Stages are strictly ordered in event time (an event
// older than the previous step does not advance it; equal times advance,
// in arrival order). A partial match expires when an event arrives more
// than maxspan after its first event.
//
// A missing step is an absence: a partial match waiting at it is
// discarded by an event that matches it, and advanced over it by an event
// of the next step. A last missing step fires when the watermark passes
// first + maxspan with no such event.
//
// An event matching the rule's until condition discards every partial
// match of its key and takes no part as a step.
//
// When the last stage matches, the sequence fires and every partial match
// of that key is discarded, so a key fires again only after a whole new
// sequence. Keys are bounded by EngineConfig.MaxKeys (least recently used
// evicted and counted).

// sweepEvery is how many events a rule sees between sweeps of idle keys.
const sweepEvery = 4096

type sequenceState struct {
	keys    *keyCache[*sequenceKey]
	scratch []runEntry // toRun's
	seen    int
	gen     uint64
	sweeps  int // since the last sweep that visited every key
}

type sequenceKey struct {
	pending []*partial // pending[s]: matched stages before s, waiting for stage s
	last    time.Time
	// run, when not nil, holds the last events of the rule's leading run
	// in place of pending[1..N] (seqrun.go); tail and taken complete
	// what waits at stage N.
	run   []runEntry
	tail  []runEntry
	taken bool
}

// partial is a chain of matched events, newest first.
type partial struct {
	ev    event.Event
	t     time.Time
	first time.Time
	prev  *partial
	len   int32  // int32s: 80 bytes, not 96, for one allocation per step matched
	stage int32  // the stage ev matched
	gen   uint64 // the timer of a partial waiting at a last missing step
}

func newSequenceState(maxKeys int) *sequenceState {
	return &sequenceState{keys: newKeyCache[*sequenceKey](maxKeys)}
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
	return out, int(p.len)
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

// seqEvent is one event on its way through a sequence rule's stages.
type seqEvent struct {
	ev      event.Event
	t       time.Time
	matched []bool   // per step
	keys    []string // per step, its join key
	ok      []bool   // per step, the event has every field of the key
	done    []bool   // per step, keys[step] is computed
	cur     *eventCache
}

// reset makes se the scratch of ev, with n steps none of which matched
// yet, and returns it. The engine keeps one seqEvent and reuses its
// slices for every event of every sequence rule.
func (se *seqEvent) reset(ev event.Event, t time.Time, n int, cur *eventCache) *seqEvent {
	if cap(se.matched) < n {
		se.matched, se.keys = make([]bool, n), make([]string, n)
		se.ok, se.done = make([]bool, n), make([]bool, n)
	}
	se.ev, se.t, se.cur = ev, t, cur
	se.matched, se.keys, se.ok, se.done = se.matched[:n], se.keys[:n], se.ok[:n], se.done[:n]
	clear(se.matched)
	clear(se.keys) // not to keep the last event's strings alive
	clear(se.done)
	return se
}

func (se *seqEvent) key(c *Compiled, step int) (string, bool) {
	if !se.done[step] {
		se.keys[step], se.ok[step] = se.cur.groupKey(c.stepKeys[step], se.ev)
		se.done[step] = true
	}
	return se.keys[step], se.ok[step]
}

// processSequence feeds an event to a sequence rule and returns the
// partial match it completes, if any.
func (e *Engine) processSequence(c *Compiled, ev event.Event, t time.Time) *partial {
	// Evaluate each step once; most events match none and stop here.
	n := len(c.steps)
	se := e.seqScratch.reset(ev, t, n, &e.cur)
	hit := false
	for i, cond := range c.steps {
		if e.eval(cond, ev) {
			se.matched[i] = true
			hit = true
		}
	}
	until := c.until != nil && e.eval(c.until, ev)
	if !hit && !until {
		return nil
	}
	st := e.seq[c]
	st.seen++
	if st.seen%sweepEvery == 0 {
		// Timers ending before t are closed already, so a key idle for
		// longer than maxspan before t has nothing left to fire.
		st.sweep(t, time.Duration(c.Rule.MaxSpan))
	}
	if until {
		if key, ok := groupKey(c.untilKeys, ev); ok {
			st.keys.remove(key)
		}
		return nil
	}
	for range e.cur.repeatCount(ev) {
		if fired := e.advance(c, st, se); fired != nil {
			return fired
		}
	}
	return nil
}

// lookup returns the state of the key a step of the event joins on, nil
// when the event has no such key or the key has no state.
func (st *sequenceState) lookup(c *Compiled, se *seqEvent, step int) (string, *sequenceKey) {
	key, ok := se.key(c, step)
	if !ok {
		return "", nil
	}
	k, _ := st.keys.get(key)
	if k != nil {
		k.last = se.t
	}
	return key, k
}

// advance feeds one occurrence of an event through the stages, last stage
// first so that one occurrence moves a partial match by one stage only.
func (e *Engine) advance(c *Compiled, st *sequenceState, se *seqEvent) *partial {
	maxspan := time.Duration(c.Rule.MaxSpan)
	n := len(c.stages)
	t := se.t
	live := func(p *partial) bool { return p != nil && t.Sub(p.first) <= maxspan && !t.Before(p.t) }
	for s := n - 1; s >= 1; s-- {
		step := c.stages[s]
		if c.Rule.Steps[step].Missing {
			if se.matched[step] {
				if _, k := st.lookup(c, se, step); k != nil && live(k.pending[s]) {
					k.pending[s] = nil // the absence did not hold
				}
			}
			if s+1 < n && se.matched[c.stages[s+1]] {
				key, k := st.lookup(c, se, c.stages[s+1])
				if k != nil && live(k.pending[s]) {
					next := k.pending[s].then(se, s+1)
					k.pending[s] = nil
					if s+1 == n-1 {
						st.keys.remove(key)
						return next
					}
					e.place(c, st, key, k, s+2, next)
				}
			}
			continue
		}
		if !se.matched[step] {
			continue
		}
		key, k := st.lookup(c, se, step)
		if k != nil && k.run != nil && s <= c.run {
			if s == c.run {
				if fired := e.afterRun(c, st, key, k, se); fired != nil {
					return fired
				}
				continue
			}
			if !t.Before(k.run[len(k.run)-1].t) {
				return e.extendRun(c, st, key, k, se) // stages s..0 at once
			}
			k.toGeneral(c) // out of order
		}
		if k == nil || k.pending[s] == nil {
			continue
		}
		p := k.pending[s]
		if t.Sub(p.first) > maxspan {
			k.pending[s] = nil // expired
			continue
		}
		if t.Before(p.t) {
			continue // steps are ordered in event time
		}
		next := p.then(se, s)
		k.pending[s] = nil
		if s == n-1 {
			st.keys.remove(key)
			return next
		}
		e.place(c, st, key, k, s+1, next)
	}
	if !se.matched[c.stages[0]] {
		return nil
	}
	key, ok := se.key(c, c.stages[0])
	if !ok {
		return nil
	}
	p := &partial{ev: se.ev, t: t, first: t, len: 1}
	if n == 1 {
		return p
	}
	k, _ := st.keys.get(key)
	if k == nil {
		k = &sequenceKey{pending: make([]*partial, n)}
		st.keys.add(key, k)
		if c.run > 0 && !e.noRuns {
			k.run = make([]runEntry, 0, runCap(c))
			k.last = t
			return e.extendRun(c, st, key, k, se)
		}
	}
	k.last = t
	e.place(c, st, key, k, 1, p)
	if c.run > 0 && k.run == nil && !e.noRuns {
		k.toRun(c, &st.scratch)
	}
	return nil
}

// then extends a partial match with the event matching stage s.
func (p *partial) then(se *seqEvent, s int) *partial {
	return &partial{ev: se.ev, t: se.t, first: p.first, prev: p, len: p.len + 1, stage: int32(s)}
}

// place stores a partial match waiting for stage s; one waiting at a last
// missing step gets a timer at first + maxspan.
func (e *Engine) place(c *Compiled, st *sequenceState, key string, k *sequenceKey, s int, p *partial) {
	k.pending[s] = p
	if s == len(c.stages)-1 && c.Rule.Steps[c.stages[s]].Missing {
		st.gen++
		p.gen = st.gen
		e.timers.push(timer{at: p.first.Add(time.Duration(c.Rule.MaxSpan)), rule: c, key: key, gen: p.gen, kind: timerSequence})
	}
}

// closeMissing fires the partial match a timer of a last missing step is
// for, if it is still waiting.
func (e *Engine) closeMissing(c *Compiled, key string, gen uint64) *partial {
	st := e.seq[c]
	k, ok := st.keys.peek(key)
	if !ok {
		return nil
	}
	s := len(c.stages) - 1
	p := k.pending[s]
	if p == nil || p.gen != gen {
		return nil
	}
	st.keys.remove(key)
	return p
}

// sweep forgets keys whose every partial match has expired.
// Keys are visited least recently used first, which in a stream in
// event-time order is idlest first, so the visit stops at the first key
// still in use. Events out of order can leave an idle key behind a busier
// one: every keys/sweepEvery sweeps (once per event of each key held, on
// average) every key is visited, so a sweep costs O(1) per event however
// many keys are held.
func (st *sequenceState) sweep(now time.Time, maxspan time.Duration) {
	for {
		key, k, ok := st.keys.lru.GetOldest()
		if !ok || now.Sub(k.last) <= maxspan {
			break
		}
		st.keys.remove(key)
	}
	st.sweeps++
	if st.sweeps*sweepEvery < st.keys.len() {
		return
	}
	st.sweeps = 0
	for _, key := range st.keys.lru.Keys() {
		if k, ok := st.keys.peek(key); ok && now.Sub(k.last) > maxspan {
			st.keys.remove(key)
		}
	}
}

// size is how many keys hold partial matches.
func (st *sequenceState) size() int { return st.keys.lru.Len() }
