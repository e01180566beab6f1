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
}

// Stats counts what an Engine did.
type Stats struct {
	Events int64
	Alerts int64
	// EvalErrors counts expressions that failed at run time on an event
	// (e.g. comparing a string with a number); they count as no match.
	EvalErrors int64
}

// Engine evaluates compiled rules on a stream of events. It is not safe
// for concurrent use: one Engine owns the state of the keys it sees, and
// must see every event of a key.
type Engine struct {
	rules    []*Compiled
	seq      map[*Compiled]*sequenceState
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
	e := &Engine{seq: map[*Compiled]*sequenceState{}, cfg: cfg, sessions: newSessions(cfg.MaxSessions, cfg.SessionTTL)}
	for _, r := range rules {
		if !r.Rule.IsEnabled() {
			continue
		}
		e.rules = append(e.rules, r)
		if r.Rule.Kind == KindSequence {
			e.seq[r] = newSequenceState()
		}
	}
	return e
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() []*Compiled { return e.rules }

// Stats returns the counters so far.
func (e *Engine) Stats() Stats { return e.stats }

// Process evaluates every rule on one event and returns the alerts it
// completes. Events of one key must arrive in event-time order.
func (e *Engine) Process(ev event.Event) []Alert {
	e.stats.Events++
	t, hasTime := ev.Time()
	if hasTime {
		e.sessions.observe(ev, t)
	}
	var alerts []Alert
	for _, r := range e.rules {
		if r.where != nil && !e.eval(r.where, ev) {
			continue
		}
		switch r.Rule.Kind {
		case KindMatch:
			if e.eval(r.match, ev) {
				alerts = append(alerts, e.newAlert(r, []event.Event{ev}, 1))
			}
		case KindSequence:
			if !hasTime {
				continue // a sequence is ordered in event time; without one it cannot take part
			}
			if p := e.processSequence(r, ev, t); p != nil {
				evs, n := p.events()
				alerts = append(alerts, e.newAlert(r, evs, n))
			}
		}
	}
	e.stats.Alerts += int64(len(alerts))
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
