// Package pipeline runs Vigil's stages on Kafka: collect (logs → ECS
// events on vigil.events), detect (events → alerts on vigil.alerts),
// triage (alerts → incidents → verdicts on vigil.verdicts) and index
// (alerts and verdicts → Elasticsearch or NDJSON files).
//
// Each stage is its own consumer group, so running a stage in several
// processes shares its partitions among them. A stage commits its input
// offsets only after what it produced was acknowledged (by Kafka, or by
// the sink for the index stage); records it cannot decode go to vigil.dlq
// with the reason. System starts what the stages share: the embedded
// broker when no Kafka is configured, the topics and a producer.
package pipeline
