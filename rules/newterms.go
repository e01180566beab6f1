package rules

import (
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A new_terms rule alerts on the first time a value, or a tuple of values
// (new_terms.fields), is seen for a by key: the first login of this user
// from this country. A term seen before counts as new again once it has
// not been seen for history_window (default 7d): the rule remembers each
// term's last sighting in event time.
//
// A stream has no past to look up, so the rule learns from what it sees:
// for learn_for after the first event it sees (event time), terms are
// only learnt, never alerted on; set it to a period long enough to have
// seen the usual values (a day, a week). Without learn_for the rule
// alerts on every term from the start.
//
// State is bounded: at most new_terms.max_keys terms (default
// EngineConfig.MaxKeys), the least recently seen forgotten first (counted
// in Stats.Evictions); a forgotten term is new again when it comes back.
// Events without every field of the tuple (or a by key) are skipped.

const defaultHistoryWindow = 7 * 24 * time.Hour

type newTermsState struct {
	seen       *keyCache[time.Time]
	learnUntil time.Time
	started    bool
}

func newNewTermsState(nt *NewTerms, maxKeys int) *newTermsState {
	if nt.MaxKeys > 0 {
		maxKeys = nt.MaxKeys
	}
	return &newTermsState{seen: newKeyCache[time.Time](maxKeys)}
}

func (e *Engine) processNewTerms(c *Compiled, ev event.Event, t time.Time) []Alert {
	nt := c.Rule.NewTerms
	st := e.nt[c]
	if !st.started {
		st.started = true
		st.learnUntil = t.Add(time.Duration(nt.LearnFor))
	}
	key, ok := e.cur.groupKey(c.Rule.By, ev)
	if !ok && len(c.Rule.By) > 0 {
		return nil
	}
	values := make([]string, len(nt.Fields))
	var b strings.Builder
	b.WriteString(key)
	for i, f := range nt.Fields {
		values[i] = KeyValue(ev.Get(f))
		if values[i] == "" {
			return nil
		}
		b.WriteByte(0x1e)
		b.WriteString(values[i])
	}
	term := b.String()
	history := time.Duration(nt.HistoryWindow)
	if history <= 0 {
		history = defaultHistoryWindow
	}
	last, seen := st.seen.get(term)
	if seen && t.Sub(last) <= history {
		if t.After(last) {
			st.seen.add(term, t)
		}
		return nil
	}
	st.seen.add(term, t)
	if t.Before(st.learnUntil) {
		return nil
	}
	a := e.newAlert(c, []event.Event{ev}, 1, c.Rule.By)
	a.Vigil.Alert.NewTerms = &AlertNewTerms{Fields: nt.Fields, Values: values}
	if seen {
		a.Vigil.Alert.NewTerms.LastSeen = &last
	}
	return []Alert{a}
}
