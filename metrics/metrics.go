package metrics

import (
	"regexp"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector of one process, registered on its own
// registry.
type Metrics struct {
	Registry *prometheus.Registry

	// StageIn counts input records a stage handled and committed, by stage
	// (collect counts records read from its inputs).
	StageIn *prometheus.CounterVec
	// StageOut counts records a stage produced and Kafka (or the sink)
	// acknowledged, by stage.
	StageOut *prometheus.CounterVec
	// ConsumerLag is the records not yet committed by a stage's consumer
	// group on its assigned partitions, by stage and topic.
	ConsumerLag *prometheus.GaugeVec
	// ParseFailures counts lines collect could not parse, by reason.
	ParseFailures *prometheus.CounterVec
	// RuleEvaluations counts events the detect engine evaluated.
	RuleEvaluations prometheus.Counter
	// RuleAlerts counts alerts produced, by rule id.
	RuleAlerts *prometheus.CounterVec
	// RuleStateKeys is the keys each stateful rule holds, by rule id.
	RuleStateKeys *prometheus.GaugeVec
	// RuleStateEvictions counts keys of stateful rules evicted because a
	// rule held detect's maximum number of keys (least recently used first).
	RuleStateEvictions prometheus.Counter
	// StateCheckpoints counts the detect stage's state checkpoints written
	// to vigil.state, by result (ok, failed).
	StateCheckpoints *prometheus.CounterVec
	// StateCheckpointBytes counts the bytes of state written to vigil.state.
	StateCheckpointBytes prometheus.Counter
	// RuleReloads counts rule reloads of the detect stage (SIGHUP, a rule
	// file changed), by result (ok, failed).
	RuleReloads *prometheus.CounterVec
	// EnrichCache counts enrichment cache answers by enricher and result
	// (hit or miss); EnrichCacheSize is each cache's entries now.
	EnrichCache     *prometheus.CounterVec
	EnrichCacheSize *prometheus.GaugeVec
	// Incidents counts verdicts produced, by verdict (malicious, ...).
	Incidents *prometheus.CounterVec
	// LLMCalls counts triages by engine and whether the answer was cached.
	LLMCalls *prometheus.CounterVec
	// LLMTokens counts LLM tokens by kind (prompt, completion).
	LLMTokens *prometheus.CounterVec
	// LLMCost sums the estimated cost of LLM calls in US dollars.
	LLMCost prometheus.Counter
	// LLMLatency observes the latency of triages that called the LLM.
	LLMLatency prometheus.Histogram
	// LLMBreakerOpen is 1 while the LLM circuit breaker is open.
	LLMBreakerOpen prometheus.Gauge
	// LLMSpentToday is the LLM budget spent today (tokens, as the limiter counts).
	LLMSpentToday prometheus.Gauge
	// BulkItems counts documents the index stage handled, by outcome
	// (indexed, failed, retried).
	BulkItems *prometheus.CounterVec
	// DLQ counts records sent to vigil.dlq by stage and reason bucket.
	DLQ *prometheus.CounterVec
	// InputBlocked is how long each collect input has waited for the
	// pipeline (Kafka slow or down): backpressure, in seconds since start.
	InputBlocked *prometheus.GaugeVec
	// InputDropped counts records an input lost because its sender cannot
	// be pushed back (UDP syslog with a full queue).
	InputDropped *prometheus.GaugeVec

	mu      sync.Mutex
	reasons map[string]bool // reason buckets in use, bounded
	hooks   []func()
}

// maxReasons bounds the distinct reason labels of ParseFailures and DLQ;
// further reasons count as "other".
const maxReasons = 64

// New creates the collectors on a new registry, with the Go runtime and
// process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{Registry: r, reasons: map[string]bool{}}
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m.StageIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_stage_events_in_total", Help: "Input records a stage handled and committed (collect: records read from its inputs)."}, []string{"stage"})
	m.StageOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_stage_events_out_total", Help: "Records a stage produced and had acknowledged."}, []string{"stage"})
	m.ConsumerLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_stage_consumer_lag", Help: "Records of a stage's assigned partitions not yet committed (high watermark minus committed offset)."}, []string{"stage", "topic"})
	m.ParseFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collect_parse_failures_total", Help: "Lines collect could not parse (delivered flagged), by reason."}, []string{"reason"})
	m.RuleEvaluations = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_detect_rule_evaluations_total", Help: "Events the detect engine evaluated against the rules."})
	m.RuleAlerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_detect_alerts_total", Help: "Alerts produced, by rule id."}, []string{"rule"})
	m.RuleStateKeys = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_detect_rule_state_keys", Help: "Keys a stateful rule holds state for, by rule id."}, []string{"rule"})
	m.RuleStateEvictions = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_detect_rule_state_evictions_total", Help: "Keys of stateful rules evicted because a rule held its maximum number of keys (least recently used first)."})
	m.StateCheckpoints = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_detect_state_checkpoints_total", Help: "Rule state checkpoints of a partition written to vigil.state, by result (ok, failed)."}, []string{"result"})
	m.StateCheckpointBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_detect_state_checkpoint_bytes_total", Help: "Bytes of rule state written to vigil.state."})
	m.RuleReloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_detect_rule_reloads_total", Help: "Rule reloads of the detect stage (SIGHUP, a rule file changed), by result (ok, failed)."}, []string{"result"})
	m.EnrichCache = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_detect_enrich_cache_lookups_total", Help: "Enrichment cache answers, by enricher and result (hit, miss)."}, []string{"enricher", "result"})
	m.EnrichCacheSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_detect_enrich_cache_entries", Help: "Entries in an enricher's cache."}, []string{"enricher"})
	m.Incidents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_triage_verdicts_total", Help: "Verdicts produced for incidents, by verdict."}, []string{"verdict"})
	m.LLMCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_triage_judgements_total", Help: "Incidents judged, by engine and whether the answer came from the cache."}, []string{"engine", "cached"})
	m.LLMTokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_triage_llm_tokens_total", Help: "LLM tokens used, by kind (prompt, completion)."}, []string{"kind"})
	m.LLMCost = prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_triage_llm_cost_usd_total", Help: "Estimated cost of LLM calls in US dollars (triage.openai.price)."})
	m.LLMLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_triage_llm_latency_seconds", Help: "Latency of triages answered by the LLM (not cached).", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)})
	m.LLMBreakerOpen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_triage_llm_breaker_open", Help: "1 while the LLM circuit breaker is open."})
	m.LLMSpentToday = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_triage_llm_budget_spent_today", Help: "LLM budget spent today, as the limiter counts it."})
	m.BulkItems = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_index_documents_total", Help: "Documents the index stage handled, by outcome (indexed, failed, retried, stale: a verdict of a smaller version of its incident than the stored one, skipped)."}, []string{"outcome"})
	m.DLQ = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_dlq_records_total", Help: "Records sent to vigil.dlq, by stage and reason (bucketed)."}, []string{"stage", "reason"})
	m.InputBlocked = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_collect_input_blocked_seconds", Help: "Time a collect input waited for the pipeline (backpressure), since start."}, []string{"input", "type"})
	m.InputDropped = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "vigil_collect_input_dropped_records", Help: "Records an input could not keep because its sender cannot be pushed back (UDP syslog), since start."}, []string{"input", "type"})
	for _, c := range []prometheus.Collector{m.InputBlocked, m.InputDropped, m.StageIn, m.StageOut, m.ConsumerLag, m.ParseFailures, m.RuleEvaluations, m.RuleAlerts,
		m.RuleStateKeys, m.EnrichCache, m.EnrichCacheSize, m.Incidents, m.LLMCalls, m.LLMTokens, m.LLMCost, m.LLMLatency,
		m.LLMBreakerOpen, m.LLMSpentToday, m.BulkItems, m.DLQ,
		m.RuleStateEvictions, m.StateCheckpoints, m.StateCheckpointBytes, m.RuleReloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// OnScrape adds a function run before every scrape, to refresh gauges
// read from elsewhere (consumer lag).
func (m *Metrics) OnScrape(hook func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, hook)
}

func (m *Metrics) runHooks() {
	m.mu.Lock()
	hooks := append([]func(){}, m.hooks...)
	m.mu.Unlock()
	for _, h := range hooks {
		h()
	}
}

var (
	reasonCut    = regexp.MustCompile(`[:(\[{"'=]`)
	reasonDigits = regexp.MustCompile(`[0-9]+`)
)

// Reason buckets a free-text reason (a parse error, a DLQ reason) into a
// bounded label: its text before the first ':' or quote, at most four
// words, digits replaced by N, lower case; past 64 distinct buckets,
// "other". Log content never reaches a label whole.
func (m *Metrics) Reason(reason string) string {
	if i := reasonCut.FindStringIndex(reason); i != nil {
		reason = reason[:i[0]]
	}
	words := strings.Fields(strings.ToLower(reason))
	if len(words) > 4 {
		words = words[:4]
	}
	b := reasonDigits.ReplaceAllString(strings.Join(words, " "), "N")
	if len(b) > 48 {
		b = b[:48]
	}
	if b == "" {
		b = "unknown"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.reasons[b] {
		if len(m.reasons) >= maxReasons {
			return "other"
		}
		m.reasons[b] = true
	}
	return b
}
