package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/metrics"
	"github.com/vigil-siem/vigil/rules"
)

// LoadRules loads the rule directories of detect.rules, or the built-in
// pack when there are none. Bad rules are returned as errors next to the
// good rules, which still run.
func LoadRules(dirs []string, opts ...rules.LoadOption) ([]*rules.Compiled, []error) {
	if len(dirs) == 0 {
		return rules.LoadFS(rules.Pack(), ".", opts...)
	}
	var all []*rules.Compiled
	var errs []error
	for _, d := range dirs {
		rs, es := rules.LoadFS(os.DirFS(d), ".", opts...)
		for _, e := range es {
			errs = append(errs, fmt.Errorf("%s/%w", strings.TrimSuffix(d, "/"), e))
		}
		all = append(all, rs...)
	}
	return all, errs
}

// RunDetect consumes vigil.events, runs the rules and produces alerts on
// vigil.alerts keyed by their entity. Records that are not events go to
// the DLQ.
func (s *System) RunDetect(ctx context.Context) error {
	badRule := func(err error) { s.Log.Error("rule not loaded", "err", err) }
	enrich, compiled, err := NewDetector(s.Config.Detect, badRule)
	if err != nil {
		return err
	}
	defer func() { enrich.Close() }()
	var out []bus.Message  // what the current batch produces
	var current bus.Record // the record being evaluated
	lateness := time.Duration(s.Config.Detect.AllowedLateness)
	engine := rules.NewEngine(compiled, rules.EngineConfig{
		AllowedLateness: lateness,
		OnLate: func(event.Event) {
			out = append(out, bus.DeadLetter("detect", current,
				fmt.Sprintf("late event: older than the newest event time minus detect.allowed_lateness (%s)", lateness)))
		},
	})
	s.Log.Info("detect stage started", "rules", len(engine.Rules()))
	m := s.Metrics
	var evaluated int64                        // engine.Stats().Events already counted
	enrichSeen := map[string]enrichers.Stats{} // enricher counters already counted
	return s.consume(ctx, "detect", GroupDetect, []string{bus.TopicEvents}, nil, func(ctx context.Context, batch []bus.Record) error {
		if s.reload.Swap(false) {
			// Between batches: unchanged rules keep their state.
			if e2, c2, err := NewDetector(s.Config.Detect, badRule); err != nil {
				s.Log.Error("rules not reloaded, the running rules stay", "err", err)
			} else {
				engine.Reload(c2)
				enrich.Close()
				enrich = e2
				enrichSeen = map[string]enrichers.Stats{} // the new enrichers count from 0
				s.Log.Info("rules reloaded", "rules", len(engine.Rules()))
			}
		}
		out = out[:0]
		alerts := 0
		ruleAlerts := map[string]int{}
		for _, r := range batch {
			current = r
			ev, err := event.Unmarshal(r.Value)
			if err != nil {
				out = append(out, bus.DeadLetter("detect", r, err.Error()))
				continue
			}
			enrich.Enrich(ctx, ev)
			for _, a := range engine.Process(ev) {
				b, err := json.Marshal(a)
				if err != nil {
					return fmt.Errorf("encode alert of rule %s: %w", a.Rule.ID, err)
				}
				out = append(out, bus.Message{Topic: bus.TopicAlerts, Key: []byte(a.Vigil.Alert.Entity.String()), Value: b})
				alerts++
				ruleAlerts[a.Rule.ID]++
			}
		}
		if err := s.send(ctx, out); err != nil {
			return err
		}
		s.Progress.Alerts.Add(int64(alerts))
		s.Progress.DetectIn.Add(int64(len(batch)))
		m.StageIn.WithLabelValues("detect").Add(float64(len(batch)))
		m.StageOut.WithLabelValues("detect").Add(float64(alerts))
		for id, n := range ruleAlerts {
			m.RuleAlerts.WithLabelValues(id).Add(float64(n))
		}
		st := engine.Stats()
		m.RuleEvaluations.Add(float64(st.Events - evaluated))
		evaluated = st.Events
		m.RuleStateKeys.Reset()
		for id, n := range engine.StateKeys() {
			m.RuleStateKeys.WithLabelValues(id).Set(float64(n))
		}
		enrichSeen = observeEnrichers(m, enrich.Stats(), enrichSeen)
		return nil
	})
}

// observeEnrichers adds what the enrichers counted since seen to the
// metrics and returns the new counts.
func observeEnrichers(m *metrics.Metrics, now, seen map[string]enrichers.Stats) map[string]enrichers.Stats {
	for name, st := range now {
		before := seen[name]
		m.EnrichCache.WithLabelValues(name, "hit").Add(float64(st.CacheHits - min(before.CacheHits, st.CacheHits)))
		m.EnrichCache.WithLabelValues(name, "miss").Add(float64(st.CacheMisses - min(before.CacheMisses, st.CacheMisses)))
		m.EnrichCacheSize.WithLabelValues(name).Set(float64(st.CacheSize))
	}
	return now
}

// ReloadRules asks the detect stage to reload its rules and enrichers
// before its next batch (vigil sends it on SIGHUP). Rules whose text did
// not change keep their state; if the new rules fail to load, the running
// ones stay.
func (s *System) ReloadRules() { s.reload.Store(true) }

// NewDetector builds what the detect stage runs: the enrichers of
// detect.enrich and the rules of detect.rules, compiled with the
// enrichers' lookup functions and detect.lists. Rules that fail to load
// are reported to badRule; it is an error when none loads.
func NewDetector(cfg config.Detect, badRule func(error)) (*enrichers.Set, []*rules.Compiled, error) {
	enrich, err := enrichers.New(cfg.Enrich)
	if err != nil {
		return nil, nil, err
	}
	opts := []rules.LoadOption{rules.WithFunctions(enrich.RuleFunctions())}
	if cfg.Lists != "" {
		opts = append(opts, rules.WithLists(cfg.Lists))
	}
	compiled, errs := LoadRules(cfg.Rules, opts...)
	for _, e := range errs {
		badRule(e)
	}
	if len(compiled) == 0 {
		enrich.Close()
		return nil, nil, fmt.Errorf("detect: no rule could be loaded")
	}
	return enrich, compiled, nil
}
