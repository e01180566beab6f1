package bus

import (
	"fmt"
	"sort"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The topics of DESIGN.md.
const (
	TopicEvents   = "vigil.events"
	TopicAlerts   = "vigil.alerts"
	TopicVerdicts = "vigil.verdicts"
	TopicDLQ      = "vigil.dlq"
	// TopicRekey is the detect stage's internal topic: events re-keyed by
	// the join key of the rules whose key is not the events' key.
	TopicRekey = "vigil.detect.rekey"
	// TopicState holds the detect stage's rule state checkpoints
	// (compacted).
	TopicState = "vigil.state"
)

// Topics lists every topic Vigil creates on start.
var Topics = []string{TopicEvents, TopicAlerts, TopicVerdicts, TopicDLQ, TopicRekey, TopicState}

// Config says how to reach Kafka.
type Config struct {
	// BootstrapServers is librdkafka's bootstrap.servers ("host:port,...").
	BootstrapServers string `yaml:"bootstrap_servers"`
	// Partitions for topics Vigil creates (default 6).
	Partitions int `yaml:"partitions"`
	// ReplicationFactor for topics Vigil creates (default 1).
	ReplicationFactor int `yaml:"replication_factor"`
	// Settings are passed to librdkafka as they are (security.protocol,
	// sasl.mechanism, ssl.ca.location, ...). They override Vigil's defaults.
	Settings map[string]string `yaml:"settings"`
}

func (c Config) partitions() int {
	if c.Partitions <= 0 {
		return 6
	}
	return c.Partitions
}

func (c Config) replicationFactor() int {
	if c.ReplicationFactor <= 0 {
		return 1
	}
	return c.ReplicationFactor
}

// configMap builds a librdkafka configuration: Vigil's defaults for one
// client role, then the user's settings on top.
func (c Config) configMap(defaults kafka.ConfigMap) (*kafka.ConfigMap, error) {
	if c.BootstrapServers == "" {
		return nil, fmt.Errorf("kafka: bootstrap_servers is empty")
	}
	m := kafka.ConfigMap{
		"bootstrap.servers": c.BootstrapServers,
		// No client telemetry pushes: they only produce log noise here.
		"enable.metrics.push": false,
		"log_level":           3,
	}
	for k, v := range defaults {
		m[k] = v
	}
	keys := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := m.SetKey(k, c.Settings[k]); err != nil {
			return nil, fmt.Errorf("kafka.settings.%s: %w", k, err)
		}
	}
	return &m, nil
}
