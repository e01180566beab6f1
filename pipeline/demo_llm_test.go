package pipeline_test

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/triage"
	"github.com/vigil-siem/vigil/triage/openaitest"
)

// logBuffer collects log lines from the stages' goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runLLMDemo runs the demo scenario with triage pointed at llm, with key.
func runLLMDemo(t *testing.T, llm *openaitest.Server, key string, timeout time.Duration) (*pipeline.DemoResult, string, error) {
	t.Helper()
	scenario, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t)
	cfg.Triage.Engine = "auto"
	cfg.Triage.OpenAI.APIKey = key
	cfg.Triage.OpenAI.BaseURL = llm.URL()
	var logs logBuffer
	res, err := pipeline.RunDemo(context.Background(), pipeline.DemoOptions{
		Scenario: scenario, OutputDir: t.TempDir(), Config: cfg, Timeout: timeout,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	return res, logs.String(), err
}

// An LLM endpoint that never answers: the demo still finishes within its
// timeout, with the fallback engine's verdicts, says so, and logs why.
func TestDemoFallsBackWhenTheLLMHangs(t *testing.T) {
	llm := openaitest.NewServer(t, openaitest.Config{})
	llm.SetResponder(func(openaitest.Request) openaitest.Reply {
		return openaitest.Reply{Content: openaitest.ValidAnswer, Delay: 10 * time.Minute}
	})
	start := time.Now()
	res, logs, err := runLLMDemo(t, llm, llm.APIKey(), time.Minute)
	if err != nil {
		t.Fatalf("demo failed after %s instead of falling back: %v\n%s", time.Since(start), err, logs)
	}
	if res.LLMBudget != time.Minute/8 {
		t.Errorf("LLM budget %s per incident, want an eighth of the demo's timeout", res.LLMBudget)
	}
	if len(res.Verdicts) < 2 || llm.Calls() == 0 {
		t.Fatalf("%d verdicts, %d LLM calls", len(res.Verdicts), llm.Calls())
	}
	for _, v := range res.Verdicts {
		if v.Triage.Engine != triage.FallbackName || !slices.Contains(v.Triage.Flags, triage.FlagLLMFailed) {
			t.Errorf("incident %s: engine %s flags %v, want the flagged fallback", v.Vigil.Incident.Entity, v.Triage.Engine, v.Triage.Flags)
		}
	}
	if res.FellBack() != len(res.Verdicts) {
		t.Errorf("%d of %d incidents counted as fallen back (%v)", res.FellBack(), len(res.Verdicts), res.Fallbacks)
	}
	for why := range res.Fallbacks {
		if !strings.Contains(why, "no answer in time") && !strings.Contains(why, "circuit breaker") {
			t.Errorf("fallback reason %q", why)
		}
	}
	if !strings.Contains(logs, "level=WARN msg=\"LLM triage failed") {
		t.Errorf("no WARN says the LLM failed:\n%s", logs)
	}
	if strings.Contains(logs, "elasticsearch unavailable") {
		t.Errorf("the demo writes files, yet the log blames Elasticsearch:\n%s", logs)
	}
}

// A wrong key: every incident falls back, the summary counts them with
// the reason, and the log says it once, without the key.
func TestDemoSaysTheLLMRefusedTheKey(t *testing.T) {
	const wrong = "sk-wrong-0123456789abcdef"
	llm := openaitest.NewServer(t, openaitest.Config{})
	res, logs, err := runLLMDemo(t, llm, wrong, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.FellBack() != len(res.Verdicts) || len(res.Verdicts) == 0 {
		t.Fatalf("%d of %d incidents fell back, want all (%v)", res.FellBack(), len(res.Verdicts), res.Fallbacks)
	}
	found := false
	for why := range res.Fallbacks {
		found = found || strings.Contains(why, "refused the key")
	}
	if !found {
		t.Errorf("fallback reasons %v do not name the key", res.Fallbacks)
	}
	if n := strings.Count(logs, "level=WARN msg=\"LLM triage failed"); n != 1 || !strings.Contains(logs, "refused the key") {
		t.Errorf("%d WARNs about the failing LLM, want 1 with the reason:\n%s", n, logs)
	}
	if strings.Contains(logs, wrong) {
		t.Errorf("the key is in the log:\n%s", logs)
	}
}
