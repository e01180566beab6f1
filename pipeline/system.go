package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
)

// Consumer groups, one per stage.
const (
	GroupDetect = "vigil-detect"
	GroupTriage = "vigil-triage"
	GroupIndex  = "vigil-index"
)

// Progress counts records through the stages of one process. In counts
// input records handled and committed (dead-lettered ones included); Out
// counts records produced and acknowledged.
type Progress struct {
	Collected   atomic.Int64 // events produced by collect
	DetectIn    atomic.Int64
	Alerts      atomic.Int64 // alerts produced by detect
	TriageIn    atomic.Int64
	Verdicts    atomic.Int64 // verdicts produced by triage
	IndexIn     atomic.Int64
	DeadLetters atomic.Int64
}

// System holds what the stages of one process share.
type System struct {
	Config   config.Config
	Bus      bus.Config
	Broker   *bus.Broker // nil when an external Kafka is configured
	Producer *bus.Producer
	Progress *Progress
	Log      *slog.Logger
	// NoRegistry turns off the inputs' offset registries: the demo and
	// tests replay their files from the start every time.
	NoRegistry bool

	reload atomic.Bool // set by ReloadRules, taken by the detect stage
}

// Start connects to Kafka (or starts the embedded broker when
// kafka.bootstrap_servers is empty), creates the topics and a producer.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*System, error) {
	s := &System{Config: cfg, Bus: cfg.Kafka, Progress: &Progress{}, Log: log}
	if s.Bus.BootstrapServers == "" {
		b, err := bus.StartBroker(bus.BrokerConfig{Listen: cfg.Broker.Listen, DataDir: cfg.Broker.DataDir, Partitions: cfg.Kafka.Partitions})
		if err != nil {
			return nil, err
		}
		s.Broker = b
		s.Bus.BootstrapServers = b.Addr()
		log.Info("embedded Kafka broker started", "addr", b.Addr())
	}
	if err := bus.EnsureTopics(ctx, s.Bus, bus.Topics...); err != nil {
		s.Close()
		return nil, err
	}
	p, err := bus.NewProducer(s.Bus)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Producer = p
	return s, nil
}

// Close flushes the producer and stops the embedded broker.
func (s *System) Close() {
	if s.Producer != nil {
		s.Producer.Close(5 * time.Second)
	}
	if s.Broker != nil {
		s.Broker.Close()
	}
}

// consume runs one stage's consumer until ctx is done.
func (s *System) consume(ctx context.Context, group string, topics []string, handle func(context.Context, []bus.Record) error) error {
	c, err := bus.NewConsumer(s.Bus, bus.ConsumerConfig{
		Group:  group,
		Topics: topics,
		OnError: func(err error) {
			s.Log.Warn("kafka", "group", group, "err", err)
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Run(ctx, handle); err != nil {
		return fmt.Errorf("%s: %w", group, err)
	}
	return nil
}

// send produces messages and dead letters, counting the latter.
func (s *System) send(ctx context.Context, msgs []bus.Message) error {
	if err := s.Producer.Send(ctx, msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Topic == bus.TopicDLQ {
			s.Progress.DeadLetters.Add(1)
		}
	}
	return nil
}

// Stages runs detect, triage and index in goroutines until Stop. Errors of
// stages that fail on their own arrive on Err.
type Stages struct {
	Err    <-chan error
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartStages starts detect, triage and index on this system.
func (s *System) StartStages(ctx context.Context) *Stages {
	ctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, 3)
	st := &Stages{Err: errs, cancel: cancel}
	for _, run := range []func(context.Context) error{s.RunDetect, s.RunTriage, s.RunIndex} {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			if err := run(ctx); err != nil {
				errs <- err
			}
		}()
	}
	return st
}

// Stop stops the stages and waits for them: on the way out each commits
// what it finished and the index stage closes its sink.
func (st *Stages) Stop() {
	st.cancel()
	st.wg.Wait()
}
