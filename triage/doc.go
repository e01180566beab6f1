// Package triage turns alerts into incidents and incidents into verdicts.
//
// Alerts arrive from the vigil.alerts topic, wait a moment in a Reorder so
// that they are grouped in (event time, alert id) order whatever order the
// detect tasks wrote them in, and are grouped by entity (the alert's first
// group key: source.ip, user.name, host.name) within a sliding window into
// an Incident with a deterministic id (Grouper). Alerts that suppression
// held back are counted on the incident (SuppressedCount) when the rule
// engine re-emits the window's first alert with its final count. When
// an incident is new or changes materially (a new rule, a higher
// severity) the stage asks a Triager, which NewTriager composes from a
// Config:
//
//		guard → cache → OpenAI (behind the Limiter) → fallback
//
//	  - the Guard (outermost) holds every LLM answer to the deterministic
//	    engine's assessment: when that engine judges the incident
//	    malicious or an alert is high or critical, the higher verdict
//	    and severity of the two are kept and the disagreement is flagged
//	    (llm_disagrees_with_evidence) and shown; when log text reads as
//	    instructions to the model (DetectInjection), the model's answer
//	    is discarded for the deterministic engine's
//	    (possible_prompt_injection, llm_answer_discarded) and is never
//	    benign or false_positive or below the fallback engine's severity;
//	  - the cache answers an incident with a known Fingerprint for free;
//	  - the Prompter renders a compact context (alerts grouped and counted,
//	    a sample of matched events, enrichment (from the events and, with
//	    Config.Lookup, what the enrichers know of the incident's entities;
//	    the fallback engine reads it too), the entity's history and
//	    similar verdicts from the ContextStore, with analyst feedback),
//	    neutralises delimiters and Unicode tricks, redacts secrets,
//	    optionally pseudonymises users and internal IPs, and summarises it
//	    until it fits the prompt token budget, counted offline;
//	  - the Limiter bounds concurrency, requests and tokens per minute and
//	    the daily token budget, and trips a circuit breaker;
//	  - the Fallback engine (deterministic) answers when no LLM is
//	    configured or when the LLM fails, times out (one deadline per
//	    incident, all retries included) or is not asked, with flags
//	    saying why; the Triager logs the LLM's failures, rate-limited.
//
// The Verdict (the incident plus triage.*) leaves on vigil.verdicts, keyed
// by incident id. Explain renders the exact prompt for audits, from the
// same inputs (OrderAlerts, ExplainStore). README.md lists every option.
package triage
