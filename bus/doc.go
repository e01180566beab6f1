// Package bus is Vigil's Kafka layer: every stage talks to every other stage
// through it, over the Kafka protocol, with confluent-kafka-go (librdkafka).
//
// A Producer sends keyed records and reports back only when Kafka has
// acknowledged all of them (idempotent, acks=all), so a caller can commit
// its own input afterwards. A Consumer reads batches as a member of a
// consumer group and commits a batch's offsets only after the handler has
// returned without error, which is the at-least-once half of Vigil's
// delivery guarantee (deterministic document ids are the other half).
//
// When no bootstrap servers are configured, StartBroker runs an embedded
// Kafka-protocol broker (franz-go's kfake) on 127.0.0.1, so a laptop demo
// and a production cluster use the same code path.
package bus
