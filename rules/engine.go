package rules

import (
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
	// minus it; windows that end before the watermark are closed (threshold
	// lt/eq, suppression), and events older than it are counted in
	// Stats.LateEvents (they are still evaluated). Default 0.
	AllowedLateness time.Duration
	// MaxKeys bounds the keys each threshold rule, new_terms rule and
	// suppression remembers; the least recently used is evicted beyond it
	// (Stats.Evictions). Default 100000.
	MaxKeys int
}

// Stats counts what an Engine did.
type Stats struct {
	Events int64
	Alerts int64
	// EvalErrors counts expressions that failed at run time on an event
	// (e.g. arithmetic on a missing field); they count as no match.
	EvalErrors int64
	// Excepted counts events a rule's exceptions left out.
	Excepted int64
	// Suppressed counts alerts suppress held back.
	Suppressed int64
	// LateEvents counts events older than the watermark.
	LateEvents int64
	// Evictions counts keys of stateful rules evicted by MaxKeys.
	Evictions int64
}

// Engine evaluates compiled rules on a stream of events. It is not safe
// for concurrent use: one Engine owns the state of the keys it sees, and
// must see every event of a key.
type Engine struct {
	rules    []*Compiled
	seq      map[*Compiled]*sequenceState
	thr      map[*Compiled]*thresholdState
	nt       map[*Compiled]*newTermsState
	sup      map[*Compiled]*suppressState
	timers   timerHeap
	newest   time.Time // the newest event time seen
	machine  vm.VM
	cfg      EngineConfig
	stats    Stats
	sessions *sessions
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
	e := &Engine{
		seq: map[*Compiled]*sequenceState{}, thr: map[*Compiled]*thresholdState{},
		nt: map[*Compiled]*newTermsState{}, sup: map[*Compiled]*suppressState{},
		cfg: cfg, sessions: newSessions(cfg.MaxSessions, cfg.SessionTTL),
	}
	for _, r := range rules {
		if !r.Rule.IsEnabled() {
			continue
		}
		e.rules = append(e.rules, r)
		switch r.Rule.Kind {
		case KindSequence:
			e.seq[r] = newSequenceState()
		case KindThreshold:
			e.thr[r] = newThresholdState(cfg.MaxKeys)
		case KindNewTerms:
			e.nt[r] = newNewTermsState(r.Rule.NewTerms, cfg.MaxKeys)
		}
		if r.Rule.Suppress != nil {
			e.sup[r] = newSuppressState(cfg.MaxKeys)
		}
	}
	return e
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() []*Compiled { return e.rules }

// Stats returns the counters so far.
func (e *Engine) Stats() Stats {
	s := e.stats
	for _, st := range e.thr {
		s.Evictions += st.keys.evicted
	}
	for _, st := range e.nt {
		s.Evictions += st.seen.evicted
	}
	for _, st := range e.sup {
		s.Evictions += st.keys.evicted
	}
	return s
}

// Watermark is the newest event time seen minus the allowed lateness.
func (e *Engine) Watermark() time.Time { return e.newest.Add(-e.cfg.AllowedLateness) }

// Process evaluates every rule on one event and returns the alerts it
// completes, with those of windows its time closed (threshold lt/eq,
// suppression counts). Events of one key must arrive in event-time order,
// give or take the allowed lateness.
func (e *Engine) Process(ev event.Event) []Alert {
	e.stats.Events++
	t, hasTime := ev.Time()
	var alerts []Alert
	if hasTime {
		e.sessions.observe(ev, t)
		if t.Before(e.Watermark()) {
			e.stats.LateEvents++
		}
		if t.After(e.newest) {
			e.newest = t
			alerts = e.closeTimers(e.Watermark(), false)
		}
	}
	for _, r := range e.rules {
		if r.where != nil && !e.eval(r.where, ev) {
			continue
		}
		var got []Alert
		switch r.Rule.Kind {
		case KindMatch:
			if e.eval(r.match, ev) && !e.excepted(r, ev) {
				got = append(got, e.newAlert(r, []event.Event{ev}, 1))
			}
		case KindSequence:
			if !hasTime || e.excepted(r, ev) {
				continue // a sequence is ordered in event time; without one it cannot take part
			}
			if p := e.processSequence(r, ev, t); p != nil {
				evs, n := p.events()
				got = append(got, e.newAlert(r, evs, n))
			}
		case KindThreshold, KindNewTerms:
			if !hasTime || (r.match != nil && !e.eval(r.match, ev)) || e.excepted(r, ev) {
				continue
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
		alerts = append(alerts, got...)
	}
	e.stats.Alerts += int64(len(alerts))
	return alerts
}

// Flush ends the input: it decides every open threshold lt/eq window and
// emits the final count of every suppression window, as if the watermark
// had passed them all. Call it at the end of a file (scan, rule tests);
// a stream never ends, its windows close as event time moves on.
func (e *Engine) Flush() []Alert {
	alerts := e.closeTimers(time.Time{}, true)
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
	ok, err := c.eval(ev, &e.machine)
	if err != nil {
		e.stats.EvalErrors++
	}
	return ok
}

// groupKey joins the values of the rule's by fields; ok is false when one
// is missing, and such an event cannot join the sequence.
func groupKey(by []string, ev event.Event) (string, bool) {
	if len(by) == 1 {
		v := keyValue(ev.Get(by[0]))
		return v, v != ""
	}
	var b strings.Builder
	for i, f := range by {
		v := keyValue(ev.Get(f))
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

func keyValue(v any) string {
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
	"url.original", "event.dataset", "event.module",
}

func (e *Engine) newAlert(c *Compiled, evs []event.Event, occurrences int) Alert {
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
	for _, f := range r.By {
		if v := keyValue(evs[len(evs)-1].Get(f)); v != "" {
			d.GroupKeys = append(d.GroupKeys, Entity{Field: f, Value: v})
		}
	}
	d.Entity = e.entity(r, evs[len(evs)-1])
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

func (e *Engine) entity(r *Rule, ev event.Event) Entity {
	for _, f := range r.By {
		if v := keyValue(ev.Get(f)); v != "" {
			return Entity{Field: f, Value: v}
		}
	}
	for _, f := range e.cfg.DefaultEntities {
		if v := keyValue(ev.Get(f)); v != "" {
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
