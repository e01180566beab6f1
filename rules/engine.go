package rules

import (
	"container/heap"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

// EngineConfig configures an Engine.
type EngineConfig struct {
	// Now stamps event.created on alerts (default time.Now).
	Now func() time.Time
	// DefaultEntities are tried in order for the entity of an alert whose
	// rule has no group keys (default source.ip, user.name, host.name).
	DefaultEntities []string
	// SessionTTL is how long after a login a user's actions on that host
	// are attributed to the login's source address (default 8h).
	SessionTTL time.Duration
	// MaxSessions bounds the remembered logins (default 100000).
	MaxSessions int
	// AllowedLateness is how far behind the newest event time an event may
	// be and still be on time. The watermark is the newest event time seen
	// minus it. With a lateness, events wait in a reorder buffer until the
	// watermark passes them and are then evaluated in event-time order
	// (equal times in arrival order), so events of a key that arrive out
	// of order within the lateness are seen in order. Windows that end
	// before the watermark are closed (threshold lt/eq, suppression,
	// missing sequence steps). An event older than the watermark is late:
	// see OnLate. Default 0: no buffer, every event is evaluated at once.
	AllowedLateness time.Duration
	// OnLate, when set, receives every late event (older than the
	// watermark) instead of the engine evaluating it, so the caller can
	// route it (a late topic, a log). When nil, late events are evaluated
	// at once, out of order, as well as they can be. Either way they are
	// counted in Stats.LateEvents.
	OnLate func(event.Event)
	// MaxKeys bounds the keys each sequence rule, threshold rule, new_terms
	// rule and suppression remembers; the least recently used is evicted
	// beyond it (Stats.Evictions). Default 100000.
	MaxKeys int
	// NoIndex evaluates every rule on every event instead of only the
	// candidate rules of the index (for comparisons and benchmarks).
	NoIndex bool
}

// Stats counts what an Engine did.
type Stats struct {
	Events int64
	Alerts int64
	// EvalErrors counts expressions that failed at run time on an event
	// (e.g. arithmetic on a missing field); they count as no match.
	// Engine.EvalErrors tells them by rule, with the first message.
	EvalErrors int64
	// Excepted counts events a rule's exceptions left out.
	Excepted int64
	// Suppressed counts alerts suppress held back.
	Suppressed int64
	// LateEvents counts events older than the watermark.
	LateEvents int64
	// Evictions counts keys of stateful rules evicted by MaxKeys.
	Evictions int64
	// Buffered is how many events wait in the reorder buffer now.
	Buffered int64
}

// Engine evaluates compiled rules on a stream of events. It is not safe
// for concurrent use: one Engine owns the state of the keys it sees, and
// must see every event of a key.
type Engine struct {
	rules    []*Compiled
	index    *ruleIndex
	seq      map[*Compiled]*sequenceState
	thr      map[*Compiled]*thresholdState
	nt       map[*Compiled]*newTermsState
	sup      map[*Compiled]*suppressState
	timers   timerHeap
	buffer   eventHeap
	arrivals uint64    // events buffered so far, the tiebreaker of equal times
	newest   time.Time // the newest event time seen
	machine  vm.VM
	fold     foldCache // the case of the strings of the event being evaluated
	// seqScratch is the event a sequence rule is processing, its slices
	// reused from rule to rule and event to event.
	seqScratch seqEvent
	// cur holds what the rules read of the event being evaluated more
	// than once: its repeat count and its single-field group keys.
	cur      eventCache
	cfg      EngineConfig
	stats    Stats
	evicted  int64 // evictions of state dropped by Reload
	sessions *sessions
	// applied counts, per rule (by position in rules), the events it was
	// evaluated on past its where (Applied).
	applied []int64
	// evalErrs counts, per rule (by position in rules), the run-time
	// errors of its expressions (EvalErrors); evaluating is the position
	// of the rule being evaluated, whose errors they are.
	evalErrs   []RuleEvalErrors
	evaluating int
	// noRuns keeps every sequence key in sequence.go's form (tests
	// compare it with runs, seqrun.go).
	noRuns bool
}

// NewEngine returns an engine running the enabled rules.
func NewEngine(rules []*Compiled, cfg EngineConfig) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.DefaultEntities) == 0 {
		cfg.DefaultEntities = []string{"source.ip", "user.name", "host.name"}
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 100000
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 100000
	}
	e := &Engine{cfg: cfg, sessions: newSessions(cfg.MaxSessions, cfg.SessionTTL)}
	e.setRules(rules, nil)
	return e
}

// setRules installs the enabled rules, keeping the state old holds for
// the rules it maps them to (Reload) and starting the others empty.
func (e *Engine) setRules(rules []*Compiled, keep map[*Compiled]*Compiled) {
	oldSeq, oldThr, oldNT, oldSup := e.seq, e.thr, e.nt, e.sup
	e.seq, e.thr = map[*Compiled]*sequenceState{}, map[*Compiled]*thresholdState{}
	e.nt, e.sup = map[*Compiled]*newTermsState{}, map[*Compiled]*suppressState{}
	e.rules = e.rules[:0:0]
	for _, r := range rules {
		if !r.Rule.IsEnabled() {
			continue
		}
		e.rules = append(e.rules, r)
		old := keep[r]
		switch r.Rule.Kind {
		case KindSequence:
			if st := oldSeq[old]; st != nil {
				e.seq[r] = st
			} else {
				e.seq[r] = newSequenceState(e.cfg.MaxKeys)
			}
		case KindThreshold:
			if st := oldThr[old]; st != nil {
				e.thr[r] = st
			} else {
				e.thr[r] = newThresholdState(e.cfg.MaxKeys)
			}
		case KindNewTerms:
			if st := oldNT[old]; st != nil {
				e.nt[r] = st
			} else {
				e.nt[r] = newNewTermsState(r.Rule.NewTerms, e.cfg.MaxKeys)
			}
		}
		if r.Rule.Suppress != nil {
			if st := oldSup[old]; st != nil {
				e.sup[r] = st
			} else {
				e.sup[r] = newSuppressState(e.cfg.MaxKeys)
			}
		}
	}
	e.applied = make([]int64, len(e.rules))
	e.evalErrs = make([]RuleEvalErrors, len(e.rules))
	e.index = newRuleIndex(e.rules)
	e.fold.indexes = newLitIndexes(ruleConditions(e.rules))
	e.fold.reset() // its answers were the old index's
}

// ruleConditions lists the conditions of the rules.
func ruleConditions(rules []*Compiled) []*condition {
	var out []*condition
	for _, r := range rules {
		out = append(out, r.where, r.match, r.until)
		out = append(out, r.steps...)
		for _, x := range r.exceptions {
			out = append(out, x.expr)
		}
	}
	return out
}

// Applied returns, by rule id, how many events each running rule was
// evaluated on past its where since the engine started or last reloaded.
// The index leaves out events its conditions cannot match (with
// EngineConfig.NoIndex every event past the where counts), so this is
// about the events that concern the rule: a rule with none in a scan had
// no event it could match.
func (e *Engine) Applied() map[string]int64 {
	out := make(map[string]int64, len(e.rules))
	for i, r := range e.rules {
		out[r.Rule.ID] += e.applied[i]
	}
	return out
}

// RuleEvalErrors is how many times a rule's expressions failed at run time
// (each is no match for the event) and the first failure, so a rule that
// cannot work on the data is not mistaken for one that found nothing.
type RuleEvalErrors struct {
	Count int64
	// First is the first error's message and the expression it came from
	// (its first line, at most maxErrorText bytes: memory stays bounded
	// per rule however many events fail).
	First string
}

// maxErrorText bounds the text an engine keeps of a rule's first error.
const maxErrorText = 240

// EvalErrors returns, by rule id, the rules whose expressions failed at
// run time since the engine started or last reloaded, as Applied counts.
// Rules without an error are absent.
func (e *Engine) EvalErrors() map[string]RuleEvalErrors {
	out := map[string]RuleEvalErrors{}
	for i, r := range e.rules {
		if x := e.evalErrs[i]; x.Count > 0 {
			if prev, ok := out[r.Rule.ID]; ok { // a duplicate id: one entry
				x.Count += prev.Count
				x.First = prev.First
			}
			out[r.Rule.ID] = x
		}
	}
	return out
}

// Reload replaces the rules the engine runs. A rule with the same id and
// the same content as one running keeps its state (open sequences,
// windows, learnt terms, suppression); the state of changed and removed
// rules is dropped, and new rules start empty. Events waiting in the
// reorder buffer stay and are evaluated against the new rules.
func (e *Engine) Reload(rules []*Compiled) {
	running := map[string]*Compiled{}
	for _, r := range e.rules {
		running[r.Rule.ID] = r
	}
	keep := map[*Compiled]*Compiled{}
	for _, r := range rules {
		if old := running[r.Rule.ID]; old != nil && old.hash != "" && old.hash == r.hash && r.Rule.IsEnabled() {
			keep[r] = old
		}
	}
	before := e.Stats().Evictions
	e.setRules(rules, keep)
	// Timers of kept rules point to the new rule; the others go.
	newer := map[*Compiled]*Compiled{}
	for r, old := range keep {
		newer[old] = r
	}
	timers := e.timers[:0]
	for _, tm := range e.timers {
		if r := newer[tm.rule]; r != nil {
			tm.rule = r
			timers = append(timers, tm)
		}
	}
	e.timers = timers
	heap.Init(&e.timers)
	// Evictions of dropped state stay counted.
	e.evicted += before - e.Stats().Evictions
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() []*Compiled { return e.rules }

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Evictions += e.evicted
	for _, st := range e.seq {
		s.Evictions += st.keys.evicted
	}
	for _, st := range e.thr {
		s.Evictions += st.keys.evicted
	}
	for _, st := range e.nt {
		s.Evictions += st.seen.evicted
	}
	for _, st := range e.sup {
		s.Evictions += st.keys.evicted
	}
	s.Buffered = int64(e.buffer.Len())
	return s
}

// StateKeys returns, per rule id, how many keys the rule holds state for
// (sequence keys with partial matches, threshold keys, new_terms terms,
// suppression windows): a gauge for metrics. Stateless rules are absent.
func (e *Engine) StateKeys() map[string]int {
	out := map[string]int{}
	for c, st := range e.seq {
		out[c.Rule.ID] += st.size()
	}
	for c, st := range e.thr {
		out[c.Rule.ID] += st.keys.len()
	}
	for c, st := range e.nt {
		out[c.Rule.ID] += st.seen.len()
	}
	for c, st := range e.sup {
		out[c.Rule.ID] += st.keys.len()
	}
	return out
}

// Watermark is the newest event time seen minus the allowed lateness.
func (e *Engine) Watermark() time.Time { return e.newest.Add(-e.cfg.AllowedLateness) }

// Process takes one event and returns the alerts it completes, with those
// of windows its time closed (threshold lt/eq, suppression counts, missing
// sequence steps). With an AllowedLateness, the event waits in the
// reorder buffer and the alerts returned are those of the events the
// watermark released. Events older than the watermark are late (see
// EngineConfig.OnLate); events without a time are evaluated at once, by
// match rules only.
func (e *Engine) Process(ev event.Event) []Alert {
	e.stats.Events++
	t, hasTime := ev.Time()
	var alerts []Alert
	switch {
	case !hasTime:
		alerts = e.evaluate(ev, t, false)
	case !e.newest.IsZero() && t.Before(e.Watermark()):
		e.stats.LateEvents++
		if e.cfg.OnLate != nil {
			e.cfg.OnLate(ev)
			return nil
		}
		alerts = e.evaluate(ev, t, true)
	case e.cfg.AllowedLateness <= 0:
		if t.After(e.newest) {
			e.newest = t
			alerts = e.closeTimers(t, false)
		}
		alerts = append(alerts, e.evaluate(ev, t, true)...)
	default:
		if t.After(e.newest) {
			e.newest = t
		}
		e.arrivals++
		heap.Push(&e.buffer, buffered{ev: ev, t: t, seq: e.arrivals})
		alerts = e.release(e.Watermark(), false)
	}
	e.stats.Alerts += int64(len(alerts))
	return alerts
}

// release evaluates, in event-time order, the buffered events the
// watermark has reached (every one when all is set), closing the windows
// that end before each, then the windows that end before the watermark.
func (e *Engine) release(watermark time.Time, all bool) []Alert {
	var alerts []Alert
	for e.buffer.Len() > 0 && (all || !e.buffer[0].t.After(watermark)) {
		b := heap.Pop(&e.buffer).(buffered)
		alerts = append(alerts, e.closeTimers(b.t, false)...)
		alerts = append(alerts, e.evaluate(b.ev, b.t, true)...)
	}
	if !all {
		alerts = append(alerts, e.closeTimers(watermark, false)...)
	}
	return alerts
}

// evaluate runs the candidate rules on one event.
func (e *Engine) evaluate(ev event.Event, t time.Time, hasTime bool) []Alert {
	e.fold.reset()
	e.cur.reset()
	if hasTime {
		e.sessions.observe(ev, t)
	}
	var alerts []Alert
	if e.cfg.NoIndex {
		for i := range e.rules {
			alerts = append(alerts, e.evalRule(i, ev, t, hasTime, false)...)
		}
		return alerts
	}
	for _, i := range e.index.candidates(ev) {
		alerts = append(alerts, e.evalRule(i, ev, t, hasTime, true)...)
	}
	return alerts
}

// evalRule runs the i-th rule on an event; indexed says the index chose
// the rule as a candidate, so a where that is the rule's index
// requirement holds already when the event's field is a string.
func (e *Engine) evalRule(i int, ev event.Event, t time.Time, hasTime, indexed bool) []Alert {
	r := e.rules[i]
	e.evaluating = i
	if r.where != nil && !(indexed && r.whereIsRequire && isString(ev[r.require.field])) && !e.eval(r.where, ev) {
		return nil
	}
	e.applied[i]++
	var got []Alert
	switch r.Rule.Kind {
	case KindMatch:
		if e.eval(r.match, ev) && !e.excepted(r, ev) {
			got = append(got, e.newAlert(r, []event.Event{ev}, 1, r.Rule.By))
		}
	case KindSequence:
		if !hasTime || e.excepted(r, ev) {
			return nil // a sequence is ordered in event time; without one it cannot take part
		}
		if p := e.processSequence(r, ev, t); p != nil && !e.suppressedEarly(r, p.ev, r.stepKeys[r.stages[p.stage]]) {
			got = append(got, e.sequenceAlert(r, p))
		}
	case KindThreshold, KindNewTerms:
		if !hasTime || (r.match != nil && !e.eval(r.match, ev)) || e.excepted(r, ev) {
			return nil
		}
		if r.Rule.Kind == KindThreshold {
			got = e.processThreshold(r, ev, t)
		} else {
			got = e.processNewTerms(r, ev, t)
		}
	}
	if len(got) > 0 && r.Rule.Suppress != nil {
		got = e.suppress(r, got)
	}
	return got
}

func isString(v any) bool {
	_, ok := v.(string)
	return ok
}

func (e *Engine) sequenceAlert(c *Compiled, p *partial) Alert {
	evs, n := p.events()
	return e.newAlert(c, evs, n, c.stepKeys[c.stages[p.stage]])
}

// Flush ends the input: it evaluates the events still in the reorder
// buffer, decides every open threshold lt/eq window, fires the sequences
// waiting at a last missing step and emits the final count of every
// suppression window, as if the watermark had passed them all. Call it at
// the end of a file (scan, rule tests); a stream never ends, its windows
// close as event time moves on.
func (e *Engine) Flush() []Alert {
	alerts := e.release(time.Time{}, true)
	alerts = append(alerts, e.closeTimers(time.Time{}, true)...)
	e.stats.Alerts += int64(len(alerts))
	return alerts
}

// closeTimers closes the windows that ended before the watermark.
func (e *Engine) closeTimers(watermark time.Time, all bool) []Alert {
	var alerts []Alert
	for _, tm := range e.timers.due(watermark, all) {
		switch tm.kind {
		case timerThreshold:
			st := e.thr[tm.rule]
			k, ok := st.keys.get(tm.key)
			if !ok || k.gen != tm.gen {
				continue // decided already, or evicted
			}
			st.keys.remove(tm.key)
			a, fire := e.closeThreshold(tm.rule, k)
			if !fire {
				continue
			}
			got := []Alert{a}
			if tm.rule.Rule.Suppress != nil {
				got = e.suppress(tm.rule, got)
			}
			alerts = append(alerts, got...)
		case timerSequence:
			p := e.closeMissing(tm.rule, tm.key, tm.gen)
			if p == nil {
				continue
			}
			got := []Alert{e.sequenceAlert(tm.rule, p)}
			if tm.rule.Rule.Suppress != nil {
				got = e.suppress(tm.rule, got)
			}
			alerts = append(alerts, got...)
		case timerSuppress:
			st := e.sup[tm.rule]
			w, ok := st.keys.get(tm.key)
			if !ok || w.gen != tm.gen {
				continue
			}
			st.keys.remove(tm.key)
			if a, ok := closeSuppression(w); ok {
				alerts = append(alerts, a)
			}
		}
	}
	return alerts
}

func (e *Engine) eval(c *condition, ev event.Event) bool {
	ok, err := c.evalFolded(ev, &e.machine, &e.fold)
	if err != nil {
		e.stats.EvalErrors++
		e.countEvalError(c, err)
	}
	return ok
}

// countEvalError counts an error of the rule being evaluated, keeping the
// text of its first.
func (e *Engine) countEvalError(c *condition, err error) {
	if e.evaluating >= len(e.evalErrs) {
		return // not evaluating a rule of this engine (a test's direct call)
	}
	x := &e.evalErrs[e.evaluating]
	x.Count++
	if x.Count == 1 {
		x.First = evalErrorText(c.source, err)
	}
}

// evalErrorText is an error's first line (expr adds the expression and a
// caret below) and the expression it is in, abbreviated: which of a
// rule's expressions (where, condition, a step, an exception) failed.
func evalErrorText(source string, err error) string {
	const maxSource = 80
	src := strings.Join(strings.Fields(source), " ")
	if len(src) > maxSource {
		src = strings.ToValidUTF8(src[:maxSource], "") + "…"
	}
	msg := firstLine(err.Error())
	if room := maxErrorText - len(src) - len(" in ``"); len(msg) > room {
		msg = strings.ToValidUTF8(msg[:room], "") + "…"
	}
	return msg + " in `" + src + "`"
}

// groupKey joins the values of the rule's by fields; ok is false when one
// is missing, and such an event cannot join the sequence.
func groupKey(by []string, ev event.Event) (string, bool) {
	if len(by) == 1 {
		v := KeyValue(ev.Get(by[0]))
		return v, v != ""
	}
	var b strings.Builder
	for i, f := range by {
		v := KeyValue(ev.Get(f))
		if v == "" {
			return "", false
		}
		if i > 0 {
			b.WriteByte(0x1f)
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// eventCache remembers, for the event being evaluated, its repeat count
// and the values of the fields rules group on alone (by: [source.ip]),
// so rules sharing them read the event once.
type eventCache struct {
	repeat int // 0: not read yet
	n      int
	fields [8]string
	values [8]string
}

func (ec *eventCache) reset() {
	ec.repeat = 0
	clear(ec.values[:ec.n]) // not to keep the last event's strings alive
	ec.n = 0
}

// repeatCount is repeatCount(ev) for the event being evaluated.
func (ec *eventCache) repeatCount(ev event.Event) int {
	if ec.repeat == 0 {
		ec.repeat = repeatCount(ev)
	}
	return ec.repeat
}

// groupKey is groupKey(by, ev) for the event being evaluated.
func (ec *eventCache) groupKey(by []string, ev event.Event) (string, bool) {
	if len(by) != 1 {
		return groupKey(by, ev)
	}
	f := by[0]
	for i := range ec.n {
		if ec.fields[i] == f {
			return ec.values[i], ec.values[i] != ""
		}
	}
	v := KeyValue(ev.Get(f))
	if ec.n < len(ec.fields) {
		ec.fields[ec.n], ec.values[ec.n] = f, v
		ec.n++
	}
	return v, v != ""
}

// KeyValue is a field's value as rules join and group on it: a string as
// it is, nil as "", anything else as event.Stringify renders it.
func KeyValue(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return event.Stringify(v)
	}
}

// copiedFields are copied from the matched events onto the alert, so the
// alert itself shows who and where in Kibana. The last event that has a
// field wins.
var copiedFields = []string{
	"host.name", "host.hostname", "host.ip",
	"user.name", "user.domain", "user.effective.name",
	"source.ip", "source.domain", "destination.ip", "destination.port",
	"process.name", "process.executable", "process.command_line",
	"url.original",
}

// newAlert builds the alert of a rule over its matched events; by are
// the fields of its group keys, read from the last event.
func (e *Engine) newAlert(c *Compiled, evs []event.Event, occurrences int, by []string) Alert {
	r := c.Rule
	first, _ := evs[0].Time()
	last, _ := evs[len(evs)-1].Time()
	a := Alert{
		Timestamp: last,
		Event: AlertEvent{
			Kind:      "alert",
			Created:   e.cfg.Now().UTC(),
			Start:     first,
			End:       last,
			Severity:  SeverityRank(r.Severity),
			RiskScore: c.risk,
		},
		Rule: AlertRule{
			ID:          r.ID,
			Name:        r.Name,
			Description: r.Description,
			Version:     itoa(r.Version),
			Ruleset:     "vigil",
			Reference:   r.References,
		},
		Threat: c.threat,
		Fields: event.New(),
	}
	d := &a.Vigil.Alert
	d.ID = AlertID(r.ID, evs)
	d.Kind = r.Kind
	d.Severity = r.Severity
	d.RiskScore = c.risk
	d.FirstSeen, d.LastSeen = first, last
	d.EventCount = occurrences
	d.Events = make([]event.Event, len(evs))
	for i, ev := range evs {
		d.Events[i] = ev.Clone()
	}
	categories := map[string]bool{}
	relatedIP, relatedUser := map[string]bool{}, map[string]bool{}
	for _, ev := range evs {
		for _, f := range copiedFields {
			if v := ev.Get(f); v != nil {
				a.Fields[f] = v
			}
		}
		if v := ev.String("event.dataset"); v != "" {
			a.Event.Dataset = v
		}
		if v := ev.String("event.module"); v != "" {
			a.Event.Module = v
		}
		for _, c := range asStrings(ev.Get("event.category")) {
			categories[c] = true
		}
		for _, ip := range append(asStrings(ev.Get("related.ip")), asStrings(ev.Get("source.ip"))...) {
			relatedIP[ip] = true
		}
		for _, u := range append(asStrings(ev.Get("related.user")), asStrings(ev.Get("user.name"))...) {
			relatedUser[u] = true
		}
	}
	a.Event.Category = sortedKeys(categories)
	if len(relatedIP) > 0 {
		a.Fields["related.ip"] = toAny(sortedKeys(relatedIP))
	}
	if len(relatedUser) > 0 {
		a.Fields["related.user"] = toAny(sortedKeys(relatedUser))
	}
	for _, f := range by {
		if v := KeyValue(evs[len(evs)-1].Get(f)); v != "" {
			d.GroupKeys = append(d.GroupKeys, Entity{Field: f, Value: v})
		}
	}
	d.Entity = e.entity(r, by, evs[len(evs)-1])
	if d.Entity.Field == "user.name" {
		lastEv := evs[len(evs)-1]
		if s, ok := e.sessions.lookup(lastEv.String("host.name"), d.Entity.Value, last); ok {
			d.Session = &AlertSession{SourceIP: s.sourceIP, LoginEventID: s.eventID, LoginTime: s.at}
			d.Entity = Entity{Field: "source.ip", Value: s.sourceIP}
			if _, has := a.Fields["source.ip"]; !has {
				a.Fields["source.ip"] = s.sourceIP
			}
		}
	}
	return a
}

func (e *Engine) entity(r *Rule, by []string, ev event.Event) Entity {
	for _, f := range by {
		if v := KeyValue(ev.Get(f)); v != "" {
			return Entity{Field: f, Value: v}
		}
	}
	for _, f := range e.cfg.DefaultEntities {
		if v := KeyValue(ev.Get(f)); v != "" {
			return Entity{Field: f, Value: v}
		}
	}
	return Entity{Field: "rule.id", Value: r.ID}
}

func asStrings(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []string:
		return t
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func itoa(v int) string {
	if v == 0 {
		return ""
	}
	return event.Stringify(int64(v))
}

// The reorder buffer: events waiting for the watermark, oldest first,
// equal times in arrival order.

type buffered struct {
	ev  event.Event
	t   time.Time
	seq uint64
}

type eventHeap []buffered

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].t.Equal(h[j].t) {
		return h[i].t.Before(h[j].t)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(buffered)) }
func (h *eventHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	*h = old[:len(old)-1]
	return b
}

func initHeap(h *eventHeap) { heap.Init(h) }
