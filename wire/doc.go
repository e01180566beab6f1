// Package wire is how events are written on and read from Kafka topics:
// as nested JSON (event.Marshal, the default) or, per topic, as Avro in
// the Confluent Schema Registry wire format (a zero magic byte, the
// schema id as 4 bytes big-endian, then the Avro binary record), so that
// other Kafka tooling (ksqlDB, Connect, kcat -s avro) can read vigil.events.
//
// A Codec is built from Config (wire.formats: topic → json or avro;
// wire.schema_registry: url, username, password). At start it registers
// Vigil's event schema (schema.go) under the subject <topic>-value of every
// Avro topic, so an unreachable or refusing registry stops the process
// with a clear error instead of failing on the first event.
//
// Events enter Encode as event.Event and leave as bytes for a Kafka
// record; Decode takes a record value in either format, whatever the
// configuration says, so consumers keep reading while a topic moves from
// one format to the other. A value that is neither a JSON object nor a
// Confluent Avro record of Vigil's event schema, a truncated record, or an
// unknown schema id is an error naming what is wrong; the caller
// dead-letters the record.
//
// The schema keeps ECS's dotted paths ("source.ip", "@timestamp") as map
// keys, since Avro names may contain neither dots nor '@': an event is a
// map of Value, and a Value is a union of null, boolean, long, double,
// string, an array of Value or a map of Value. Round trips are lossless:
// event.Marshal of a decoded event equals event.Marshal of the original.
// The binary codec for this one schema is written here (avro.go) rather
// than driven by the serde's reflection, for speed and because a decoder
// of outside input must bound every length it reads before it allocates.
package wire
