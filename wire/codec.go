package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"

	"github.com/vigil-siem/vigil/event"
)

// headerSize is the Confluent wire format prefix: magic byte 0, then the
// schema id as a 4-byte big-endian integer.
const headerSize = 5

// Codec encodes events for Kafka topics in each topic's configured
// format and decodes records in either format. It is safe for concurrent
// use.
type Codec struct {
	formats     map[string]string
	ids         map[string]int // schema id each Avro topic writes
	client      schemaregistry.Client
	url         string
	fingerprint [32]byte // of Schema, to recognise it under any id

	mu       sync.RWMutex
	readable map[int]bool  // schema ids known to hold Schema
	rejected map[int]error // schema ids the registry answered with another schema

	keys interner // field names of decoded events
}

// New validates cfg, connects to the Schema Registry when one is
// configured and registers the event schema for every Avro topic. An
// unreachable registry, or one that refuses the schema, is an error here
// rather than on the first event.
func New(cfg Config) (*Codec, error) {
	if err := cfg.Validate("wire"); err != nil {
		return nil, err
	}
	sr := cfg.SchemaRegistry
	if sr.URL == "" {
		return NewWithClient(cfg, nil)
	}
	conf := schemaregistry.NewConfig(sr.URL)
	if sr.Username != "" {
		conf = schemaregistry.NewConfigWithBasicAuthentication(sr.URL, sr.Username, sr.Password)
	}
	client, err := schemaregistry.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("wire: schema registry client for %s: %w", sr.URL, err)
	}
	c, err := NewWithClient(cfg, client)
	if err != nil {
		client.Close()
		return nil, err
	}
	return c, nil
}

// NewWithClient is New with a registry client made by the caller (tests
// pass schemaregistry's mock client); client may be nil when no topic is
// Avro, and then Avro records cannot be decoded.
func NewWithClient(cfg Config, client schemaregistry.Client) (*Codec, error) {
	_, fp, err := parseSchema(Schema)
	if err != nil {
		return nil, fmt.Errorf("wire: event schema: %w", err)
	}
	c := &Codec{
		formats:     make(map[string]string, len(cfg.Formats)),
		ids:         map[string]int{},
		client:      client,
		url:         cfg.SchemaRegistry.URL,
		fingerprint: fp,
		readable:    map[int]bool{},
		rejected:    map[int]error{},
	}
	for t, f := range cfg.Formats {
		c.formats[t] = f
	}
	for _, topic := range cfg.avroTopics() {
		if client == nil {
			return nil, fmt.Errorf("wire: topic %s is avro but no schema registry is configured (wire.schema_registry.url)", topic)
		}
		subject := subjectOf(topic)
		id, err := client.Register(subject, schemaregistry.SchemaInfo{Schema: Schema}, false)
		if err != nil {
			return nil, fmt.Errorf("wire: register the event schema as subject %s at schema registry %s: %w", subject, c.url, err)
		}
		if id <= 0 || id > 1<<31-1 {
			return nil, fmt.Errorf("wire: schema registry %s gave subject %s the schema id %d, which the wire format cannot carry", c.url, subject, id)
		}
		c.ids[topic] = id
		c.readable[id] = true
	}
	return c, nil
}

// subjectOf is the subject of a topic's record values under Confluent's
// default TopicNameStrategy.
func subjectOf(topic string) string {
	s, _ := serde.TopicNameStrategy(topic, serde.ValueSerde, schemaregistry.SchemaInfo{}) // never fails
	return s
}

// Format returns the format Encode writes for topic: json or avro.
func (c *Codec) Format(topic string) string {
	if c.formats[topic] == FormatAvro {
		return FormatAvro
	}
	return FormatJSON
}

// SchemaID returns the schema id Encode writes for an Avro topic, and
// false for a JSON topic.
func (c *Codec) SchemaID(topic string) (int, bool) {
	id, ok := c.ids[topic]
	return id, ok
}

// Encode renders ev as the value of a record for topic: nested JSON, or
// Confluent Avro when the topic is configured avro.
func (c *Codec) Encode(topic string, ev event.Event) ([]byte, error) {
	id, ok := c.ids[topic]
	if !ok {
		b, err := event.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("wire: encode event %s for %s as JSON: %w", ev.ID(), topic, err)
		}
		return b, nil
	}
	dst := make([]byte, headerSize, 64+48*len(ev))
	binary.BigEndian.PutUint32(dst[1:], uint32(id))
	b, err := appendEvent(dst, ev)
	if err != nil {
		return nil, fmt.Errorf("wire: encode event %s for %s as Avro: %w", ev.ID(), topic, err)
	}
	return b, nil
}

// Decode reads a record value of topic in either format: a JSON object
// (after optional white space) or Confluent Avro of the event schema.
// Anything else, a truncated record or a schema id that is unknown or
// not the event schema is an error starting "decode event: " (the DLQ
// reason bucket); the caller dead-letters the record.
func (c *Codec) Decode(topic string, b []byte) (event.Event, error) {
	if len(b) == 0 {
		return nil, errors.New("decode event: empty record value")
	}
	switch b[0] {
	case serde.MagicByteV0:
		ev, err := c.decodeAvro(topic, b)
		if err != nil {
			return nil, fmt.Errorf("decode event: Confluent Avro: %w", err)
		}
		return ev, nil
	case serde.MagicByteV1:
		return nil, errors.New("decode event: Confluent wire format with a schema GUID (magic byte 1) is not supported; use schema ids")
	}
	for _, ch := range b {
		switch ch {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			ev, err := event.Unmarshal(b)
			if err != nil {
				return nil, err // event.Unmarshal says "decode event: ..."
			}
			return ev, nil
		}
		return nil, fmt.Errorf("decode event: neither a JSON object nor Confluent Avro (first byte %#02x)", ch)
	}
	return nil, errors.New("decode event: only white space")
}

func (c *Codec) decodeAvro(topic string, b []byte) (event.Event, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("header of %d bytes, want %d (magic byte and schema id)", len(b), headerSize)
	}
	id := int(binary.BigEndian.Uint32(b[1:headerSize]))
	if err := c.checkSchema(topic, id); err != nil {
		return nil, err
	}
	ev, err := readEvent(b[headerSize:], c.keys.intern)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	return ev, nil
}

// errNotEventSchema marks a schema id whose schema is not Schema.
var errNotEventSchema = errors.New("not Vigil's event schema")

// checkSchema makes sure schema id holds the event schema, asking the
// registry the first time an id is seen. Ids the registry does not know
// are asked again next time (the registry may have been down); ids it
// answered with another schema are remembered.
func (c *Codec) checkSchema(topic string, id int) error {
	c.mu.RLock()
	ok, rejected := c.readable[id], c.rejected[id]
	c.mu.RUnlock()
	if ok {
		return nil
	}
	if rejected != nil {
		return rejected
	}
	if c.client == nil {
		return fmt.Errorf("schema id %d, but no schema registry is configured (wire.schema_registry.url)", id)
	}
	subject := subjectOf(topic)
	info, err := c.client.GetBySubjectAndID(subject, id)
	if err != nil {
		return fmt.Errorf("schema id %d (subject %s) from schema registry %s: %w", id, subject, c.url, err)
	}
	if info.SchemaType != "" && info.SchemaType != "AVRO" {
		err = fmt.Errorf("schema id %d is a %s schema: %w", id, info.SchemaType, errNotEventSchema)
	} else if _, fp, perr := parseSchema(info.Schema); perr != nil {
		err = fmt.Errorf("schema id %d: %w: %w", id, errNotEventSchema, perr)
	} else if fp != c.fingerprint {
		err = fmt.Errorf("schema id %d: %w (a different Avro schema)", id, errNotEventSchema)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.rejected[id] = err
		return err
	}
	c.readable[id] = true
	return nil
}

// Close releases the registry client.
func (c *Codec) Close() error {
	if c.client == nil {
		return nil
	}
	return c.client.Close()
}
