package triage

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/triage/openaitest"
)

// llmStub is a scripted Engine for chain and cache tests.
type llmStub struct {
	name   string
	triage Triage
	err    error
	// gate, when set, holds every call until it is closed.
	gate    chan struct{}
	entered chan struct{}

	mu    sync.Mutex
	calls int
}

func (s *llmStub) Name() string { return s.name }

func (s *llmStub) Triage(ctx context.Context, inc *Incident) (Triage, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return Triage{}, ctx.Err()
		}
	}
	if s.err != nil {
		return Triage{}, s.err
	}
	t := s.triage
	t.Attack = slices.Clone(t.Attack)
	t.Flags = slices.Clone(t.Flags)
	return t, nil
}

func (s *llmStub) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// llmFallbackStub answers like a deterministic fallback engine would.
func llmFallbackStub() *llmStub {
	return &llmStub{name: "fallback", triage: Triage{
		Verdict: Suspicious, Confidence: 0.6, Severity: "medium",
		Summary: "Repeated failed SSH logins from 203.0.113.7.",
		Notes:   "## What happened\nRule ssh_bruteforce fired.\n",
		Attack:  []string{"T1110"}, RecommendedActions: []string{"Block the source"},
		Engine: "fallback",
	}}
}

func TestWithFallbackOnLLMFailure(t *testing.T) {
	tests := []struct {
		name      string
		script    func(*openaitest.Server)
		cfg       func(*OpenAIConfig)
		inNotes   string
		spentToks bool
	}{
		{"invalid answer twice", func(s *openaitest.Server) { s.Malformed(); s.Malformed() }, nil, "no usable answer after 2 attempts", true},
		{"refused twice", func(s *openaitest.Server) { s.Refusal("no"); s.Refusal("no") }, nil, "model refused", true},
		{"server errors beyond retries", func(s *openaitest.Server) {
			s.Status(503, "0")
			s.Status(503, "0")
		}, func(c *OpenAIConfig) { c.MaxRetries = 1 }, "503", false},
		{"timeout", func(s *openaitest.Server) { s.Delay(10 * time.Minute) }, func(c *OpenAIConfig) {
			c.Timeout = 50 * time.Millisecond
			c.MaxRetries = -1
		}, "timed out", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Config{})
			tt.script(srv)
			fb := llmFallbackStub()
			chain := WithFallback(llmEngine(t, srv, tt.cfg), fb)
			tr, err := chain.Triage(context.Background(), llmIncident("203.0.113.7", llmBaseTime, ""))
			if err != nil {
				t.Fatalf("chain returned an error instead of the fallback verdict: %v", err)
			}
			if fb.Calls() != 1 {
				t.Fatalf("fallback called %d times, want 1", fb.Calls())
			}
			if tr.Engine != "fallback" || tr.Verdict != Suspicious || tr.Summary == "" {
				t.Errorf("not the fallback's verdict: %+v", tr)
			}
			if !slices.Contains(tr.Flags, FlagLLMFailed) {
				t.Errorf("flags %v lack %s", tr.Flags, FlagLLMFailed)
			}
			if !strings.HasPrefix(tr.Notes, "## What happened") || !strings.Contains(tr.Notes, "LLM triage failed (openai:gpt-4o-mini)") ||
				!strings.Contains(tr.Notes, tt.inNotes) || !strings.Contains(tr.Notes, "fallback engine used.") {
				t.Errorf("notes do not keep the fallback's text and say why the LLM failed (%q):\n%s", tt.inNotes, tr.Notes)
			}
			if tt.spentToks != (tr.Tokens.Total > 0) {
				t.Errorf("tokens %+v; the failed answers' tokens recorded: %v", tr.Tokens, tt.spentToks)
			}
		})
	}
}

func TestWithFallbackPassesThroughAndStops(t *testing.T) {
	good := &llmStub{name: "openai:m", triage: Triage{Verdict: Malicious, Engine: "openai:m", Notes: "llm notes"}}
	broken := &llmStub{name: "openai:m", err: errors.New("connection refused")}
	failingFallback := &llmStub{name: "fallback", err: errors.New("no rules")}
	inc := llmIncident("203.0.113.7", llmBaseTime, "")

	t.Run("primary answers", func(t *testing.T) {
		fb := llmFallbackStub()
		c := WithFallback(good, fb)
		tr, err := c.Triage(context.Background(), inc)
		if err != nil || tr.Verdict != Malicious || tr.Notes != "llm notes" || len(tr.Flags) != 0 || fb.Calls() != 0 {
			t.Errorf("got %+v, %v, fallback calls %d; want the primary's verdict untouched", tr, err, fb.Calls())
		}
		if c.Name() != "openai:m" {
			t.Errorf("Name %q", c.Name())
		}
	})
	t.Run("both fail", func(t *testing.T) {
		_, err := WithFallback(broken, failingFallback).Triage(context.Background(), inc)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "no rules") {
			t.Errorf("error %v, want both causes", err)
		}
	})
	t.Run("caller cancelled", func(t *testing.T) {
		fb := llmFallbackStub()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := WithFallback(&llmStub{name: "p", err: context.Canceled}, fb).Triage(ctx, inc)
		if !errors.Is(err, context.Canceled) || fb.Calls() != 0 {
			t.Errorf("error %v, fallback calls %d; a cancelled pipeline gets no verdict", err, fb.Calls())
		}
	})
	t.Run("caller deadline spent by primary", func(t *testing.T) {
		fb := llmFallbackStub()
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		tr, err := WithFallback(&llmStub{name: "p", err: context.DeadlineExceeded}, fb).Triage(ctx, inc)
		if err != nil || fb.Calls() != 1 || !slices.Contains(tr.Flags, FlagLLMFailed) {
			t.Errorf("got %+v, %v; want the fallback verdict", tr, err)
		}
	})
}

func TestWithFallbackRealFallbackEngine(t *testing.T) {
	tests := []struct {
		name     string
		script   func(*openaitest.Server)
		deadline time.Duration // caller's deadline; 0 = none
	}{
		{"invalid answer retried once", func(s *openaitest.Server) { s.Malformed(); s.Malformed() }, 0},
		{"caller's deadline spent waiting for the LLM", func(s *openaitest.Server) { s.Delay(10 * time.Minute) }, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := openaitest.NewServer(t, openaitest.Config{})
			tt.script(srv)
			ctx := context.Background()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			chain := WithFallback(llmEngine(t, srv, nil), NewFallback())
			tr, err := chain.Triage(ctx, llmIncident("203.0.113.7", llmBaseTime, ""))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Engine != FallbackName || !slices.Contains(Verdicts, tr.Verdict) || tr.Summary == "" ||
				!slices.Contains(tr.Flags, FlagLLMFailed) || !strings.Contains(tr.Notes, "fallback engine used.") {
				t.Errorf("not a flagged fallback verdict: %+v", tr)
			}
		})
	}
}
