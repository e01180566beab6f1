package rules

import (
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// Suppression keeps one alert per suppress.by key per suppress.for window
// (event time, from the first alert): the first alert is emitted at once,
// the following ones of the same key within the window are counted, not
// emitted. When the window ends (the watermark passes it, an alert of the
// key arrives after it, or Engine.Flush) and alerts were suppressed, the
// first alert is emitted again, with the same id, carrying
// vigil.alert.suppressed_count: Elasticsearch overwrites the document,
// and triage, which recognises the id, does not count it twice.

type suppressWindow struct {
	first Alert
	start time.Time
	count int
	gen   uint64
}

type suppressState struct {
	keys *keyCache[*suppressWindow]
	gen  uint64
}

func newSuppressState(maxKeys int) *suppressState {
	return &suppressState{keys: newKeyCache[*suppressWindow](maxKeys)}
}

func suppressKey(by []string, a Alert) string {
	evs := a.Vigil.Alert.Events
	var b strings.Builder
	for i, f := range by {
		if i > 0 {
			b.WriteByte(0x1f)
		}
		v := ""
		if len(evs) > 0 {
			v = KeyValue(evs[len(evs)-1].Get(f))
		}
		if v == "" {
			v = KeyValue(a.Fields.Get(f))
		}
		b.WriteString(v)
	}
	return b.String()
}

// suppress filters the alerts of one rule: it returns those to emit (new
// ones, and earlier ones re-emitted with their final count).
func (e *Engine) suppress(c *Compiled, alerts []Alert) []Alert {
	st := e.sup[c]
	window := time.Duration(c.Rule.Suppress.For)
	var out []Alert
	for _, a := range alerts {
		key := suppressKey(c.Rule.Suppress.By, a)
		w, ok := st.keys.get(key)
		if ok && a.Timestamp.Sub(w.start) <= window {
			w.count++
			e.stats.Suppressed++
			continue
		}
		if ok {
			if u, ok := closeSuppression(w); ok {
				out = append(out, u)
			}
		}
		st.gen++
		st.keys.add(key, &suppressWindow{first: a, start: a.Timestamp, gen: st.gen})
		e.timers.push(timer{at: a.Timestamp.Add(window), rule: c, key: key, gen: st.gen, kind: timerSuppress})
		out = append(out, a)
	}
	return out
}

// suppressedEarly counts, as suppress would, an alert of c whose last
// event is last and whose group keys are by, when suppress would hold it
// back, so that the alert need not be built (the events cloned). false
// means: build the alert and pass it to suppress, which decides. Only for
// an alert that is the only one of its rule on this event: suppress sees
// alerts in order, and an earlier one could open the window.
func (e *Engine) suppressedEarly(c *Compiled, last event.Event, by []string) bool {
	if c.Rule.Suppress == nil {
		return false
	}
	// suppressKey reads the last event first; with every value there, the
	// key is the group key of suppress.by on it.
	key, ok := groupKey(c.Rule.Suppress.By, last)
	if !ok {
		return false
	}
	w, ok := e.sup[c].keys.get(key)
	if !ok {
		return false
	}
	at, _ := last.Time()
	if at.Sub(w.start) > time.Duration(c.Rule.Suppress.For) {
		return false
	}
	// newAlert looks the login session up (which refreshes it in the
	// session cache) for an alert about a user: so does this.
	if ent := e.entity(c.Rule, by, last); ent.Field == "user.name" {
		e.sessions.lookup(last.String("host.name"), ent.Value, at)
	}
	w.count++
	e.stats.Suppressed++
	return true
}

// closeSuppression returns the window's first alert with its count, when
// it suppressed any.
func closeSuppression(w *suppressWindow) (Alert, bool) {
	if w.count == 0 {
		return Alert{}, false
	}
	a := w.first
	a.Vigil.Alert.SuppressedCount = w.count
	return a, true
}
