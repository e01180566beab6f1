package triage

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/rules"
)

// Triager is the engine the triage stage uses, with everything composed:
//
//	guard → cache → (OpenAI behind the limiter, then fallback)
//
// The injection guard is outermost so that no answer, cached or fresh,
// escapes it; the cache answers identical incidents without a call; the
// limiter (concurrency, requests and tokens per minute, daily budget,
// circuit breaker) admits each LLM call; and the fallback engine answers,
// flagged, whenever the LLM fails or is not asked. Every answer gets its
// cost estimate, and every verdict is remembered in the context store for
// the entity's later incidents.
type Triager struct {
	cfg      Config
	engine   Engine
	store    *ContextStore
	prompter *Prompter
	limiter  *Limiter
	llm      bool
	health   *llmHealth
}

// UsesLLM reports whether cfg asks for the LLM: engine openai, or engine
// auto with OPENAI_API_KEY or triage.openai.base_url set (a key-less
// local server: Ollama, vLLM, llama.cpp). NewTriager follows it; the demo
// and the CLI use it to say which engine answers.
func (cfg Config) UsesLLM() bool {
	switch strings.ToLower(strings.TrimSpace(cfg.Engine)) {
	case EngineOpenAI:
		return true
	case "", EngineAuto:
		return strings.TrimSpace(cfg.OpenAI.APIKey) != "" || strings.TrimSpace(cfg.OpenAI.BaseURL) != ""
	}
	return false
}

// NewTriager builds the Triager cfg describes. With engine auto it uses
// the LLM when cfg.OpenAI.APIKey or cfg.OpenAI.BaseURL is set (a base URL
// without a key is called without an Authorization header) and the
// fallback engine otherwise.
func NewTriager(cfg Config) (*Triager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	store := cfg.Store
	if store == nil {
		store = NewContextStore(cfg.ContextSize)
	}
	prompter, err := NewPrompter(cfg.promptConfig(store))
	if err != nil {
		return nil, fmt.Errorf("triage: %w", err)
	}
	tr := &Triager{cfg: cfg, store: store, prompter: prompter}
	fallback := NewFallbackWith(FallbackConfig{Lookup: cfg.Lookup})
	var engine Engine = fallback
	if cfg.UsesLLM() {
		tr.limiter = NewLimiter(LimitsConfig{
			MaxConcurrency:    cfg.MaxConcurrency,
			RequestsPerMinute: cfg.RequestsPerMinute,
			TokensPerMinute:   cfg.TokensPerMinute,
			DailyTokenBudget:  cfg.DailyTokenBudget,
			Breaker:           cfg.Breaker,
			Now:               cfg.Now,
		})
		llm, err := NewOpenAI(OpenAIConfig{
			APIKey:       cfg.OpenAI.APIKey,
			BaseURL:      cfg.OpenAI.BaseURL,
			Model:        cfg.OpenAI.Model,
			Timeout:      time.Duration(cfg.OpenAI.Timeout),
			TotalTimeout: time.Duration(cfg.OpenAI.TotalTimeout),
			MaxRetries:   cfg.OpenAI.MaxRetries,
			HTTPClient:   cfg.HTTPClient,
			Prompter:     prompter,
			Limiter:      tr.limiter,
		})
		if err != nil {
			return nil, fmt.Errorf("triage.openai: %w", err)
		}
		tr.health = &llmHealth{log: cfg.Log, limiter: tr.limiter, engine: llm.Name()}
		engine = &fallbackChain{primary: llm, fallback: fallback, observe: tr.health.observe}
		tr.llm = true
		if cfg.Log != nil && strings.TrimSpace(cfg.OpenAI.APIKey) == "" {
			cfg.Log.Info("triage: no OPENAI_API_KEY; calling triage.openai.base_url without an Authorization header",
				"base_url", cfg.OpenAI.BaseURL, "model", cfg.OpenAI.Model)
		}
	}
	if cfg.CacheSize > 0 {
		ttl := time.Duration(cfg.CacheTTL)
		if ttl < 0 {
			ttl = 0
		}
		engine = NewCached(engine, cfg.CacheSize, ttl)
	}
	tr.engine = NewGuard(engine, fallback)
	return tr, nil
}

func (cfg Config) promptConfig(store *ContextStore) PromptConfig {
	return PromptConfig{
		Model:        cfg.OpenAI.Model,
		TokenBudget:  cfg.PromptTokenBudget,
		Redact:       cfg.Redact,
		Pseudonymize: cfg.Pseudonymize,
		Store:        store,
		Lookup:       cfg.Lookup,
	}
}

// Name is what answers when all is well: "openai:<model>" or "fallback".
func (t *Triager) Name() string { return t.engine.Name() }

// Triage judges inc, redacts the answer, records the cost estimate, and
// remembers the verdict for the entity's later incidents.
func (t *Triager) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	res, err := t.engine.Triage(ctx, inc)
	if err != nil {
		return Triage{}, err
	}
	// Every verdict the stage indexes passes here, whichever engine (or
	// the cache) answered: the fallback engine quotes the events it
	// judged, a model may repeat what it read or guessed, and the guard
	// appends notes. Secrets leave the process with none of them.
	res = t.prompter.redactor.RedactTriage(res)
	res.CostUSD = t.cfg.Price.Cost(res.Tokens)
	t.store.Remember(remembered(Verdict{Vigil: VerdictVigil{Incident: *inc}, Triage: res}))
	return res, nil
}

// summaryWithheld stands for the summary of a verdict whose log fields
// held instruction-like text, in later prompts.
const summaryWithheld = "Summary withheld: log fields of this incident held a possible prompt injection."

// remembered is what the context store keeps of v for later prompts (the
// entity's history, similar incidents). The summary of a verdict flagged
// FlagPromptInjection quotes the log fields (user names, commands) that
// held the injected text: it is withheld, so that one injection neither
// reaches the prompts of every later incident of the entity or its rules
// nor gets their answers discarded as read by a steered model.
func remembered(v Verdict) Verdict {
	if slices.Contains(v.Triage.Flags, FlagPromptInjection) {
		v.Triage.Summary = summaryWithheld
	}
	return v
}

// Store is the context store the Triager reads history from and records
// verdicts in; the triage stage may feed it verdicts read back with
// analyst feedback.
func (t *Triager) Store() *ContextStore { return t.store }

// Limiter is the LLM call limiter, nil when no LLM is configured.
func (t *Triager) Limiter() *Limiter { return t.limiter }

// Explain renders the prompt the Triager would send for inc (after
// redaction and pseudonymisation, with the history it knows) and its
// token count.
func (t *Triager) Explain(inc *Incident) (prompt string, tokens int, err error) {
	return explain(t.prompter, inc)
}

// Explain renders the exact prompt that cfg's OpenAI engine would send
// for inc, after redaction and pseudonymisation, and its token count as
// the model's tokenizer counts it: what `vigil triage explain` prints.
// It goes through the Prompter the OpenAI engine uses, so the prompt is
// the request's given the same inputs: inc with its alerts in the order
// the Grouper added them (OrderAlerts) and the entity's history and
// similar incidents from cfg.Store (ExplainStore rebuilds the triage
// stage's from stored verdicts).
func Explain(inc *Incident, cfg Config) (prompt string, tokens int, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return "", 0, err
	}
	p, err := NewPrompter(cfg.promptConfig(cfg.Store))
	if err != nil {
		return "", 0, fmt.Errorf("triage explain: %w", err)
	}
	return explain(p, inc)
}

func explain(pr *Prompter, inc *Incident) (string, int, error) {
	p, err := pr.Build(inc)
	if p == nil {
		return "", 0, fmt.Errorf("triage explain: %w", err)
	}
	// Over budget still shows the prompt: that is what the audit is for.
	return p.Text(), p.Tokens, err
}

// llmHealth logs what becomes of the LLM calls, so that a wrong key, an
// API that fails or hangs, or an open breaker is seen in the logs and not
// only in verdict flags: a WARN at the first failure after answers (or
// after start), one when the circuit breaker opens, an INFO when the LLM
// answers again; nothing for the failures in between. The reason never
// holds the API key (the OpenAI engine removes it from its errors).
type llmHealth struct {
	log     *slog.Logger
	limiter *Limiter
	engine  string

	mu       sync.Mutex
	failing  bool // the last call failed
	open     bool // the breaker was reported open
	failures int  // calls failed since the last answer
}

// observe hears the outcome of one LLM call (nil: it answered).
func (h *llmHealth) observe(inc *Incident, err error) {
	if h == nil || h.log == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		switch {
		case h.open:
			h.log.Info("LLM circuit breaker closed: the LLM answers again", "engine", h.engine, "failed_calls", h.failures)
		case h.failing:
			h.log.Info("LLM triage answers again", "engine", h.engine, "failed_calls", h.failures)
		}
		h.failing, h.open, h.failures = false, false, 0
		return
	}
	flag, reason := LLMFailure(err)
	id := ""
	if inc != nil {
		id = inc.ID
	}
	h.failures++
	first := !h.failing
	h.failing = true
	if flag == FlagCircuitOpen {
		if !h.open {
			h.open = true
			h.log.Warn("LLM circuit breaker open: the fallback engine answers without asking the LLM", "engine", h.engine, "reason", reason)
		}
		return
	}
	if first {
		h.log.Warn("LLM triage failed: the fallback engine answered", "engine", h.engine, "incident", id,
			"reason", reason, "err", llmShort(err.Error(), 300))
	}
	if h.limiter != nil && !h.open {
		if st := h.limiter.State(); st.BreakerOpen {
			h.open = true
			h.log.Warn("LLM circuit breaker opened: the fallback engine answers without asking the LLM until a probe succeeds",
				"engine", h.engine, "consecutive_failures", st.Failures, "cooldown", time.Duration(h.limiter.cfg.Breaker.Cooldown).String(), "reason", reason)
		}
	}
}

// OrderAlerts puts inc.Alerts in the order their ids are listed in
// inc.AlertIDs, which is the order the Grouper added them: an incident
// rebuilt from stored alerts (read in file or search order) then renders
// the prompt the triage stage built. Alerts not listed go last, in their
// order.
func OrderAlerts(inc *Incident) {
	if inc == nil {
		return
	}
	pos := make(map[string]int, len(inc.AlertIDs))
	for i, id := range inc.AlertIDs {
		if _, dup := pos[id]; !dup {
			pos[id] = i
		}
	}
	at := func(a rules.Alert) int {
		if i, ok := pos[a.Vigil.Alert.ID]; ok {
			return i
		}
		return len(inc.AlertIDs)
	}
	slices.SortStableFunc(inc.Alerts, func(x, y rules.Alert) int { return cmp.Compare(at(x), at(y)) })
}

// ExplainStore rebuilds, from stored verdicts, the context store the
// triage stage read when it judged the verdict v: every verdict of vs
// made before v's prompt was (by event.created, less v's latency for an
// LLM answer; v's own incident left out),
// remembered oldest first and without analyst feedback, as the stage
// remembered them. It holds what
// the stage held only if the stage ran, without a restart, since the
// first of them: its store lives in memory (triage.context_size entries),
// so after a restart the request had fewer. n is how many verdicts it
// remembered.
func ExplainStore(vs []Verdict, v Verdict, size int) (store *ContextStore, n int) {
	// The stage read its store when it built the prompt, at the start of
	// the call: verdicts of incidents judged at the same time (up to 4
	// at once) that were made while this one waited for its answer were
	// not in it.
	asked := v.Event.Created
	if !v.Triage.Cached && v.Triage.LatencyMS > 0 {
		asked = asked.Add(-time.Duration(v.Triage.LatencyMS) * time.Millisecond)
	}
	before := slices.Clone(vs)
	before = slices.DeleteFunc(before, func(x Verdict) bool {
		return x.ID() == v.ID() || x.ID() == "" || !x.Event.Created.Before(asked)
	})
	slices.SortStableFunc(before, func(x, y Verdict) int { return x.Event.Created.Compare(y.Event.Created) })
	store = NewContextStore(size)
	for _, x := range before {
		// The triage stage remembers its own verdicts, before any analyst
		// feedback: so does the rebuilt store.
		x.Triage.Feedback = nil
		store.Remember(remembered(x))
	}
	return store, len(before)
}
