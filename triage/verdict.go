package triage

import (
	"context"
	"time"

	"github.com/vigil-siem/vigil/rules"
)

// Verdict values (triage.verdict).
const (
	Malicious     = "malicious"
	Suspicious    = "suspicious"
	Benign        = "benign"
	FalsePositive = "false_positive"
	Inconclusive  = "inconclusive"
)

// Verdicts lists every allowed triage.verdict value.
var Verdicts = []string{Malicious, Suspicious, Benign, FalsePositive, Inconclusive}

// Severities lists every allowed triage.severity value, lowest first.
var Severities = []string{"low", "medium", "high", "critical"}

// Incident is a group of alerts about one entity within a window. Its id
// is derived from the entity and its first alert (in event-time order
// when the alerts pass through a Reorder), so a replay rebuilds the same
// incident with the same id.
type Incident struct {
	ID        string       `json:"id"`
	Entity    rules.Entity `json:"entity"`
	FirstSeen time.Time    `json:"first_seen"`
	LastSeen  time.Time    `json:"last_seen"`
	// Severity is the highest alert severity in the incident.
	Severity  string `json:"severity"`
	RiskScore int    `json:"risk_score"`
	// AlertCount is how many alerts the incident holds. It never
	// decreases for one incident id.
	AlertCount int `json:"alert_count"`
	// SuppressedCount is how many more alerts its rules raised but held
	// back by suppression (rule suppress:, counted on the alert that
	// opened the suppression window: vigil.alert.suppressed_count): the
	// incident stands for AlertCount+SuppressedCount alerts. It grows
	// when a suppression window closes and its first alert is re-emitted
	// with the final count, even after the incident was closed.
	SuppressedCount int           `json:"suppressed_count"`
	AlertIDs        []string      `json:"alert_ids"`
	Rules           []RuleSummary `json:"rules"`
	// Related entities seen in the alerts' events.
	Users []string `json:"users,omitempty"`
	Hosts []string `json:"hosts,omitempty"`
	IPs   []string `json:"ips,omitempty"`
	// Alerts holds the alerts themselves (deduplicated by id) for context
	// building; it is not indexed with the verdict.
	Alerts []rules.Alert `json:"-"`
}

// Represented is how many alerts the incident stands for: those it holds
// and those suppression held back.
func (inc *Incident) Represented() int { return inc.AlertCount + inc.SuppressedCount }

// RuleSummary counts the alerts one rule raised in an incident.
type RuleSummary struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Count    int    `json:"count"`
	Kind     string `json:"kind"`
	// Suppressed is how many more alerts of the rule suppression held
	// back (the sum of its alerts' vigil.alert.suppressed_count).
	Suppressed int `json:"suppressed,omitempty"`
}

// Represented is how many alerts the rule raised in the incident,
// suppressed ones included.
func (r RuleSummary) Represented() int { return r.Count + r.Suppressed }

// Triage is the triage.* object of a verdict.
type Triage struct {
	Verdict            string   `json:"verdict"`
	Confidence         float64  `json:"confidence"`
	Severity           string   `json:"severity"`
	Summary            string   `json:"summary"`
	Notes              string   `json:"notes"`
	Attack             []string `json:"attack"`
	RecommendedActions []string `json:"recommended_actions"`
	Engine             string   `json:"engine"`
	// Model is the LLM that answered, empty for the fallback engine.
	Model  string `json:"model,omitempty"`
	Cached bool   `json:"cached"`
	Tokens Tokens `json:"tokens"`
	// CostUSD estimates what the LLM calls of this triage cost, from the
	// configured prices per million input and output tokens.
	CostUSD   float64  `json:"cost_usd"`
	LatencyMS int64    `json:"latency_ms"`
	Flags     []string `json:"flags,omitempty"`
	// Feedback is an analyst's correction, added after the fact by
	// `vigil incidents feedback`; engines never set it.
	Feedback *Feedback `json:"feedback,omitempty"`
}

// Tokens counts the LLM tokens one triage used.
type Tokens struct {
	Prompt     int `json:"prompt"`
	Completion int `json:"completion"`
	Total      int `json:"total"`
}

// Verdict is the document indexed for an incident: the incident plus the
// triage. Its id is the incident id, so a re-triage overwrites it.
type Verdict struct {
	Timestamp time.Time    `json:"@timestamp"`
	Event     VerdictEvent `json:"event"`
	Vigil     VerdictVigil `json:"vigil"`
	Triage    Triage       `json:"triage"`
}

// VerdictEvent is the verdict's ECS event.* object.
type VerdictEvent struct {
	Kind    string    `json:"kind"`
	Created time.Time `json:"created"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
}

// VerdictVigil is vigil.* on a verdict.
type VerdictVigil struct {
	Incident Incident `json:"incident"`
}

// ID is the verdict's document id: its incident's id.
func (v Verdict) ID() string { return v.Vigil.Incident.ID }

// Engine judges one incident. Implementations must not modify the incident.
type Engine interface {
	// Name is what triage.engine records ("fallback", "openai:gpt-4o-mini").
	Name() string
	Triage(ctx context.Context, inc *Incident) (Triage, error)
}

// Flags set on triage.flags.
const (
	// FlagLLMFailed: the LLM answer was missing, invalid or refused after
	// retries, and the fallback engine answered instead.
	FlagLLMFailed = "llm_failed_fallback_used"
	// FlagPromptInjection: instruction-like text was found in log fields.
	FlagPromptInjection = "possible_prompt_injection"
	// FlagVerdictRaised: the injection guard raised a benign or
	// false-positive verdict, or a severity below the fallback engine's.
	FlagVerdictRaised = "verdict_raised_by_injection_guard"
	// FlagBudgetExhausted: the daily token budget was spent, so the
	// fallback engine answered without asking the LLM.
	FlagBudgetExhausted = "llm_budget_exhausted"
	// FlagCircuitOpen: the circuit breaker was open after repeated LLM
	// failures, so the fallback engine answered without asking the LLM.
	FlagCircuitOpen = "llm_circuit_open"
	// FlagPromptOverBudget: even the most summarised prompt was larger
	// than the prompt token budget, so the fallback engine answered.
	FlagPromptOverBudget = "prompt_over_token_budget"
	// FlagLLMDisagrees: the LLM's verdict or severity was below the
	// deterministic engine's where the evidence sets a floor (the
	// fallback engine judges the incident malicious, or an alert is high
	// or critical); the higher verdict and severity were kept, the model's
	// notes are shown next to the deterministic engine's (see NewGuard).
	FlagLLMDisagrees = "llm_disagrees_with_evidence"
	// FlagLLMAnswerDiscarded: log fields held instruction-like text, so
	// the model's summary, notes and actions were discarded (it read the
	// text it may have obeyed) and the deterministic engine's replace them.
	FlagLLMAnswerDiscarded = "llm_answer_discarded"
)

// Flags saying why the LLM did not answer, set with FlagLLMFailed (besides
// FlagBudgetExhausted, FlagCircuitOpen and FlagPromptOverBudget): they let
// a dashboard or `vigil demo` count the fallbacks by cause. The error
// itself is in the notes.
const (
	// FlagLLMAuth: the API refused the key (HTTP 401 or 403).
	FlagLLMAuth = "llm_auth_failed"
	// FlagLLMRateLimited: HTTP 429 after every retry.
	FlagLLMRateLimited = "llm_rate_limited"
	// FlagLLMServerError: HTTP 5xx after every retry, or another HTTP error.
	FlagLLMServerError = "llm_http_error"
	// FlagLLMTimeout: no answer within openai.timeout per attempt or
	// openai.total_timeout for the incident.
	FlagLLMTimeout = "llm_timeout"
	// FlagLLMUnreachable: the connection to openai.base_url failed.
	FlagLLMUnreachable = "llm_unreachable"
	// FlagLLMInvalidAnswer: the answers were not the schema's JSON, or
	// were refused, after the retry.
	FlagLLMInvalidAnswer = "llm_invalid_answer"
)
