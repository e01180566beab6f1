package rules

import (
	"sort"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A threshold rule counts, per by key, the events its condition matches
// (a folded "repeated N times" event counts N), or with distinct the
// number of different values of that field, in event time.
//
// gt and gte look at a sliding window: at each event, the events of the
// key from t-window to t, both ends included, are counted; when the count
// passes, the rule fires and the key starts over (so 25 failures with
// gte: 10 raise two alerts, not sixteen).
//
// lt and eq can only be decided once no more events can come, so they
// use a window that opens at the first event of the key and closes at
// first+window (an event exactly at the end still belongs to it). The
// window is decided when the engine's watermark (the newest event time it
// has seen minus EngineConfig.AllowedLateness) passes its end, when an
// event of the key arrives after its end, or at Engine.Flush. Then the key
// starts over with the next event.
//
// Each key keeps at most maxWindowEntries events; past that the oldest
// are dropped and counts are lower bounds. Alerts carry the exact count
// and a sample of the matched events (the most recent sampleSize).

const (
	maxWindowEntries = 10000
	sampleSize       = 100
)

// thresholdTest is a threshold rule's comparison.
type thresholdTest struct {
	op      string // gt, gte, eq, lt
	value   int
	closing bool // decided when the window closes (eq, lt)
}

func newThresholdTest(th *Threshold) thresholdTest {
	switch {
	case th.Gt != nil:
		return thresholdTest{op: "gt", value: *th.Gt}
	case th.Gte != nil:
		return thresholdTest{op: "gte", value: *th.Gte}
	case th.Eq != nil:
		return thresholdTest{op: "eq", value: *th.Eq, closing: true}
	case th.Lt != nil:
		return thresholdTest{op: "lt", value: *th.Lt, closing: true}
	}
	return thresholdTest{}
}

func (tt thresholdTest) passes(n int) bool {
	switch tt.op {
	case "gt":
		return n > tt.value
	case "gte":
		return n >= tt.value
	case "eq":
		return n == tt.value
	case "lt":
		return n < tt.value
	}
	return false
}

type thresholdEntry struct {
	t     time.Time
	n     int
	value string // the distinct field's value
	ev    event.Event
}

type thresholdKey struct {
	// buf holds the entries in event time around a gap of free slots,
	// [gap, gap+free): an entry is inserted at the gap, moved to its place
	// first, so entries that arrive out of order (a late event, a log
	// replayed) cost the distance from the previous insertion, not a shift
	// of every newer entry. In order, the gap stays at the end.
	buf       []thresholdEntry
	gap, free int
	total     int
	distinct  map[string]int // value → entries holding it
	start     time.Time      // lt/eq: the window's first event
	gen       uint64         // lt/eq: which window a timer is for
}

type thresholdState struct {
	keys *keyCache[*thresholdKey]
	gen  uint64
}

func newThresholdState(maxKeys int) *thresholdState {
	return &thresholdState{keys: newKeyCache[*thresholdKey](maxKeys)}
}

func (k *thresholdKey) count(distinct bool) int {
	if distinct {
		return len(k.distinct)
	}
	return k.total
}

// size is how many entries the key holds.
func (k *thresholdKey) size() int { return len(k.buf) - k.free }

// at returns the i-th entry in event time.
func (k *thresholdKey) at(i int) *thresholdEntry {
	if i >= k.gap {
		i += k.free
	}
	return &k.buf[i]
}

// moveGap moves the gap before the i-th entry, clearing the slots that
// become free (they would keep their events alive).
func (k *thresholdKey) moveGap(i int) {
	switch {
	case i < k.gap:
		copy(k.buf[i+k.free:k.gap+k.free], k.buf[i:k.gap])
		clear(k.buf[i:min(k.gap, i+k.free)])
	case i > k.gap:
		copy(k.buf[k.gap:i], k.buf[k.gap+k.free:i+k.free])
		clear(k.buf[max(i, k.gap+k.free) : i+k.free])
	}
	k.gap = i
}

// insert puts en before the i-th entry.
func (k *thresholdKey) insert(i int, en thresholdEntry) {
	if k.free == 0 {
		// Full (so the entries are contiguous): a buffer twice the size,
		// the gap at i.
		n := len(k.buf)
		buf := make([]thresholdEntry, max(2*n, 4))
		copy(buf, k.buf[:i])
		copy(buf[len(buf)-(n-i):], k.buf[i:])
		k.buf, k.gap, k.free = buf, i, len(buf)-n
	} else {
		k.moveGap(i)
	}
	k.buf[k.gap] = en
	k.gap++
	k.free--
}

func (k *thresholdKey) add(en thresholdEntry, distinct bool) {
	i := k.size()
	if i > 0 && k.at(i-1).t.After(en.t) {
		// A late event of the key goes to its place in time, after the
		// entries of the same time: the first entry after it, found by
		// binary search (the entries are in time order).
		i = sort.Search(i-1, func(j int) bool { return k.at(j).t.After(en.t) })
	}
	k.insert(i, en)
	// Only the newest sampleSize entries' events go into an alert: the
	// older ones let go of theirs, so that a long window (one source
	// failing as root ten thousand times under a distinct-users rule)
	// does not keep every event alive, nor write it in every checkpoint.
	// One entry leaves the newest per insert, or the late one inserted.
	if n := k.size(); n > sampleSize {
		k.at(n - sampleSize - 1).ev = nil
		if i < n-sampleSize {
			k.at(i).ev = nil
		}
	}
	k.total += en.n
	if distinct {
		k.distinct[en.value]++
	}
	if k.size() > maxWindowEntries {
		k.drop(1, distinct)
	}
}

// drop forgets the n oldest entries.
func (k *thresholdKey) drop(n int, distinct bool) {
	for j := range n {
		en := k.at(j)
		k.total -= en.n
		if distinct {
			if k.distinct[en.value]--; k.distinct[en.value] == 0 {
				delete(k.distinct, en.value)
			}
		}
	}
	if n > k.gap {
		k.moveGap(n) // the n oldest before the gap
	}
	clear(k.buf[:n])
	k.buf = k.buf[n:]
	k.gap -= n
}

// slide forgets the entries older than from.
func (k *thresholdKey) slide(from time.Time, distinct bool) {
	n := 0
	for n < k.size() && k.at(n).t.Before(from) {
		n++
	}
	if n > 0 {
		k.drop(n, distinct)
	}
}

func (e *Engine) processThreshold(c *Compiled, ev event.Event, t time.Time) []Alert {
	th := c.Rule.Threshold
	distinct := th.Distinct != ""
	en := thresholdEntry{t: t, n: e.cur.repeatCount(ev), ev: ev}
	if distinct {
		en.value = KeyValue(ev.Get(th.Distinct))
		if en.value == "" {
			return nil // nothing to count distinctly
		}
	}
	key, ok := e.cur.groupKey(c.Rule.By, ev)
	if !ok && len(c.Rule.By) > 0 {
		return nil
	}
	st := e.thr[c]
	window := time.Duration(th.Window)
	k, _ := st.keys.get(key)
	var alerts []Alert
	if c.threshold.closing && k != nil && t.Sub(k.start) > window {
		if a, ok := e.closeThreshold(c, k); ok {
			alerts = append(alerts, a)
		}
		st.keys.remove(key)
		k = nil
	}
	if k == nil {
		k = &thresholdKey{start: t}
		if distinct {
			k.distinct = map[string]int{}
		}
		st.keys.add(key, k)
		if c.threshold.closing {
			st.gen++
			k.gen = st.gen
			e.timers.push(timer{at: t.Add(window), rule: c, key: key, gen: k.gen, kind: timerThreshold})
		}
	}
	k.add(en, distinct)
	if c.threshold.closing {
		return alerts
	}
	k.slide(t.Add(-window), distinct)
	if n := k.count(distinct); c.threshold.passes(n) {
		// alerts is empty here (gt, gte): this is the rule's only alert.
		if !e.suppressedEarly(c, k.at(k.size()-1).ev, c.Rule.By) {
			alerts = append(alerts, e.thresholdAlert(c, k))
		}
		st.keys.remove(key)
	}
	return alerts
}

// closeThreshold decides an lt/eq window.
func (e *Engine) closeThreshold(c *Compiled, k *thresholdKey) (Alert, bool) {
	if !c.threshold.passes(k.count(c.Rule.Threshold.Distinct != "")) {
		return Alert{}, false
	}
	return e.thresholdAlert(c, k), true
}

func (e *Engine) thresholdAlert(c *Compiled, k *thresholdKey) Alert {
	th := c.Rule.Threshold
	from := max(0, k.size()-sampleSize)
	sample := make([]event.Event, 0, k.size()-from)
	for j := from; j < k.size(); j++ {
		sample = append(sample, k.at(j).ev)
	}
	a := e.newAlert(c, sample, k.total, c.Rule.By)
	d := &a.Vigil.Alert
	d.FirstSeen, a.Event.Start = k.at(0).t, k.at(0).t
	d.Threshold = &AlertThreshold{
		Window:   th.Window.String(),
		Operator: c.threshold.op,
		Value:    c.threshold.value,
		Count:    k.total,
		Distinct: th.Distinct,
	}
	if th.Distinct != "" {
		values := make([]string, 0, len(k.distinct))
		for v := range k.distinct {
			values = append(values, v)
		}
		sort.Strings(values)
		d.Threshold.DistinctCount = len(values)
		d.Threshold.DistinctValues = values[:min(len(values), sampleSize)]
	}
	return a
}
