package wire

import (
	"fmt"
	"net/url"
	"sort"
)

// Formats a topic's events can be written in.
const (
	FormatJSON = "json"
	FormatAvro = "avro"
)

// Config says which topics carry Avro and how to reach the Schema
// Registry. Topics not named in Formats carry JSON.
type Config struct {
	// Formats maps a topic to the format its producers write: json or avro
	// (e.g. vigil.events: avro). Consumers read both either way.
	Formats map[string]string `yaml:"formats"`
	// SchemaRegistry is where Avro schemas are registered and looked up;
	// required when any topic is avro.
	SchemaRegistry SchemaRegistry `yaml:"schema_registry"`
}

// SchemaRegistry says how to reach a Confluent Schema Registry.
type SchemaRegistry struct {
	// URL is the registry's base URL, http(s)://host:port (mock:// gives an
	// in-process registry, for tests only).
	URL string `yaml:"url"`
	// Username and Password are sent as HTTP basic auth; for Confluent
	// Cloud they are the Schema Registry API key and secret. Set the
	// password from VIGIL_WIRE_SCHEMA_REGISTRY_PASSWORD, not in the file.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Validate checks formats and the registry settings; where names the
// config section in messages (e.g. "wire").
func (c Config) Validate(where string) error {
	topics := make([]string, 0, len(c.Formats))
	for t := range c.Formats {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	avro := false
	for _, t := range topics {
		switch f := c.Formats[t]; f {
		case FormatJSON:
		case FormatAvro:
			avro = true
		default:
			return fmt.Errorf("%s.formats[%s]: %q is not json or avro", where, t, f)
		}
		if t == "" {
			return fmt.Errorf("%s.formats: empty topic name", where)
		}
	}
	sr := c.SchemaRegistry
	if sr.URL == "" {
		if avro {
			return fmt.Errorf("%s.schema_registry.url: required when a topic is avro", where)
		}
		if sr.Username != "" || sr.Password != "" {
			return fmt.Errorf("%s.schema_registry: username/password set but no url", where)
		}
		return nil
	}
	u, err := url.Parse(sr.URL)
	if err != nil {
		return fmt.Errorf("%s.schema_registry.url: not a URL", where) // the parse error may echo credentials
	}
	switch u.Scheme {
	case "http", "https", "mock":
	default:
		return fmt.Errorf("%s.schema_registry.url: scheme %q is not http or https", where, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%s.schema_registry.url: credentials in the URL; use username and password (VIGIL_WIRE_SCHEMA_REGISTRY_PASSWORD)", where)
	}
	if (sr.Username == "") != (sr.Password == "") {
		return fmt.Errorf("%s.schema_registry: username and password go together (password from VIGIL_WIRE_SCHEMA_REGISTRY_PASSWORD)", where)
	}
	return nil
}

// avroTopics returns the topics written as Avro, sorted.
func (c Config) avroTopics() []string {
	var out []string
	for t, f := range c.Formats {
		if f == FormatAvro {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}
