package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// triageConcurrency bounds the incidents judged at once within a batch.
const triageConcurrency = 4

// RunTriage consumes vigil.alerts, groups them into incidents, judges each
// incident that is new or changed materially, and produces its verdict on
// vigil.verdicts keyed by incident id. An alert that cannot be decoded
// goes to the DLQ.
func (s *System) RunTriage(ctx context.Context) error {
	tcfg := s.Config.Triage
	if s.Enrich != nil {
		tcfg.Lookup = s.Enrich // vigil run: the detect stage's enrichers and caches
	} else {
		own, err := enrichers.New(s.Config.Detect.Enrich) // vigil triage: its own, from detect.enrich
		if err != nil {
			return fmt.Errorf("triage: %w", err)
		}
		defer own.Close()
		tcfg.Lookup = own
	}
	engine, err := triage.NewTriager(tcfg)
	if err != nil {
		return fmt.Errorf("triage: %w", err)
	}
	grouper := triage.NewGrouper(triage.GrouperConfig{Window: time.Duration(s.Config.Triage.Window)})
	// The last triage of each incident: an incident that grows without a
	// material change (one more alert of a rule it has) is re-indexed with
	// its current counts and its last triage, without a new LLM call.
	judged, err := lru.New[string, triage.Triage](triage.DefaultMaxIncidents)
	if err != nil {
		return err
	}
	s.Log.Info("triage stage started", "engine", engine.Name())
	if lim := engine.Limiter(); lim != nil {
		s.Metrics.OnScrape(func() {
			st := lim.State()
			open := 0.0
			if st.BreakerOpen {
				open = 1
			}
			s.Metrics.LLMBreakerOpen.Set(open)
			s.Metrics.LLMSpentToday.Set(float64(st.SpentToday))
		})
	}
	return s.consume(ctx, "triage", GroupTriage, []string{bus.TopicAlerts}, nil, func(ctx context.Context, batch []bus.Record) error {
		var out []bus.Message
		var changed []*triage.Incident
		index := map[string]int{}
		rejudge := map[string]bool{}
		for _, r := range batch {
			var a rules.Alert
			if err := json.Unmarshal(r.Value, &a); err != nil {
				out = append(out, bus.DeadLetter("triage", r, err.Error()))
				continue
			}
			if a.Vigil.Alert.ID == "" {
				out = append(out, bus.DeadLetter("triage", r, "alert has no vigil.alert.id"))
				continue
			}
			inc, material := grouper.Add(a)
			if inc == nil {
				continue // a replayed alert of an incident that is gone
			}
			if material {
				rejudge[inc.ID] = true
			}
			// Each changed incident once per batch, in its latest state.
			if i, ok := index[inc.ID]; ok {
				changed[i] = inc
			} else {
				index[inc.ID] = len(changed)
				changed = append(changed, inc)
			}
		}
		var toJudge []*triage.Incident
		var verdicts []triage.Verdict
		for _, inc := range changed {
			if t, ok := judged.Get(inc.ID); ok && !rejudge[inc.ID] {
				verdicts = append(verdicts, NewVerdict(inc, t, time.Now()))
				continue
			}
			toJudge = append(toJudge, inc)
		}
		fresh, err := judge(ctx, engine, toJudge)
		if err != nil {
			return err
		}
		for _, v := range fresh {
			judged.Add(v.ID(), v.Triage)
			s.observeTriage(v.Triage)
		}
		verdicts = append(verdicts, fresh...)
		for _, v := range verdicts {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("encode verdict of incident %s: %w", v.ID(), err)
			}
			out = append(out, bus.Message{Topic: bus.TopicVerdicts, Key: []byte(v.ID()), Value: b})
		}
		if err := s.send(ctx, out); err != nil {
			return err
		}
		s.Progress.Verdicts.Add(int64(len(verdicts)))
		s.Progress.TriageIn.Add(int64(len(batch)))
		s.Metrics.StageIn.WithLabelValues("triage").Add(float64(len(batch)))
		s.Metrics.StageOut.WithLabelValues("triage").Add(float64(len(verdicts)))
		return nil
	})
}

// observeTriage counts one fresh judgement: its verdict, and for LLM
// answers the tokens, cost and latency.
func (s *System) observeTriage(t triage.Triage) {
	m := s.Metrics
	m.Incidents.WithLabelValues(t.Verdict).Inc()
	m.LLMCalls.WithLabelValues(t.Engine, strconv.FormatBool(t.Cached)).Inc()
	if t.Tokens.Total > 0 && !t.Cached {
		m.LLMTokens.WithLabelValues("prompt").Add(float64(t.Tokens.Prompt))
		m.LLMTokens.WithLabelValues("completion").Add(float64(t.Tokens.Completion))
		m.LLMCost.Add(t.CostUSD)
	}
	if t.Model != "" && !t.Cached && t.LatencyMS > 0 {
		m.LLMLatency.Observe(float64(t.LatencyMS) / 1000)
	}
}

// judge triages incidents concurrently (bounded) and returns their
// verdicts in the incidents' order.
func judge(ctx context.Context, engine triage.Engine, incs []*triage.Incident) ([]triage.Verdict, error) {
	verdicts := make([]triage.Verdict, len(incs))
	errs := make([]error, len(incs))
	sem := make(chan struct{}, triageConcurrency)
	var wg sync.WaitGroup
	for i, inc := range incs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t, err := engine.Triage(ctx, inc)
			if err != nil {
				errs[i] = fmt.Errorf("triage incident %s: %w", inc.ID, err)
				return
			}
			verdicts[i] = NewVerdict(inc, t, time.Now())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return verdicts, nil
}

// NewVerdict assembles the verdict document of an incident.
func NewVerdict(inc *triage.Incident, t triage.Triage, now time.Time) triage.Verdict {
	return triage.Verdict{
		Timestamp: inc.LastSeen,
		Event: triage.VerdictEvent{
			Kind:    "enrichment",
			Created: now.UTC(),
			Start:   inc.FirstSeen,
			End:     inc.LastSeen,
		},
		Vigil:  triage.VerdictVigil{Incident: *inc},
		Triage: t,
	}
}
