// Package triage turns alerts into incidents and incidents into verdicts.
//
// Alerts arrive from the vigil.alerts topic and are grouped by entity (the
// alert's first group key: source.ip, user.name, host.name) within a
// sliding window into an Incident with a deterministic id. When an incident
// is new or changes materially (a new rule, a higher severity) it is
// judged by an Engine: the OpenAI engine when an API key is configured,
// otherwise the deterministic fallback engine, which is also what answers
// when the LLM fails. Identical incidents are answered from an LRU cache.
// The Verdict (the incident plus triage.*) leaves on vigil.verdicts, keyed
// by incident id.
package triage
