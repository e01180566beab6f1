package bus

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kfake"
)

// BrokerConfig configures the embedded Kafka-protocol broker.
type BrokerConfig struct {
	// Listen is host:port; port 0 picks a free port. Default 127.0.0.1:0.
	Listen string
	// DataDir, when set, persists topics, offsets and groups across
	// restarts of the broker.
	DataDir string
	// Partitions of topics created without an explicit count (default 6).
	Partitions int
	// Retention is how long the broker keeps records (default 168h, as
	// Kafka does), and RetentionBytes how many bytes of them per partition
	// (default 256 MiB; negative: no bound). The embedded broker holds its
	// topics in memory: without a bound in bytes, a busy `vigil run`
	// would keep a week of events. The oldest records go first, consumed
	// or not, so size it for the backlog a stopped stage must survive.
	// vigil.state (compacted) is exempt: its topic settings keep every
	// key's newest checkpoint however old (see EnsureTopics).
	Retention      time.Duration
	RetentionBytes int64
	// CleanInterval is how often retention and compaction run (default
	// 15s, rather than Kafka's hour: a detector restoring its state from
	// vigil.state reads little).
	CleanInterval time.Duration
}

// DefaultRetentionBytes is BrokerConfig.RetentionBytes's default.
const DefaultRetentionBytes = 256 << 20

// Broker is an embedded single-node Kafka-protocol broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// StartBroker starts the embedded broker and returns once it listens.
func StartBroker(cfg BrokerConfig) (*Broker, error) {
	listen := cfg.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("broker listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("broker listen address %q: bad port", listen)
	}
	if host == "" || net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		return nil, fmt.Errorf("broker listen address %q: name a host clients can reach (e.g. 127.0.0.1), the broker advertises it", listen)
	}
	partitions := cfg.Partitions
	if partitions <= 0 {
		partitions = 6
	}
	opts := []kfake.Opt{
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
		kfake.DefaultNumPartitions(partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(cfg.brokerSettings()),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker on %s: %w", listen, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("start embedded broker on %s: no listener", listen)
	}
	if cfg.DataDir != "" {
		if err := keepCheckpoints(addrs[0]); err != nil {
			c.Close()
			return nil, fmt.Errorf("start embedded broker on %s: %w", listen, err)
		}
	}
	return &Broker{cluster: c, addr: addrs[0]}, nil
}

// brokerSettings are the broker-wide configurations of the embedded
// broker: retention and how often it is applied.
func (cfg BrokerConfig) brokerSettings() map[string]string {
	retention, bytes, clean := cfg.Retention, cfg.RetentionBytes, cfg.CleanInterval
	if retention <= 0 {
		retention = 7 * 24 * time.Hour
	}
	if bytes == 0 {
		bytes = DefaultRetentionBytes
	}
	if bytes < 0 {
		bytes = -1
	}
	if clean <= 0 {
		clean = 15 * time.Second
	}
	return map[string]string{
		"log.retention.ms":       strconv.FormatInt(retention.Milliseconds(), 10),
		"log.retention.bytes":    strconv.FormatInt(bytes, 10),
		"log.cleaner.backoff.ms": strconv.FormatInt(clean.Milliseconds(), 10),
	}
}

// keepCheckpoints gives a vigil.state kept in a data directory the topic
// settings EnsureTopics gives a new one: a Vigil before them created it
// with compaction only, and the embedded broker applies retention to
// compacted topics too, so it would drop old checkpoints. Setting them
// also starts the broker's cleaner, which kfake does not start for topics
// it loads from a data directory (compaction and retention would not run
// until a topic is created or altered). Nothing to do when the topic does
// not exist yet.
func keepCheckpoints(addr string) error {
	cm, err := Config{BootstrapServers: addr}.configMap(nil)
	if err != nil {
		return err
	}
	admin, err := kafka.NewAdminClient(cm)
	if err != nil {
		return fmt.Errorf("admin client: %w", err)
	}
	defer admin.Close()
	var entries []kafka.ConfigEntry
	for name, value := range topicSettings(TopicState) {
		entries = append(entries, kafka.ConfigEntry{Name: name, Value: value, IncrementalOperation: kafka.AlterConfigOpTypeSet})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results, err := admin.IncrementalAlterConfigs(ctx, []kafka.ConfigResource{{Type: kafka.ResourceTopic, Name: TopicState, Config: entries}})
	if err != nil {
		return fmt.Errorf("settings of %s: %w", TopicState, err)
	}
	for _, r := range results {
		if code := r.Error.Code(); code != kafka.ErrNoError && code != kafka.ErrUnknownTopicOrPart {
			return fmt.Errorf("settings of %s: %w", TopicState, r.Error)
		}
	}
	return nil
}

// Addr is the broker's host:port, for bootstrap.servers.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker.
func (b *Broker) Close() { b.cluster.Close() }
