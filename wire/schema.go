package wire

import (
	"fmt"

	"github.com/hamba/avro/v2"
)

// Schema is the Avro schema of an event, as registered in the Schema
// Registry. ECS paths are map keys, not record fields, so any event fits
// without a schema change; Value is a record of one field only because
// Avro can name (and so recurse into) records but not unions. A
// one-field record adds no bytes: on the wire a Value is its union
// branch index followed by the branch's value.
const Schema = `{
  "type": "record",
  "name": "Event",
  "namespace": "vigil",
  "doc": "One ECS event; fields are keyed by dotted ECS path (source.ip, @timestamp).",
  "fields": [
    {"name": "fields", "type": {"type": "map", "values": {
      "type": "record",
      "name": "Value",
      "doc": "A field value: a scalar, a list, or an object (e.g. threat.enrichments entries).",
      "fields": [
        {"name": "v", "type": [
          "null", "boolean", "long", "double", "string",
          {"type": "array", "items": "Value"},
          {"type": "map", "values": "Value"}
        ]}
      ]
    }}}
  ]
}`

// Union branch indexes of Value.v, in Schema's order.
const (
	branchNull = iota
	branchBoolean
	branchLong
	branchDouble
	branchString
	branchArray
	branchMap
	branchCount
)

// parseSchema parses an Avro schema text with a cache of its own (the
// library's default cache is shared by the whole process) and returns
// its parsing canonical form fingerprint.
func parseSchema(text string) (avro.Schema, [32]byte, error) {
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("parse Avro schema: %w", err)
	}
	return s, s.Fingerprint(), nil
}
