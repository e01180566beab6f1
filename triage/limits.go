package triage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors a Limiter refuses a call with. WithFallback turns them into a
// fallback answer flagged FlagBudgetExhausted or FlagCircuitOpen.
var (
	// ErrBudgetExhausted: the daily token budget cannot pay for the call.
	ErrBudgetExhausted = errors.New("daily LLM token budget exhausted")
	// ErrCircuitOpen: the LLM failed repeatedly and is given a rest.
	ErrCircuitOpen = errors.New("LLM circuit breaker open")
)

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = time.Minute
)

// LimitsConfig bounds the LLM calls of one process. Zero values mean no
// limit, except the breaker, which defaults to DefaultBreakerFailures and
// DefaultBreakerCooldown.
type LimitsConfig struct {
	// MaxConcurrency is how many LLM calls may be in flight at once.
	MaxConcurrency int
	// RequestsPerMinute and TokensPerMinute pace calls over a sliding
	// minute; a call waits (within its context) for room.
	RequestsPerMinute int
	TokensPerMinute   int
	// DailyTokenBudget is how many tokens (prompt plus completion) may be
	// spent per UTC day; a call that would exceed it is refused.
	DailyTokenBudget int
	// Breaker opens after Failures consecutive failed calls and lets one
	// probe through after Cooldown.
	Breaker BreakerConfig
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// BreakerConfig configures the circuit breaker.
type BreakerConfig struct {
	// Failures is how many consecutive failures open the breaker
	// (default 5; negative disables the breaker).
	Failures int `yaml:"failures"`
	// Cooldown is how long it stays open before a half-open probe
	// (default 1m).
	Cooldown Duration `yaml:"cooldown"`
}

// Limiter enforces LimitsConfig. Every LLM call asks Acquire first and
// reports its outcome to the Permit. It is safe for concurrent use.
type Limiter struct {
	cfg LimitsConfig
	sem chan struct{}

	mu sync.Mutex
	// sliding minute: when each recent call started and what it cost
	calls []spend
	// the UTC day being counted and what was spent in it
	day      time.Time
	dayspent int
	reserved int // estimates of calls in flight

	// breaker
	failures  int
	openUntil time.Time
	probing   bool
}

type spend struct {
	at     time.Time
	tokens int
}

// NewLimiter returns a Limiter for cfg.
func NewLimiter(cfg LimitsConfig) *Limiter {
	if cfg.Breaker.Failures == 0 {
		cfg.Breaker.Failures = DefaultBreakerFailures
	}
	if cfg.Breaker.Cooldown <= 0 {
		cfg.Breaker.Cooldown = Duration(DefaultBreakerCooldown)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Limiter{cfg: cfg}
	if cfg.MaxConcurrency > 0 {
		l.sem = make(chan struct{}, cfg.MaxConcurrency)
	}
	return l
}

// Permit is one admitted call. Done must be called exactly once.
type Permit struct {
	l        *Limiter
	estimate int
	probe    bool
	at       time.Time
	done     bool
}

// Acquire admits a call expected to use about tokens tokens: it refuses
// with ErrCircuitOpen or ErrBudgetExhausted, or waits for a concurrency
// slot and for room in the per-minute limits, or fails when ctx ends
// first.
func (l *Limiter) Acquire(ctx context.Context, tokens int) (*Permit, error) {
	if l == nil {
		return &Permit{}, nil
	}
	probe, err := l.admit(tokens)
	if err != nil {
		return nil, err
	}
	release := func() {
		l.mu.Lock()
		l.reserved -= tokens
		if probe {
			l.probing = false
		}
		l.mu.Unlock()
	}
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			release()
			return nil, fmt.Errorf("waiting for an LLM call slot: %w", ctx.Err())
		}
	}
	for {
		wait, p := l.pace(tokens, probe)
		if p != nil {
			return p, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if l.sem != nil {
				<-l.sem
			}
			release()
			return nil, fmt.Errorf("waiting for room under the LLM rate limits: %w", ctx.Err())
		}
	}
}

// admit checks the breaker and the daily budget and reserves the estimate.
func (l *Limiter) admit(tokens int) (probe bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	if l.cfg.Breaker.Failures > 0 && l.failures >= l.cfg.Breaker.Failures {
		if now.Before(l.openUntil) || l.probing {
			return false, fmt.Errorf("%w after %d consecutive failures (next probe at %s)",
				ErrCircuitOpen, l.failures, l.openUntil.UTC().Format(time.RFC3339))
		}
		probe = true // half-open: this call is the probe
		l.probing = true
	}
	if l.cfg.DailyTokenBudget > 0 {
		l.rollDay(now)
		if l.dayspent+l.reserved+tokens > l.cfg.DailyTokenBudget {
			if probe {
				l.probing = false
			}
			return false, fmt.Errorf("%w: %d of %d tokens spent today, this call needs about %d",
				ErrBudgetExhausted, l.dayspent, l.cfg.DailyTokenBudget, tokens)
		}
	}
	l.reserved += tokens
	return probe, nil
}

func (l *Limiter) rollDay(now time.Time) {
	day := now.UTC().Truncate(24 * time.Hour)
	if !day.Equal(l.day) {
		l.day, l.dayspent = day, 0
	}
}

// pace returns a permit when the sliding minute has room for the call, or
// how long to wait for room.
func (l *Limiter) pace(tokens int, probe bool) (time.Duration, *Permit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	cut := 0
	for cut < len(l.calls) && now.Sub(l.calls[cut].at) >= time.Minute {
		cut++
	}
	l.calls = l.calls[cut:]
	var wait time.Duration
	if n := l.cfg.RequestsPerMinute; n > 0 && len(l.calls) >= n {
		wait = max(wait, l.calls[len(l.calls)-n].at.Add(time.Minute).Sub(now))
	}
	if n := l.cfg.TokensPerMinute; n > 0 {
		used := 0
		for _, c := range l.calls {
			used += c.tokens
		}
		// A call larger than the whole minute's allowance goes alone.
		for i := 0; used+tokens > n && i < len(l.calls); i++ {
			used -= l.calls[i].tokens
			wait = max(wait, l.calls[i].at.Add(time.Minute).Sub(now))
		}
	}
	if wait > 0 {
		return max(wait, time.Millisecond), nil
	}
	l.calls = append(l.calls, spend{at: now, tokens: tokens})
	return 0, &Permit{l: l, estimate: tokens, probe: probe, at: now}
}

// Done reports the call's outcome: the tokens it really used (spent even
// when it failed) and whether it failed. A failure that is the caller's
// own cancellation does not count against the breaker.
func (p *Permit) Done(used Tokens, err error) {
	if p == nil || p.l == nil || p.done {
		return
	}
	p.done = true
	l := p.l
	if l.sem != nil {
		<-l.sem
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.reserved -= p.estimate
	spent := used.Total
	if spent == 0 {
		spent = used.Prompt + used.Completion
	}
	if l.cfg.DailyTokenBudget > 0 {
		l.rollDay(now)
		l.dayspent += spent
	}
	// Replace the estimate in the sliding minute with the real spend.
	for i := range l.calls {
		if l.calls[i].at.Equal(p.at) && l.calls[i].tokens == p.estimate {
			l.calls[i].tokens = spent
			break
		}
	}
	if p.probe {
		l.probing = false
	}
	switch {
	case err == nil:
		l.failures = 0
	case errors.Is(err, context.Canceled):
	default:
		l.failures++
		if l.cfg.Breaker.Failures > 0 && l.failures >= l.cfg.Breaker.Failures {
			l.openUntil = now.Add(time.Duration(l.cfg.Breaker.Cooldown))
		}
	}
}

// LimiterState is a snapshot of a Limiter, for metrics and tests.
type LimiterState struct {
	SpentToday   int
	BreakerOpen  bool
	Failures     int
	CallsLastMin int
}

// State returns the limiter's current state.
func (l *Limiter) State() LimiterState {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	l.rollDay(now)
	n := 0
	for _, c := range l.calls {
		if now.Sub(c.at) < time.Minute {
			n++
		}
	}
	return LimiterState{
		SpentToday:   l.dayspent,
		BreakerOpen:  l.cfg.Breaker.Failures > 0 && l.failures >= l.cfg.Breaker.Failures && now.Before(l.openUntil),
		Failures:     l.failures,
		CallsLastMin: n,
	}
}
