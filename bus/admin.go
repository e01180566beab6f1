package bus

import (
	"context"
	"fmt"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// topicSettings are the topic configurations Vigil sets on the topics it
// creates: checkpoints are compacted, only the newest value of a key is
// kept, and never dropped for its age or the topic's size (Kafka applies
// no retention to a compact-only topic anyway; the embedded broker
// would).
func topicSettings(topic string) map[string]string {
	if topic == TopicState {
		return map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "retention.bytes": "-1"}
	}
	return nil
}

// EnsureTopics creates the topics that do not exist yet, with the
// configured partitions and replication factor (vigil.state compacted).
// Existing topics are left as they are.
func EnsureTopics(ctx context.Context, cfg Config, topics ...string) error {
	cm, err := cfg.configMap(nil)
	if err != nil {
		return err
	}
	admin, err := kafka.NewAdminClient(cm)
	if err != nil {
		return fmt.Errorf("kafka admin client for %s: %w", cfg.BootstrapServers, err)
	}
	defer admin.Close()
	specs := make([]kafka.TopicSpecification, 0, len(topics))
	for _, t := range topics {
		specs = append(specs, kafka.TopicSpecification{
			Topic:             t,
			NumPartitions:     cfg.partitions(),
			ReplicationFactor: cfg.replicationFactor(),
			Config:            topicSettings(t),
		})
	}
	results, err := admin.CreateTopics(ctx, specs)
	if err != nil {
		return fmt.Errorf("create topics on %s: %w", cfg.BootstrapServers, err)
	}
	for _, r := range results {
		if r.Error.Code() != kafka.ErrNoError && r.Error.Code() != kafka.ErrTopicAlreadyExists {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Error)
		}
	}
	return nil
}
