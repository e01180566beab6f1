package triage

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage/openaitest"
)

// judgeMaterial drives a Grouper and an engine as the triage stage does:
// an incident is judged when it is new or changed materially.
func judgeMaterial(t *testing.T, g *Grouper, e Engine, alerts []rules.Alert) (incidents map[string]bool, last Triage) {
	t.Helper()
	incidents = map[string]bool{}
	for _, a := range alerts {
		inc, material := g.Add(a)
		incidents[inc.ID] = true
		if !material {
			continue
		}
		var err error
		if last, err = e.Triage(context.Background(), inc); err != nil {
			t.Fatal(err)
		}
	}
	return incidents, last
}

func TestStormIsOneIncidentAndFewCalls(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Config{})
	tr := testTriager(t, srv, func(c *Config) { c.CacheSize = 0 })
	log := &authLog{host: "LabSZ"}
	const ip = "183.62.140.253"

	incs, last := judgeMaterial(t, NewGrouper(GrouperConfig{}), tr, bruteForceStorm(log, ip, t0, 5000))
	if len(incs) != 1 {
		t.Fatalf("5000 alerts made %d incidents, want 1", len(incs))
	}
	if n := srv.Calls(); n < 1 || n > 3 {
		t.Fatalf("%d LLM calls for one storm, want 1 to 3", n)
	}
	if last.Engine != "openai:gpt-4o-mini" || last.Cached {
		t.Errorf("storm answered by %s cached=%v", last.Engine, last.Cached)
	}

	// The same storm a day later is a new incident with the same
	// fingerprint: answered from the cache.
	before := srv.Calls()
	incs2, again := judgeMaterial(t, NewGrouper(GrouperConfig{}), tr, bruteForceStorm(log, ip, t0.Add(24*time.Hour), 5000))
	if len(incs2) != 1 || incs2[firstKey(incs)] {
		t.Fatalf("second storm: %d incidents, same id as the first: %v", len(incs2), incs2[firstKey(incs)])
	}
	if srv.Calls() != before {
		t.Errorf("identical second incident cost %d LLM calls, want 0", srv.Calls()-before)
	}
	if !again.Cached || again.Tokens.Total != 0 || again.CostUSD != 0 {
		t.Errorf("second incident: cached=%v tokens=%+v cost=%v, want a free cache hit", again.Cached, again.Tokens, again.CostUSD)
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

func TestLLMFailuresFallBackWithAFlag(t *testing.T) {
	base := runtime.NumGoroutine()
	tests := []struct {
		name      string
		script    func(s *openaitest.Server)
		timeout   time.Duration
		wantCalls int
		wantFlags []string
	}{
		{"429 with Retry-After then success", func(s *openaitest.Server) { s.Status(429, "0"); s.Answer(openaitest.ValidAnswer) }, 0, 2, nil},
		{"429 until retries run out", func(s *openaitest.Server) {
			for range 3 {
				s.Status(429, "0")
			}
		}, 0, 3, []string{FlagLLMFailed, FlagLLMRateLimited}},
		{"500s until retries run out", func(s *openaitest.Server) {
			for range 3 {
				s.Status(500, "")
			}
		}, 0, 3, []string{FlagLLMFailed, FlagLLMServerError}},
		{"503 then success", func(s *openaitest.Server) { s.Status(503, ""); s.Answer(openaitest.ValidAnswer) }, 0, 2, nil},
		{"timeouts", func(s *openaitest.Server) {
			for range 3 {
				s.Delay(5 * time.Second)
			}
		}, 100 * time.Millisecond, 3, []string{FlagLLMFailed, FlagLLMTimeout}},
		{"malformed JSON twice", func(s *openaitest.Server) { s.Malformed(); s.Malformed() }, 0, 2, []string{FlagLLMFailed, FlagLLMInvalidAnswer}},
		{"malformed once then valid", func(s *openaitest.Server) { s.Malformed(); s.Answer(openaitest.ValidAnswer) }, 0, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Config{})
			tt.script(srv)
			tr := testTriager(t, srv, func(c *Config) {
				if tt.timeout > 0 {
					c.OpenAI.Timeout = Duration(tt.timeout)
				}
			})
			// Medium: the model's medium answer is above the evidence floor,
			// so only the LLM's failures set flags.
			got, err := tr.Triage(context.Background(), mediumIncident("203.0.113.7", llmBaseTime))
			if err != nil {
				t.Fatal(err)
			}
			if srv.Calls() != tt.wantCalls {
				t.Errorf("%d calls, want %d", srv.Calls(), tt.wantCalls)
			}
			if !slices.Equal(got.Flags, tt.wantFlags) {
				t.Errorf("flags %v, want %v", got.Flags, tt.wantFlags)
			}
			wantEngine := "openai:gpt-4o-mini"
			if tt.wantFlags != nil {
				wantEngine = FallbackName
			}
			if got.Engine != wantEngine || got.Verdict == "" || got.Notes == "" {
				t.Errorf("answer by %q verdict %q, want a full answer by %s", got.Engine, got.Verdict, wantEngine)
			}
		})
	}
	// Every server is closed and every client's idle connections too:
	// nothing the engines started may still run.
	var n int
	for range 100 {
		if n = runtime.NumGoroutine(); n <= base {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n > base {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after the tests, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestDailyBudgetStopsCalls(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Config{})
	now := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	tr := testTriager(t, srv, func(c *Config) {
		c.DailyTokenBudget = 6000
		c.Now = func() time.Time { return now }
	})
	var flagged Triage
	for i := range 10 {
		got, err := tr.Triage(context.Background(), llmIncident("203.0.113.7", llmBaseTime.Add(time.Duration(i)*time.Hour), ""))
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(got.Flags, FlagBudgetExhausted) {
			flagged = got
			break
		}
	}
	if flagged.Engine != FallbackName {
		t.Fatalf("budget never ran out after %d calls (spent %d)", srv.Calls(), tr.Limiter().State().SpentToday)
	}
	spent := tr.Limiter().State().SpentToday
	if spent > 6000 || srv.Calls() == 0 {
		t.Errorf("spent %d tokens in %d calls, budget 6000", spent, srv.Calls())
	}
	calls := srv.Calls()
	if _, err := tr.Triage(context.Background(), llmIncident("203.0.113.8", llmBaseTime, "")); err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != calls {
		t.Errorf("a call went out after the budget was spent")
	}
	now = now.Add(24 * time.Hour) // a new day, a new budget
	got, err := tr.Triage(context.Background(), llmIncident("203.0.113.9", llmBaseTime, ""))
	if err != nil {
		t.Fatal(err)
	}
	if srv.Calls() != calls+1 || got.Engine != "openai:gpt-4o-mini" {
		t.Errorf("next day: %d calls, engine %s; want the LLM again", srv.Calls()-calls, got.Engine)
	}
}

func TestBreakerOpensAndHalfOpens(t *testing.T) {
	srv := openaitest.NewServer(t, openaitest.Config{})
	srv.SetResponder(func(openaitest.Request) openaitest.Reply { return openaitest.Reply{Status: 500} })
	now := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	tr := testTriager(t, srv, func(c *Config) {
		c.OpenAI.MaxRetries = -1
		c.Breaker = BreakerConfig{Failures: 2, Cooldown: Duration(time.Minute)}
		c.Now = func() time.Time { return now }
	})
	inc := func(i int) *Incident {
		return llmIncident("203.0.113.7", llmBaseTime.Add(time.Duration(i)*time.Hour), "")
	}
	for i := range 2 {
		got, _ := tr.Triage(context.Background(), inc(i))
		if slices.Contains(got.Flags, FlagCircuitOpen) {
			t.Fatalf("breaker open after %d failures, want 2", i)
		}
	}
	got, _ := tr.Triage(context.Background(), inc(2))
	if srv.Calls() != 2 || !slices.Contains(got.Flags, FlagCircuitOpen) || got.Engine != FallbackName {
		t.Fatalf("after 2 failures: %d calls, flags %v; want the breaker open and no third call", srv.Calls(), got.Flags)
	}
	now = now.Add(time.Minute) // half-open: one probe; it fails, the breaker reopens
	tr.Triage(context.Background(), inc(3))
	if srv.Calls() != 3 {
		t.Fatalf("no half-open probe after the cool-down (%d calls)", srv.Calls())
	}
	got, _ = tr.Triage(context.Background(), inc(4))
	if srv.Calls() != 3 || !slices.Contains(got.Flags, FlagCircuitOpen) {
		t.Fatalf("failed probe did not reopen the breaker: %d calls, flags %v", srv.Calls(), got.Flags)
	}
	now = now.Add(time.Minute)
	srv.SetResponder(nil) // the API recovers
	got, _ = tr.Triage(context.Background(), inc(5))
	if got.Engine != "openai:gpt-4o-mini" || tr.Limiter().State().Failures != 0 {
		t.Fatalf("successful probe did not close the breaker: engine %s state %+v", got.Engine, tr.Limiter().State())
	}
	tr.Triage(context.Background(), inc(6))
	if srv.Calls() != 5 {
		t.Errorf("closed breaker: %d calls, want 5", srv.Calls())
	}
}

func TestLimiterPacesAndBoundsConcurrency(t *testing.T) {
	now := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l := NewLimiter(LimitsConfig{MaxConcurrency: 1, RequestsPerMinute: 2, TokensPerMinute: 1000, Now: clock})
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Millisecond)
	}

	p1, err := l.Acquire(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := short()
	if _, err := l.Acquire(ctx, 100); err == nil || !strings.Contains(err.Error(), "slot") {
		t.Errorf("second concurrent call: %v, want it to wait for a slot", err)
	}
	cancel()
	p1.Done(Tokens{Total: 100}, nil)
	p2, err := l.Acquire(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	p2.Done(Tokens{Total: 100}, nil)
	ctx, cancel = short()
	if _, err := l.Acquire(ctx, 100); err == nil || !strings.Contains(err.Error(), "rate limits") {
		t.Errorf("third call in a minute with 2 requests/min: %v, want a wait", err)
	}
	cancel()
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	p3, err := l.Acquire(context.Background(), 900)
	if err != nil {
		t.Fatal(err)
	}
	p3.Done(Tokens{Total: 900}, nil)
	ctx, cancel = short()
	if _, err := l.Acquire(ctx, 200); err == nil {
		t.Errorf("1100 tokens in a minute with 1000 tokens/min admitted")
	}
	cancel()
}

func TestPromptFitsTokenBudgetBySummarising(t *testing.T) {
	store := NewContextStore(0)
	big := llmCorpusIncident(llmSSHLines(t, 400))
	for i := range 8 { // earlier incidents of the entity
		past := llmIncident(big.Entity.Value, llmBaseTime.Add(-time.Duration(i+1)*24*time.Hour), "")
		past.ID = "past-" + string(rune('a'+i))
		store.Remember(Verdict{Vigil: VerdictVigil{Incident: *past}, Triage: Triage{Verdict: Suspicious, Severity: "medium",
			Summary: "Earlier brute force.", Feedback: &Feedback{Verdict: Malicious, Note: "confirmed by IR"}}})
	}
	var levels []int
	var sizes []int
	for _, budget := range []int{20000, 5000, 4000, 2000, 1500} {
		p, err := mustPrompter(t, PromptConfig{Model: "gpt-4o-mini", TokenBudget: budget, Store: store}).Build(big)
		if errors.Is(err, ErrPromptOverBudget) {
			levels = append(levels, -1)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Tokens > budget {
			t.Errorf("budget %d: prompt of %d tokens", budget, p.Tokens)
		}
		if !strings.HasSuffix(p.User, promptDataClose+promptUserOutro) || !json.Valid([]byte(llmDataBlock(t, p.User))) {
			t.Errorf("budget %d: the prompt was cut instead of summarised", budget)
		}
		levels = append(levels, p.Level)
		sizes = append(sizes, p.Tokens)
		switch p.Level {
		case 0, 1:
			if !strings.Contains(p.User, "confirmed by IR") || !strings.Contains(p.User, `"events":[`) {
				t.Errorf("level %d lost the history feedback or the events", p.Level)
			}
		case 2:
			if strings.Contains(p.User, `"events":[`) || !strings.Contains(p.User, `"event_outcomes"`) {
				t.Errorf("level 2 should hold per-rule summaries instead of events")
			}
		case 3:
			if strings.Contains(p.User, "entity_history") || !strings.Contains(p.User, "earlier incident(s) of the entity") {
				t.Errorf("level 3 should drop the history and say so")
			}
		}
	}
	t.Logf("levels %v, tokens %v", levels, sizes)
	if !slices.IsSorted(levels[:len(sizes)]) || levels[0] != 0 || levels[len(levels)-1] != -1 || !slices.Contains(levels, 1) || !slices.Contains(levels, 2) || !slices.Contains(levels, 3) {
		t.Errorf("levels per shrinking budget %v: want 0 first, more summarised after, over budget last", levels)
	}
}

func TestConfigYAMLAndDefaults(t *testing.T) {
	src := `
window: 10m
engine: openai
cache_size: 50
cache_ttl: 2h
openai: {base_url: "http://127.0.0.1:1/v1", model: gpt-4.1-mini, timeout: 20s, max_retries: 2}
max_concurrency: 3
requests_per_minute: 60
tokens_per_minute: 90000
daily_token_budget: 1000000
prompt_token_budget: 5000
breaker: {failures: 4, cooldown: 45s}
price: {input_per_mtok: 0.4, output_per_mtok: 1.6}
redact: {extra_patterns: ['corp-\d{8}']}
pseudonymize: true
`
	var cfg Config
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Window != Duration(10*time.Minute) || cfg.OpenAI.Timeout != Duration(20*time.Second) || cfg.Breaker.Cooldown != Duration(45*time.Second) ||
		cfg.Price.OutputPerMTok != 1.6 || cfg.OpenAI.Model != "gpt-4.1-mini" || !cfg.Pseudonymize || len(cfg.Redact.ExtraPatterns) != 1 ||
		cfg.DailyTokenBudget != 1000000 || cfg.Breaker.Failures != 4 {
		t.Fatalf("decoded %+v", cfg)
	}
	if got := cfg.Price.Cost(Tokens{Prompt: 1_000_000, Completion: 500_000}); got < 1.1999 || got > 1.2001 {
		t.Errorf("cost of 1M in + 0.5M out at 0.4/1.6 = %v, want 1.2", got)
	}
	for _, bad := range []Config{{Engine: "gpt"}, {PromptTokenBudget: 100}, {DailyTokenBudget: -1}, {Redact: RedactConfig{ExtraPatterns: []string{"["}}}} {
		if _, err := NewTriager(bad); err == nil {
			t.Errorf("NewTriager(%+v) accepted a bad option", bad)
		}
	}
	tr, err := NewTriager(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Name() != FallbackName || tr.Limiter() != nil {
		t.Errorf("no key, engine auto: %s, want the fallback engine", tr.Name())
	}
	if _, err := NewTriager(Config{Engine: EngineOpenAI}); err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("engine openai without a key: %v", err)
	}
}

func TestExplainShowsTheRedactedPromptAndTokens(t *testing.T) {
	inc := llmIncident("203.0.113.7", llmBaseTime, " cmd: mysql -pS3cr3tValue1")
	prompt, tokens, err := Explain(inc, Config{OpenAI: OpenAIOptions{Model: "gpt-4o"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(prompt, "S3cr3tValue1") || !strings.Contains(prompt, "-p"+Redacted) {
		t.Errorf("explain output not redacted")
	}
	if !strings.Contains(prompt, "### system\n"+promptSystem) || !strings.Contains(prompt, promptDataOpen) {
		t.Errorf("explain output lacks a message")
	}
	// o200k_base packs English into about 4 bytes a token.
	if tokens < len(prompt)/8 || tokens > len(prompt)/2 {
		t.Errorf("%d tokens for %d bytes", tokens, len(prompt))
	}
	if EncodingFor("gpt-4o-mini") != "o200k_base" || EncodingFor("gpt-4") != "cl100k_base" || EncodingFor("llama3") != "cl100k_base" {
		t.Errorf("encodings: %s %s %s", EncodingFor("gpt-4o-mini"), EncodingFor("gpt-4"), EncodingFor("llama3"))
	}
}
