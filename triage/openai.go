package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// OpenAI defaults.
const (
	DefaultOpenAIModel      = "gpt-4o-mini"
	DefaultOpenAITimeout    = 60 * time.Second
	DefaultOpenAIMaxRetries = 3
	// DefaultOpenAITotalTimeout bounds one incident's whole LLM triage,
	// retries included: well below librdkafka's max.poll.interval.ms
	// (5 minutes), which a triage batch must not outlast even when every
	// call of its first round hangs (the breaker refuses the rest).
	DefaultOpenAITotalTimeout = 90 * time.Second
)

// Retry pacing for 429 and 5xx answers without a usable Retry-After.
const (
	openaiBackoffBase = 250 * time.Millisecond
	openaiBackoffMax  = 30 * time.Second
)

// defaultCompletionTokens is the expected size of one answer.
const defaultCompletionTokens = 1000

// openaiAnswerAttempts is how often one incident is asked for before an
// invalid or refused answer becomes an *AnswerError.
const openaiAnswerAttempts = 2

// OpenAIConfig configures the OpenAI engine.
type OpenAIConfig struct {
	// APIKey is read from OPENAI_API_KEY and sent only in the
	// Authorization header. It is required for OpenAI's own API; with a
	// BaseURL it may be empty (a local Ollama, vLLM or llama.cpp server
	// wants none): then no Authorization header is sent.
	APIKey string
	// BaseURL of any OpenAI-compatible API ("https://host/v1"); empty is
	// OpenAI's own.
	BaseURL string
	// Model defaults to DefaultOpenAIModel.
	Model string
	// Timeout bounds each HTTP attempt; default DefaultOpenAITimeout.
	Timeout time.Duration
	// TotalTimeout bounds one incident's whole triage: every attempt,
	// retry, backoff and wait for the limiter; default
	// DefaultOpenAITotalTimeout. Past it the engine fails and the
	// fallback answers.
	TotalTimeout time.Duration
	// MaxRetries is how often a 429, 500, 502, 503, 504 or timed-out
	// request is retried; 0 means DefaultOpenAIMaxRetries, negative none.
	MaxRetries int
	// HTTPClient is optional; its transport is wrapped with the retries.
	HTTPClient *http.Client
	// Prompter renders the prompts; nil is one with redaction and no
	// token budget.
	Prompter *Prompter
	// Limiter admits each call (concurrency, rate, budget, breaker); nil
	// admits everything.
	Limiter *Limiter
	// CompletionTokens is what one answer is expected to cost, for the
	// limiter's estimates (default 1000).
	CompletionTokens int
}

// OpenAI triages incidents with a chat-completions model using structured
// output, so every answer is a JSON object checked against the schema.
type OpenAI struct {
	client     *openai.Client
	model      string
	name       string
	apiKey     string
	total      time.Duration
	format     *openai.ChatCompletionResponseFormat
	prompter   *Prompter
	limiter    *Limiter
	completion int
}

// NewOpenAI returns an engine that calls the chat-completions API at
// cfg.BaseURL.
func NewOpenAI(cfg OpenAIConfig) (*OpenAI, error) {
	if strings.TrimSpace(cfg.APIKey) == "" && strings.TrimSpace(cfg.BaseURL) == "" {
		return nil, errors.New("openai engine: no API key (set OPENAI_API_KEY, or triage.openai.base_url for a key-less local server)")
	}
	if cfg.Model == "" {
		cfg.Model = DefaultOpenAIModel
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultOpenAITimeout
	}
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = DefaultOpenAITotalTimeout
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = DefaultOpenAIMaxRetries
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &retryTransport{
		base:       base,
		maxRetries: cfg.MaxRetries,
		timeout:    cfg.Timeout,
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	if cfg.BaseURL != "" {
		oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	oc.HTTPClient = &hc
	schema, err := answerSchema()
	if err != nil {
		return nil, fmt.Errorf("openai engine: %w", err)
	}
	if cfg.Prompter == nil {
		if cfg.Prompter, err = NewPrompter(PromptConfig{Model: cfg.Model}); err != nil {
			return nil, fmt.Errorf("openai engine: %w", err)
		}
	}
	if cfg.CompletionTokens <= 0 {
		cfg.CompletionTokens = defaultCompletionTokens
	}
	return &OpenAI{
		prompter:   cfg.Prompter,
		limiter:    cfg.Limiter,
		completion: cfg.CompletionTokens,
		client:     openai.NewClientWithConfig(oc),
		model:      cfg.Model,
		name:       "openai:" + cfg.Model,
		apiKey:     cfg.APIKey,
		total:      cfg.TotalTimeout,
		format: &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:        "incident_triage",
				Description: "SOC triage verdict for one incident",
				Schema:      schema,
				Strict:      true,
			},
		},
	}, nil
}

// Name returns "openai:<model>".
func (o *OpenAI) Name() string { return o.name }

// Triage asks the model for a verdict on inc. A 429, 5xx or timeout is
// retried by the transport; an invalid or refused answer is asked for once
// more and then returned as an *AnswerError. All of it, waits for the
// limiter included, ends after the total timeout with an error wrapping
// ErrLLMTotalTimeout (and context.DeadlineExceeded).
func (o *OpenAI) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	start := time.Now()
	if inc == nil {
		return Triage{}, errors.New("openai triage: nil incident")
	}
	// Per-attempt timeouts alone let retries of a hanging API add up to
	// minutes (4 attempts of 60s, plus backoff) while the stage's batch,
	// and the verdict, wait: the whole exchange gets one deadline.
	ctx, cancel := context.WithTimeoutCause(ctx, o.total, fmt.Errorf("%w (%s)", ErrLLMTotalTimeout, o.total))
	defer cancel()
	t, err := o.triage(ctx, inc, start)
	if err != nil && errors.Is(context.Cause(ctx), ErrLLMTotalTimeout) {
		err = &totalTimeoutError{err: err, total: o.total}
	}
	return t, err
}

// ErrLLMTotalTimeout: the LLM did not answer within the total timeout of
// one incident (triage.openai.total_timeout).
var ErrLLMTotalTimeout = errors.New("no LLM answer within triage.openai.total_timeout")

// totalTimeoutError says the total timeout ended the exchange, and keeps
// what it was doing then.
type totalTimeoutError struct {
	err   error
	total time.Duration
}

func (e *totalTimeoutError) Error() string {
	return fmt.Sprintf("no answer within triage.openai.total_timeout (%s): %v", e.total, e.err)
}

func (e *totalTimeoutError) Unwrap() []error { return []error{ErrLLMTotalTimeout, e.err} }

func (o *OpenAI) triage(ctx context.Context, inc *Incident, start time.Time) (Triage, error) {
	p, err := o.prompter.Build(inc)
	if err != nil {
		return Triage{}, fmt.Errorf("openai triage: %w", err)
	}
	req := openai.ChatCompletionRequest{
		Model: o.model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: p.System},
			{Role: openai.ChatMessageRoleUser, Content: p.User},
		},
		ResponseFormat: o.format,
	}
	estimate := p.Tokens + o.completion
	if p.Tokens == 0 {
		estimate = (len(p.System)+len(p.User))/3 + o.completion
	}
	var tokens Tokens
	var last error
	for attempt := 1; attempt <= openaiAnswerAttempts; attempt++ {
		permit, err := o.limiter.Acquire(ctx, estimate)
		if err != nil {
			if tokens.Total > 0 || last != nil {
				return Triage{}, &AnswerError{Incident: inc.ID, Model: o.model, Attempts: attempt - 1, Tokens: tokens, Err: fmt.Errorf("%v; retry not admitted: %w", last, err)}
			}
			return Triage{}, fmt.Errorf("openai triage of incident %s with %s: %w", inc.ID, o.model, err)
		}
		resp, err := o.client.CreateChatCompletion(ctx, req)
		if err != nil {
			permit.Done(Tokens{}, err)
			return Triage{}, o.redact(fmt.Errorf("openai triage of incident %s with %s: %w", inc.ID, o.model, err))
		}
		used := Tokens{Prompt: resp.Usage.PromptTokens, Completion: resp.Usage.CompletionTokens, Total: resp.Usage.TotalTokens}
		tokens.Prompt += used.Prompt
		tokens.Completion += used.Completion
		tokens.Total += used.Total
		ans, err := parseAnswer(resp)
		permit.Done(used, err)
		if err != nil {
			last = err
			continue
		}
		actions := make([]string, len(ans.RecommendedActions))
		for i, a := range ans.RecommendedActions {
			actions[i] = p.Restore(a)
		}
		t := Triage{
			Verdict:            ans.Verdict,
			Confidence:         *ans.Confidence,
			Severity:           ans.Severity,
			Summary:            p.Restore(ans.Summary),
			Notes:              p.Restore(ans.Notes),
			Attack:             ans.Attack,
			RecommendedActions: actions,
			Engine:             o.name,
			Model:              o.model,
			Tokens:             tokens,
			LatencyMS:          time.Since(start).Milliseconds(),
		}
		if p.Injection {
			t.Flags = append(t.Flags, FlagPromptInjection)
		}
		return t, nil
	}
	ae := &AnswerError{Incident: inc.ID, Model: o.model, Attempts: openaiAnswerAttempts, Tokens: tokens, Err: last}
	var refused *answerRefused
	ae.Refused = errors.As(last, &refused)
	return Triage{}, ae
}

// redact removes the API key from an error message, in case a server or
// proxy echoed it back.
func (o *OpenAI) redact(err error) error {
	if o.apiKey == "" || !strings.Contains(err.Error(), o.apiKey) {
		return err
	}
	return &redactedError{err: err, secret: o.apiKey}
}

type redactedError struct {
	err    error
	secret string
}

func (e *redactedError) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "[redacted]")
}

func (e *redactedError) Unwrap() error { return e.err }

// AnswerError reports a model answer that stayed missing, invalid or
// refused after the retry. WithFallback recognises it (as any error) and
// records its Tokens, which were spent all the same.
type AnswerError struct {
	Incident string
	Model    string
	Attempts int
	// Refused: the last answer was a refusal or blocked by a content filter.
	Refused bool
	Tokens  Tokens
	// Err says what was wrong with the last answer.
	Err error
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("openai triage of incident %s with %s: no usable answer after %d attempts: %v",
		e.Incident, e.Model, e.Attempts, e.Err)
}

func (e *AnswerError) Unwrap() error { return e.Err }

// answerRefused marks a refusal or content-filter answer.
type answerRefused struct{ reason string }

func (e *answerRefused) Error() string { return e.reason }

// llmAnswer is the JSON object the schema asks for.
type llmAnswer struct {
	Verdict            string   `json:"verdict"`
	Confidence         *float64 `json:"confidence"`
	Severity           string   `json:"severity"`
	Summary            string   `json:"summary"`
	Notes              string   `json:"notes"`
	Attack             []string `json:"attack"`
	RecommendedActions []string `json:"recommended_actions"`
}

var openaiAttackIDRe = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)

// parseAnswer extracts and validates the answer of a chat completion.
func parseAnswer(resp openai.ChatCompletionResponse) (llmAnswer, error) {
	if len(resp.Choices) == 0 {
		return llmAnswer{}, errors.New("response has no choices")
	}
	c := resp.Choices[0]
	if r := strings.TrimSpace(c.Message.Refusal); r != "" {
		return llmAnswer{}, &answerRefused{reason: "model refused: " + llmShort(r, 200)}
	}
	if c.FinishReason == openai.FinishReasonContentFilter {
		return llmAnswer{}, &answerRefused{reason: "answer blocked by the content filter"}
	}
	if strings.TrimSpace(c.Message.Content) == "" {
		return llmAnswer{}, fmt.Errorf("empty answer (finish_reason %q)", c.FinishReason)
	}
	a, err := decodeAnswer(c.Message.Content)
	if err != nil && c.FinishReason == openai.FinishReasonLength {
		return llmAnswer{}, fmt.Errorf("answer cut off at the token limit: %w", err)
	}
	return a, err
}

// decodeAnswer parses and validates the answer JSON against the schema's
// rules. Attack ids are deduplicated and blank actions dropped.
func decodeAnswer(content string) (llmAnswer, error) {
	dec := json.NewDecoder(strings.NewReader(content))
	dec.DisallowUnknownFields()
	var a llmAnswer
	if err := dec.Decode(&a); err != nil {
		return llmAnswer{}, fmt.Errorf("answer is not the schema's JSON object: %w (content %q)", err, llmShort(content, 120))
	}
	if _, err := dec.Token(); err != io.EOF {
		return llmAnswer{}, fmt.Errorf("answer has data after the JSON object (content %q)", llmShort(content, 120))
	}
	switch {
	case !slices.Contains(Verdicts, a.Verdict):
		return llmAnswer{}, fmt.Errorf("answer verdict %q is not one of %s", llmShort(a.Verdict, 40), strings.Join(Verdicts, ", "))
	case !slices.Contains(Severities, a.Severity):
		return llmAnswer{}, fmt.Errorf("answer severity %q is not one of %s", llmShort(a.Severity, 40), strings.Join(Severities, ", "))
	case a.Confidence == nil:
		return llmAnswer{}, errors.New("answer has no confidence")
	case math.IsNaN(*a.Confidence) || *a.Confidence < 0 || *a.Confidence > 1:
		return llmAnswer{}, fmt.Errorf("answer confidence %v is outside 0..1", *a.Confidence)
	case strings.TrimSpace(a.Summary) == "":
		return llmAnswer{}, errors.New("answer summary is empty")
	case strings.TrimSpace(a.Notes) == "":
		return llmAnswer{}, errors.New("answer notes are empty")
	case a.Attack == nil:
		return llmAnswer{}, errors.New("answer has no attack array")
	case a.RecommendedActions == nil:
		return llmAnswer{}, errors.New("answer has no recommended_actions array")
	}
	attack := make([]string, 0, len(a.Attack))
	for _, id := range a.Attack {
		if !openaiAttackIDRe.MatchString(id) {
			return llmAnswer{}, fmt.Errorf("answer attack id %q is not an ATT&CK technique id (T1234 or T1234.567)", llmShort(id, 40))
		}
		if !slices.Contains(attack, id) {
			attack = append(attack, id)
		}
	}
	a.Attack = attack
	actions := make([]string, 0, len(a.RecommendedActions))
	for _, s := range a.RecommendedActions {
		if s = strings.TrimSpace(s); s != "" {
			actions = append(actions, s)
		}
	}
	a.RecommendedActions = actions
	a.Summary = strings.TrimSpace(a.Summary)
	return a, nil
}

// answerSchema is the strict JSON schema of llmAnswer.
func answerSchema() (json.RawMessage, error) {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"verdict": map[string]any{
				"type": "string", "enum": Verdicts,
				"description": "The triage verdict.",
			},
			"confidence": map[string]any{
				"type": "number", "minimum": 0, "maximum": 1,
				"description": "Probability from 0 to 1 that the verdict is right.",
			},
			"severity": map[string]any{
				"type": "string", "enum": Severities,
				"description": "Impact if the verdict is right.",
			},
			"summary": str("One paragraph: who did what to which entity, when, and the conclusion."),
			"notes":   str("Markdown: what happened, timeline, evidence with vigil.event_id values, why this verdict, next steps."),
			"attack": map[string]any{
				"type":        "array",
				"description": "MITRE ATT&CK technique ids supported by the evidence.",
				"items":       map[string]any{"type": "string", "pattern": `^T\d{4}(\.\d{3})?$`},
			},
			"recommended_actions": map[string]any{
				"type":        "array",
				"description": "Single imperative actions, most urgent first.",
				"items":       map[string]any{"type": "string"},
			},
		},
		"required":             []string{"verdict", "confidence", "severity", "summary", "notes", "attack", "recommended_actions"},
		"additionalProperties": false,
	}
	b, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("encode answer schema: %w", err)
	}
	return b, nil
}

// llmShort renders s on one line, at most n runes.
func llmShort(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// retryTransport retries what is worth retrying (429, 500, 502, 503, 504,
// timed-out attempts), re-sending the request body, and bounds every
// attempt with its own timeout. It lives below go-openai because the
// client's errors do not expose Retry-After.
type retryTransport struct {
	base       http.RoundTripper
	maxRetries int
	timeout    time.Duration
}

// RoundTrip sends req, retrying as described on retryTransport.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("openai transport: read body of %s %s: %w", req.Method, req.URL.Path, err)
		}
		body = b
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		resp, err := t.once(ctx, req, body)
		if !t.retryable(ctx, resp, err) || attempt >= t.maxRetries {
			if err != nil && retryIsTimeout(err) && ctx.Err() == nil {
				err = fmt.Errorf("openai transport: %s %s timed out after %s (%d attempts): %w",
					req.Method, req.URL.Path, t.timeout, attempt+1, err)
			}
			return resp, err
		}
		var h http.Header
		if resp != nil {
			h = resp.Header
		}
		wait := retryWait(attempt, h, time.Now())
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would outlive the caller: hand back what we have.
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("openai transport: waiting to retry %s %s: %w", req.Method, req.URL.Path, ctx.Err())
		case <-timer.C:
		}
	}
}

// once makes one attempt with its own timeout. The timeout's context is
// released when the response body is closed.
func (t *retryTransport) once(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

func (t *retryTransport) retryable(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return retryIsTimeout(err)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func retryIsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryWait is how long to wait before retry number attempt+1: what the
// server asked for (Retry-After-Ms, or Retry-After in seconds or as an
// HTTP date), else exponential backoff with jitter; at most 30s.
func retryWait(attempt int, h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return retryCap(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return retryCap(s * float64(time.Second))
		}
		if at, err := http.ParseTime(v); err == nil {
			return min(max(at.Sub(now), 0), openaiBackoffMax)
		}
	}
	d := openaiBackoffBase << min(attempt, 10)
	d += rand.N(d/5 + 1) // jitter, so parallel triagers do not retry in lockstep
	return min(d, openaiBackoffMax)
}

// retryCap converts a wait in nanoseconds to a Duration of at most
// openaiBackoffMax, without overflowing on absurd server values.
func retryCap(ns float64) time.Duration {
	if ns >= float64(openaiBackoffMax) {
		return openaiBackoffMax
	}
	return time.Duration(ns)
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
