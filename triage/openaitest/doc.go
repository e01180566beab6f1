// Package openaitest is an OpenAI-compatible chat-completions server for
// tests, bound to 127.0.0.1.
//
// Requests enter at POST /v1/chat/completions and are checked the way the
// real API checks them: a Bearer key equal to the configured one (401
// otherwise), a model, messages, and a strict json_schema response_format
// whose objects all set additionalProperties false and require every
// property (400 otherwise). Every request is recorded, decoded and raw,
// for assertions. Answers leave in the real API's shape (id, object,
// created, model, choices, usage); what each request gets is scripted with
// a queue of Replies (Answer, Status, Malformed, Refusal, ContentFilter,
// Delay), each consumed by one request, then a Responder, by default a
// valid triage answer.
package openaitest
