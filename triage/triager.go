package triage

import (
	"context"
	"fmt"
	"strings"
	"time"
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
}

// NewTriager builds the Triager cfg describes. With engine auto it uses
// OpenAI when cfg.OpenAI.APIKey is set and the fallback engine otherwise.
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
	if cfg.Engine == EngineOpenAI || cfg.Engine == EngineAuto && strings.TrimSpace(cfg.OpenAI.APIKey) != "" {
		tr.limiter = NewLimiter(LimitsConfig{
			MaxConcurrency:    cfg.MaxConcurrency,
			RequestsPerMinute: cfg.RequestsPerMinute,
			TokensPerMinute:   cfg.TokensPerMinute,
			DailyTokenBudget:  cfg.DailyTokenBudget,
			Breaker:           cfg.Breaker,
			Now:               cfg.Now,
		})
		llm, err := NewOpenAI(OpenAIConfig{
			APIKey:     cfg.OpenAI.APIKey,
			BaseURL:    cfg.OpenAI.BaseURL,
			Model:      cfg.OpenAI.Model,
			Timeout:    time.Duration(cfg.OpenAI.Timeout),
			MaxRetries: cfg.OpenAI.MaxRetries,
			HTTPClient: cfg.HTTPClient,
			Prompter:   prompter,
			Limiter:    tr.limiter,
		})
		if err != nil {
			return nil, fmt.Errorf("triage.openai: %w", err)
		}
		engine = WithFallback(llm, fallback)
		tr.llm = true
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

// Triage judges inc, records the cost estimate, and remembers the verdict
// for the entity's later incidents.
func (t *Triager) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	res, err := t.engine.Triage(ctx, inc)
	if err != nil {
		return Triage{}, err
	}
	res.CostUSD = t.cfg.Price.Cost(res.Tokens)
	t.store.Remember(Verdict{Vigil: VerdictVigil{Incident: *inc}, Triage: res})
	return res, nil
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
// The history comes from cfg.Store when set.
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
