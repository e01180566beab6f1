package triage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// WithFallback returns an engine that asks primary and, when it fails for
// any reason (an error, an invalid answer, its deadline), asks fallback
// instead. A fallback answer keeps the fallback's engine name, carries
// FlagLLMFailed and ends its notes with the primary's error. Only a
// cancelled context (the pipeline stopping) is returned as an error
// without asking the fallback.
func WithFallback(primary, fallback Engine) Engine {
	return &fallbackChain{primary: primary, fallback: fallback}
}

type fallbackChain struct {
	primary, fallback Engine
	// observe, when set, hears the outcome of every call of the primary
	// (nil: it answered) except the caller's cancellation: the Triager
	// logs the LLM's health from it.
	observe func(inc *Incident, err error)
}

// Name is the primary's name: what the chain answers with when all is well.
func (c *fallbackChain) Name() string { return c.primary.Name() }

// Triage asks the primary, then the fallback if the primary failed.
func (c *fallbackChain) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	start := time.Now()
	t, perr := c.primary.Triage(ctx, inc)
	if perr == nil {
		if c.observe != nil {
			c.observe(inc, nil)
		}
		return t, nil
	}
	id := ""
	if inc != nil {
		id = inc.ID
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return Triage{}, fmt.Errorf("triage incident %s: %w", id, perr)
	}
	if c.observe != nil {
		c.observe(inc, perr)
	}
	fctx := ctx
	if ctx.Err() != nil {
		// The primary used up the caller's deadline; the fallback is local
		// and quick, and a verdict is better than none.
		fctx = context.WithoutCancel(ctx)
	}
	t, ferr := c.fallback.Triage(fctx, inc)
	if ferr != nil {
		return Triage{}, fmt.Errorf("triage incident %s: %s failed (%w) and fallback %s failed: %w",
			id, c.primary.Name(), perr, c.fallback.Name(), ferr)
	}
	t.Flags = slices.Clip(t.Flags)
	for _, f := range chainFlags(perr) {
		if !slices.Contains(t.Flags, f) {
			t.Flags = append(t.Flags, f)
		}
	}
	note := fmt.Sprintf("LLM triage failed (%s): %s; fallback engine used.", c.primary.Name(), llmShort(perr.Error(), 300))
	if notes := strings.TrimRight(t.Notes, "\n"); notes != "" {
		t.Notes = notes + "\n\n" + note + "\n"
	} else {
		t.Notes = note + "\n"
	}
	var ae *AnswerError
	if errors.As(perr, &ae) {
		// The invalid answers were paid for.
		t.Tokens.Prompt += ae.Tokens.Prompt
		t.Tokens.Completion += ae.Tokens.Completion
		t.Tokens.Total += ae.Tokens.Total
	}
	t.LatencyMS = time.Since(start).Milliseconds()
	return t, nil
}

// chainFlags are the flags a fallback answer gets for the primary's error:
// always FlagLLMFailed (so the cache does not keep it), plus its cause
// (LLMFailure).
func chainFlags(err error) []string {
	flags := []string{FlagLLMFailed}
	if f, _ := LLMFailure(err); f != "" {
		flags = append(flags, f)
	}
	return flags
}

// LLMFailure classifies why the LLM gave no verdict: the flag the fallback
// answer gets for it (FlagLLMAuth, FlagLLMTimeout, FlagCircuitOpen, …;
// empty when the cause is unknown) and a short reason for people
// (FallbackReason's), which never holds the API key.
func LLMFailure(err error) (flag, reason string) {
	flag = llmFailureFlag(err)
	if err == nil {
		return "", ""
	}
	return flag, FallbackReason([]string{FlagLLMFailed, flag})
}

func llmFailureFlag(err error) string {
	var ae *AnswerError
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	status := 0
	switch {
	case errors.As(err, &apiErr):
		status = apiErr.HTTPStatusCode
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
	}
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrBudgetExhausted):
		return FlagBudgetExhausted
	case errors.Is(err, ErrCircuitOpen):
		return FlagCircuitOpen
	case errors.Is(err, ErrPromptOverBudget):
		return FlagPromptOverBudget
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return FlagLLMAuth
	case status == http.StatusTooManyRequests:
		return FlagLLMRateLimited
	case status != 0:
		return FlagLLMServerError
	case errors.Is(err, ErrLLMTotalTimeout), errors.As(err, &ae) && errors.Is(err, context.DeadlineExceeded):
		return FlagLLMTimeout
	case errors.As(err, &ae):
		return FlagLLMInvalidAnswer
	case retryIsTimeout(err):
		return FlagLLMTimeout
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return FlagLLMUnreachable
	}
	return ""
}

// fallbackReasons says, per cause flag, why the LLM gave no verdict.
var fallbackReasons = map[string]string{
	FlagBudgetExhausted:  "the daily token budget is spent",
	FlagCircuitOpen:      "the circuit breaker is open after repeated LLM failures",
	FlagPromptOverBudget: "the prompt does not fit triage.prompt_token_budget",
	FlagLLMAuth:          "the API refused the key (HTTP 401/403): check OPENAI_API_KEY",
	FlagLLMRateLimited:   "rate limited (HTTP 429) after every retry",
	FlagLLMServerError:   "HTTP errors from the API after every retry",
	FlagLLMTimeout:       "no answer in time (triage.openai.timeout, total_timeout)",
	FlagLLMUnreachable:   "cannot reach triage.openai.base_url",
	FlagLLMInvalidAnswer: "the model's answers were refused or not valid verdicts",
}

// FallbackReason says why the fallback engine answered instead of the
// LLM, from a verdict's flags: "" when FlagLLMFailed is not among them.
func FallbackReason(flags []string) string {
	if !slices.Contains(flags, FlagLLMFailed) {
		return ""
	}
	for _, f := range flags {
		if r, ok := fallbackReasons[f]; ok {
			return r
		}
	}
	return "the LLM call failed"
}
