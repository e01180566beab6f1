// Package event is Vigil's unit of data: one security event in Elastic
// Common Schema (ECS) field names, exactly as it will appear in
// Elasticsearch and Kibana.
//
// An Event is stored flat, keyed by dotted ECS path ("source.ip",
// "event.outcome"), which is how rules address fields and how
// Elasticsearch itself treats dotted keys. It enters as parser output or as
// JSON read from Kafka (nested objects and dotted keys are both accepted and
// flattened) and leaves as nested JSON with sorted keys, so the same event
// always encodes to the same bytes.
//
// Every event carries a deterministic id in vigil.event_id, derived from
// where it was read, so a line that is read twice after a crash gets the
// same id and downstream documents overwrite instead of duplicating.
package event
