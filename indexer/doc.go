// Package indexer stores alerts and verdicts where analysts read them: in
// Elasticsearch (ESSink) or, by default, in NDJSON files (FileSink).
//
// Documents enter as Doc values (kind, id, JSON body) through Sink.Write,
// which the pipeline calls with a batch consumed from Kafka and which
// returns only when every document is durably stored or permanently
// rejected; the caller then commits its Kafka offsets and sends the
// rejected ones (Failed, with the reason) to the DLQ. An error means
// nothing may be assumed stored: the batch is retried later. Every
// document is written under its deterministic id, so a replay overwrites
// instead of duplicating.
//
// ESSink sends bulk requests through the official go-elasticsearch
// client's esutil.BulkIndexer; items the cluster refuses for a while (429,
// 5xx inside a bulk answer) are re-submitted with backoff, items it
// refuses for good (mapping conflicts) come back as Failed.
//
// FileSink appends one JSON line per document to alerts.ndjson and
// verdicts.ndjson and fsyncs. A re-triaged verdict appends a newer line
// with the same id; ReadLatest (used by the demo and the CLI) returns the
// latest document per id, and Close compacts each file to one line per
// id.
//
// Verdicts are versioned by their incident's alert count (Doc): in
// Elasticsearch with version_type external_gte, a 409 for a smaller
// version counted as stale and skipped; in files by ReadLatest preferring
// the highest version.
//
// Setup installs the ILM policy and the component and index templates
// (mappings from the embedded mappings/ecs_fields.json, generated from ECS,
// plus vigil.* and triage.*), idempotently. With IndexPattern "monthly"
// each document goes to <index>-YYYY.MM of a time fixed for its id.
// IsRetryable tells an outage from a bug in a Write error.
//
// The scenario sub-package replays a demo scenario offline into the
// documents the demo indexes, for tests. The estest sub-package is the Elasticsearch-protocol test server the
// ESSink tests run against.
package indexer
