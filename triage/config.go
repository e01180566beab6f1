package triage

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Config is the triage section of vigil.yaml: how incidents are grouped,
// which engine judges them, and what the LLM may cost. Zero values take
// the defaults below.
type Config struct {
	// Window keeps an incident open while its entity keeps raising alerts
	// within this time (default 30m).
	Window Duration `yaml:"window"`
	// MaxSpan caps an incident's span in event time (default 24h): a
	// storm that never pauses is cut into incidents of at most MaxSpan.
	// The triage stage keeps the alerts of open incidents uncommitted on
	// vigil.alerts (a restart re-reads them to rebuild the incidents), so
	// this also bounds how far back a restart re-reads.
	MaxSpan Duration `yaml:"max_span"`
	// IdleClose closes the open incidents of an alerts partition that
	// received no alert for this long, in wall-clock time (default 2m), so
	// that a quiet partition's offsets get committed. Later alerts of
	// those entities open new incidents.
	IdleClose Duration `yaml:"idle_close"`
	// ReorderDelay is how long each alert is held so that alerts arriving
	// within it of each other are grouped in (event time, alert id) order,
	// whatever order the detect tasks produced them in: the same alerts
	// then build the same incidents with the same ids (default 2s; it
	// adds to every verdict's latency; negative turns the reordering
	// off). See Reorder.
	ReorderDelay Duration `yaml:"reorder_delay"`
	// Engine is auto (OpenAI when an API key is set, else fallback),
	// openai or fallback.
	Engine string `yaml:"engine"`
	// CacheSize answers (default 1024; negative disables the cache) are
	// kept for CacheTTL (default 24h; negative keeps them until evicted).
	CacheSize int      `yaml:"cache_size"`
	CacheTTL  Duration `yaml:"cache_ttl"`
	// ContextSize is how many entities and fingerprints the context store
	// remembers verdicts for (default 10000).
	ContextSize int `yaml:"context_size"`

	OpenAI OpenAIOptions `yaml:"openai"`

	// MaxConcurrency LLM calls at once (default 4).
	MaxConcurrency int `yaml:"max_concurrency"`
	// RequestsPerMinute and TokensPerMinute pace the calls (0: no limit).
	RequestsPerMinute int `yaml:"requests_per_minute"`
	TokensPerMinute   int `yaml:"tokens_per_minute"`
	// DailyTokenBudget caps the tokens spent per UTC day (0: no cap).
	DailyTokenBudget int `yaml:"daily_token_budget"`
	// PromptTokenBudget caps one prompt, system message included (default
	// 6000); a larger incident is summarised until it fits.
	PromptTokenBudget int `yaml:"prompt_token_budget"`
	// Breaker opens after failures consecutive LLM failures and probes
	// again after cooldown.
	Breaker BreakerConfig `yaml:"breaker"`
	// Price of the model, for triage.cost_usd.
	Price PriceConfig `yaml:"price"`
	// Redact adds secret patterns to the built-in ones.
	Redact RedactConfig `yaml:"redact"`
	// Pseudonymize replaces user names and internal IP addresses in the
	// prompt by stand-ins (USER_01, INTERNAL_IP_01) and puts them back in
	// the answer.
	Pseudonymize bool `yaml:"pseudonymize"`

	// Store is the context store to use; nil makes a new one. Set it to
	// share history between the Triager and `vigil triage explain`.
	Store *ContextStore `yaml:"-"`
	// Lookup, when set, tells the prompt and the fallback engine what the
	// enrichers know about the incident's addresses, hosts and users, even
	// when its events carry no enrichment: pass the detect stage's
	// *enrichers.Set to share its data and caches.
	Lookup EntityLookup `yaml:"-" json:"-"`
	// HTTPClient is the client for the LLM API (tests, proxies).
	HTTPClient *http.Client `yaml:"-"`
	// Now is the clock of the limits; nil is time.Now.
	Now func() time.Time `yaml:"-"`
	// Log receives the LLM's health: a WARN at the first failure after
	// answers (or at start), when the circuit breaker opens, and an INFO
	// when the LLM answers again. Nil logs nothing.
	Log *slog.Logger `yaml:"-" json:"-"`
}

// OpenAIOptions is triage.openai: where the OpenAI-compatible API is. The
// key comes from OPENAI_API_KEY, never from the file.
type OpenAIOptions struct {
	// BaseURL of an OpenAI-compatible API. Set without an API key (a
	// local Ollama, vLLM or llama.cpp server), engine auto uses it and
	// sends no Authorization header.
	BaseURL string `yaml:"base_url"`
	Model   string `yaml:"model"`
	// Timeout bounds each HTTP attempt (default 60s).
	Timeout Duration `yaml:"timeout"`
	// TotalTimeout bounds one incident's whole LLM triage: every attempt,
	// retry, backoff and wait for the limiter (default 90s). Then the
	// fallback engine answers: a hanging API delays a verdict by at most
	// this, never blocks the stage.
	TotalTimeout Duration `yaml:"total_timeout"`
	MaxRetries   int      `yaml:"max_retries"`
	APIKey       string   `yaml:"-"`
}

// PriceConfig is what the model costs, in US dollars per million tokens.
type PriceConfig struct {
	InputPerMTok  USD `yaml:"input_per_mtok"`
	OutputPerMTok USD `yaml:"output_per_mtok"`
}

// Cost estimates what t tokens cost at these prices.
func (p PriceConfig) Cost(t Tokens) float64 {
	return (float64(t.Prompt)*float64(p.InputPerMTok) + float64(t.Completion)*float64(p.OutputPerMTok)) / 1e6
}

// Config defaults.
const (
	DefaultCacheTTL          = 24 * time.Hour
	DefaultIdleClose         = 2 * time.Minute
	DefaultMaxConcurrency    = 4
	DefaultPromptTokenBudget = 6000
	// MinPromptTokenBudget is the smallest budget that holds the system
	// message and a summarised incident.
	MinPromptTokenBudget = 1500
)

// Engines triage.engine accepts.
const (
	EngineAuto     = "auto"
	EngineOpenAI   = "openai"
	EngineFallback = "fallback"
)

// withDefaults returns cfg with zero values replaced by the defaults, or
// an error naming the first bad option.
func (cfg Config) withDefaults() (Config, error) {
	cfg.Engine = strings.ToLower(strings.TrimSpace(cfg.Engine))
	switch cfg.Engine {
	case "":
		cfg.Engine = EngineAuto
	case EngineAuto, EngineOpenAI, EngineFallback:
	default:
		return cfg, fmt.Errorf("triage.engine %q: want auto, openai or fallback", cfg.Engine)
	}
	if cfg.Window <= 0 {
		cfg.Window = Duration(DefaultWindow)
	}
	if cfg.MaxSpan <= 0 {
		cfg.MaxSpan = Duration(DefaultMaxSpan)
	}
	if cfg.IdleClose <= 0 {
		cfg.IdleClose = Duration(DefaultIdleClose)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = Duration(DefaultCacheTTL)
	}
	if cfg.MaxConcurrency <= 0 {
		cfg.MaxConcurrency = DefaultMaxConcurrency
	}
	if cfg.PromptTokenBudget == 0 {
		cfg.PromptTokenBudget = DefaultPromptTokenBudget
	}
	if cfg.PromptTokenBudget < MinPromptTokenBudget {
		return cfg, fmt.Errorf("triage.prompt_token_budget %d: want at least %d (the system message alone is about 1100 tokens)",
			cfg.PromptTokenBudget, MinPromptTokenBudget)
	}
	for name, n := range map[string]int{
		"requests_per_minute": cfg.RequestsPerMinute, "tokens_per_minute": cfg.TokensPerMinute,
		"daily_token_budget": cfg.DailyTokenBudget,
	} {
		if n < 0 {
			return cfg, fmt.Errorf("triage.%s %d: want 0 (no limit) or more", name, n)
		}
	}
	if cfg.Price.InputPerMTok < 0 || cfg.Price.OutputPerMTok < 0 {
		return cfg, fmt.Errorf("triage.price: prices cannot be negative")
	}
	if cfg.OpenAI.Model == "" {
		cfg.OpenAI.Model = DefaultOpenAIModel
	}
	if cfg.OpenAI.TotalTimeout < 0 {
		return cfg, fmt.Errorf("triage.openai.total_timeout %s: want 0 (the default, %s) or more",
			time.Duration(cfg.OpenAI.TotalTimeout), DefaultOpenAITotalTimeout)
	}
	if cfg.OpenAI.TotalTimeout == 0 {
		cfg.OpenAI.TotalTimeout = Duration(DefaultOpenAITotalTimeout)
	}
	return cfg, nil
}

// Duration is a time.Duration written as "30s", "10m", "1h" in YAML and
// in VIGIL_* environment variables.
type Duration time.Duration

// UnmarshalText parses "30s", "10m", "1h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("bad duration %q (write e.g. 30s, 10m, 1h)", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as "1m30s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// USD is an amount of US dollars, written as a decimal number ("0.15").
type USD float64

// UnmarshalText parses "0.15" or "$0.15".
func (u *USD) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimSpace(string(b)), "$")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("bad price %q (write US dollars per million tokens, e.g. 0.15)", b)
	}
	*u = USD(v)
	return nil
}

// MarshalText writes the amount as a decimal number.
func (u USD) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(u), 'f', -1, 64)), nil
}
