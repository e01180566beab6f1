package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/metrics"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// PackPath stands for the built-in pack among the rule paths of
// detect.rules (and scan's --rules), so that a detection engineer's own
// rules run next to it: rules: ["@pack", /etc/vigil/rules].
const PackPath = "@pack"

// LoadRules loads the rule directories (or single rule files, or the pack
// as PackPath) of detect.rules, or the built-in pack when there are none.
// Bad rules are returned as errors next to the good rules, which still
// run. An id used in an earlier path is an error, and the earlier rule
// runs: to change a pack rule, copy it and disable or rename one of them.
func LoadRules(dirs []string, opts ...rules.LoadOption) ([]*rules.Compiled, []error) {
	if len(dirs) == 0 {
		return rules.LoadFS(rules.Pack(), ".", opts...)
	}
	var all []*rules.Compiled
	var errs []error
	firstAt := map[string]string{} // rule id → where it was first loaded from
	for _, d := range dirs {
		var rs []*rules.Compiled
		var es []error
		if d == PackPath {
			rs, es = rules.LoadFS(rules.Pack(), ".", opts...)
		} else {
			rs, es = rules.LoadPath(d, opts...)
		}
		errs = append(errs, es...)
		for _, c := range rs {
			where := ruleLocation(d, c.Rule)
			if first, dup := firstAt[c.Rule.ID]; dup {
				errs = append(errs, fmt.Errorf("%s: id %q is already used at %s (that rule runs)", where, c.Rule.ID, first))
				continue
			}
			firstAt[c.Rule.ID] = where
			all = append(all, c)
		}
	}
	return all, errs
}

// ruleLocation is file:line of a rule loaded from a rule path.
func ruleLocation(path string, r *rules.Rule) string {
	file := r.File
	switch st, err := os.Stat(path); {
	case path == PackPath:
		file = PackPath + "/" + r.File
	case err == nil && st.IsDir():
		file = filepath.Join(path, filepath.FromSlash(r.File))
	case err == nil:
		file = path
	}
	return fmt.Sprintf("%s:%d", file, r.Line)
}

// RunDetect consumes vigil.events, runs the rules and produces alerts on
// vigil.alerts keyed by their entity. Records that are not events go to
// the DLQ. Rules whose key is not the events' key get their events
// through vigil.detect.rekey (see routing); the rule state of each
// assigned partition is checkpointed to vigil.state and restored by the
// member the partition goes to (see detectTask). With rule directories,
// a changed rule file reloads the rules as SIGHUP does.
func (s *System) RunDetect(ctx context.Context) error {
	return s.runDetect(ctx, detectOptions{})
}

func (s *System) runDetect(ctx context.Context, opt detectOptions) error {
	cfg := s.Config.Detect
	stage := opt.stage
	if stage == "" {
		stage = "detect"
	}
	d := &detector{
		s: s, opt: opt, log: s.Log.With("consumer", stage), cfg: cfg,
		keyField:   s.Config.Collect.KeyField,
		lateness:   time.Duration(cfg.AllowedLateness),
		interval:   time.Duration(cfg.CheckpointInterval),
		idle:       opt.idle,
		tasks:      map[bus.TopicPartition]*detectTask{},
		enrichSeen: map[string]enrichers.Stats{},
		lastSaved:  time.Now(),
		hold:       map[bus.TopicPartition]int64{},
	}
	// Alerts take copies of their events to vigil.alerts and on to
	// Elasticsearch: the secrets in them are redacted as the triage stage
	// redacts prompts and verdicts, with triage.redact's patterns.
	red, redErr := triage.NewRedactor(s.Config.Triage.Redact)
	if redErr != nil {
		return fmt.Errorf("detect: %w", redErr)
	}
	d.redact = red
	initialCtx, stopInitial := context.WithCancel(context.WithoutCancel(ctx))
	d.initialCtx = initialCtx
	if d.keyField == "" {
		d.keyField = "host.name"
	}
	if d.interval <= 0 {
		d.interval = defaultCheckpointInterval
	}
	if d.idle <= 0 {
		d.idle = defaultRekeyIdle
	}
	// The state store connects and the consumer joins the group while
	// the rules compile: the rebalance hooks that need the rules and the
	// store run only once RunAsync polls.
	stores := make(chan stateStoreResult, 1)
	go func() {
		st, err := newStateStore(s.Bus)
		stores <- stateStoreResult{st, err}
	}()
	c, consErr := bus.NewConsumer(s.Bus, bus.ConsumerConfig{
		Group:    GroupDetect,
		Topics:   []string{bus.TopicEvents, bus.TopicRekey},
		OnError:  func(err error) { s.Log.Warn("kafka", "group", GroupDetect, "err", err) },
		OnAssign: d.assign,
		OnRevoke: d.revoke,
		Tick:     d.tick,
		// Larger batches than the other stages: a batch's output is
		// acknowledged while the next is evaluated (RunAsync), and the
		// round trips per event shrink with the batch.
		MaxBatch:    detectMaxBatch,
		MaxPending:  detectMaxPending,
		CommitFloor: d.commitFloor,
	})
	enrich, compiled, ruleErr := NewDetector(cfg, d.badRule)
	stored := <-stores
	if stored.st != nil {
		d.store = stored.st
		defer d.store.close() // after the consumer's last checkpoint
	}
	defer func() {
		// A first checkpoint still being written (after a crash-like
		// stop) is abandoned before the store closes.
		stopInitial()
		if d.initial != nil {
			<-d.initial
		}
	}()
	if enrich != nil {
		d.enrich, d.route = enrich, newRouting(compiled, d.keyField, opt.allLocal)
		defer func() { d.enrich.Close() }()
	}
	if consErr != nil || ruleErr != nil || stored.err != nil {
		if c != nil {
			c.Abandon() // no hook may run: the detector is not ready
			c.Close()
		}
		return errors.Join(consErr, ruleErr, stored.err)
	}
	if s.Enrich != nil {
		s.Enrich.Store(enrich)
	}
	d.log.Info("detect stage started", "rules", len(compiled), "local", len(d.route.local), "rekey_groups", len(d.route.order))

	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	if interval := time.Duration(cfg.WatchInterval); len(cfg.Rules) > 0 && interval >= 0 {
		if interval == 0 {
			interval = defaultWatchInterval
		}
		go watchRules(watchCtx, cfg.Rules, interval, func() {
			s.Log.Info("rule files changed, reloading")
			s.ReloadRules()
		})
	}

	d.cons = c
	s.trackConsumer(stage, GroupDetect, c, nil)
	defer func() {
		s.untrackConsumer(stage)
		c.Close()
	}()
	err := c.RunAsync(ctx, d.handle)
	if err != nil || opt.crash {
		// The engines may be ahead of what was produced: no checkpoint,
		// the partitions are replayed from the last one.
		c.Abandon()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%s: %w", GroupDetect, err)
		}
		return nil // stopped while a batch was being sent
	}
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := d.checkpoint(saveCtx, nil); err != nil {
		return fmt.Errorf("%s: %w", GroupDetect, err)
	}
	return nil
}

// stateStoreResult is newStateStore's answer.
type stateStoreResult struct {
	st  *stateStore
	err error
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
// between batches (vigil sends it on SIGHUP; a changed rule file does
// too). Rules whose text did
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
	opts := []rules.LoadOption{rules.WithFunctions(enrich.RuleFunctions()), rules.WithoutTests()}
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

// redactAlert returns a with the secrets in the log content it carries
// redacted (triage.Redactor): its matched events, the fields copied from
// them onto the alert, its group keys and entity, and the values its
// threshold or new_terms rule reports. The detect stage indexes no event,
// but every alert takes its events to Elasticsearch, where the project's
// rule (secrets in log content never leave the process) holds as it does
// for prompts and verdicts. Only alerts pay for it, and they are rare.
// Nothing a is built from is modified: the events are shared with the
// rule engines' state (sequences, threshold samples). The alert id,
// derived from the events' ids, does not change; a redacted entity is
// redacted the same way every time, so the alerts of one entity keep
// their Kafka key and their incident.
func redactAlert(red *triage.Redactor, a rules.Alert) rules.Alert {
	if red == nil {
		return a
	}
	d := &a.Vigil.Alert
	var evs []event.Event
	for i, e := range d.Events {
		if r, changed := red.RedactEvent(e); changed {
			if evs == nil {
				evs = slices.Clone(d.Events)
			}
			evs[i] = r
		}
	}
	if evs != nil {
		d.Events = evs
	}
	if f, changed := red.RedactEvent(a.Fields); changed {
		a.Fields = f
	}
	var keys []rules.Entity
	for i, k := range d.GroupKeys {
		if v := red.Redact(k.Value); v != k.Value {
			if keys == nil {
				keys = slices.Clone(d.GroupKeys)
			}
			keys[i].Value = v
		}
	}
	if keys != nil {
		d.GroupKeys = keys
	}
	d.Entity.Value = red.Redact(d.Entity.Value)
	if th := d.Threshold; th != nil {
		if vs, changed := red.RedactStrings(th.DistinctValues); changed {
			c := *th
			c.DistinctValues = vs
			d.Threshold = &c
		}
	}
	if nt := d.NewTerms; nt != nil {
		if vs, changed := red.RedactStrings(nt.Values); changed {
			c := *nt
			c.Values = vs
			d.NewTerms = &c
		}
	}
	return a
}
