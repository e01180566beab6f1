package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// LoadRules loads the rule directories of detect.rules, or the built-in
// pack when there are none. Bad rules are returned as errors next to the
// good rules, which still run.
func LoadRules(dirs []string) ([]*rules.Compiled, []error) {
	if len(dirs) == 0 {
		return rules.LoadFS(rules.Pack(), ".")
	}
	var all []*rules.Compiled
	var errs []error
	for _, d := range dirs {
		rs, es := rules.LoadFS(os.DirFS(d), ".")
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
	compiled, errs := LoadRules(s.Config.Detect.Rules)
	for _, err := range errs {
		s.Log.Error("rule not loaded", "err", err)
	}
	if len(compiled) == 0 {
		return fmt.Errorf("detect: no rule could be loaded")
	}
	engine := rules.NewEngine(compiled, rules.EngineConfig{})
	s.Log.Info("detect stage started", "rules", len(engine.Rules()))
	return s.consume(ctx, GroupDetect, []string{bus.TopicEvents}, func(ctx context.Context, batch []bus.Record) error {
		var out []bus.Message
		alerts := 0
		for _, r := range batch {
			ev, err := event.Unmarshal(r.Value)
			if err != nil {
				out = append(out, bus.DeadLetter("detect", r, err.Error()))
				continue
			}
			for _, a := range engine.Process(ev) {
				b, err := json.Marshal(a)
				if err != nil {
					return fmt.Errorf("encode alert of rule %s: %w", a.Rule.ID, err)
				}
				out = append(out, bus.Message{Topic: bus.TopicAlerts, Key: []byte(a.Vigil.Alert.Entity.String()), Value: b})
				alerts++
			}
		}
		if err := s.send(ctx, out); err != nil {
			return err
		}
		s.Progress.Alerts.Add(int64(alerts))
		s.Progress.DetectIn.Add(int64(len(batch)))
		return nil
	})
}
