package triage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
}

// Name is the primary's name: what the chain answers with when all is well.
func (c *fallbackChain) Name() string { return c.primary.Name() }

// Triage asks the primary, then the fallback if the primary failed.
func (c *fallbackChain) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	start := time.Now()
	t, perr := c.primary.Triage(ctx, inc)
	if perr == nil {
		return t, nil
	}
	id := ""
	if inc != nil {
		id = inc.ID
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return Triage{}, fmt.Errorf("triage incident %s: %w", id, perr)
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
// always FlagLLMFailed (so the cache does not keep it), plus why the LLM
// was not asked when a limit refused the call.
func chainFlags(err error) []string {
	flags := []string{FlagLLMFailed}
	switch {
	case errors.Is(err, ErrBudgetExhausted):
		flags = append(flags, FlagBudgetExhausted)
	case errors.Is(err, ErrCircuitOpen):
		flags = append(flags, FlagCircuitOpen)
	case errors.Is(err, ErrPromptOverBudget):
		flags = append(flags, FlagPromptOverBudget)
	}
	return flags
}
