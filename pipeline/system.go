package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/metrics"
	"github.com/vigil-siem/vigil/wire"
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
	// Metrics are this process's Prometheus collectors (its own registry).
	Metrics *metrics.Metrics
	// Wire encodes events in each topic's format (wire.formats) and
	// decodes records in either format.
	Wire *wire.Codec
	// NoRegistry turns off the inputs' offset registries: the demo and
	// tests replay their files from the start every time.
	NoRegistry bool
	// SourceNames, when set, names files of file inputs in event ids: the
	// absolute path a file input reads → the name its events' ids hash
	// instead of that path (log.file.path keeps the path). The demo
	// names its embedded scenario's logs so, that their ids, and those of
	// the alerts and incidents made of them, are the same whatever
	// directory the demo copies them to (docs print them).
	SourceNames map[string]string
	// Enrich, when set, is where the detect stage puts its enrichers (again
	// after each reload) for the triage stage of the same process to look
	// incidents' entities up in, with the same caches. When nil, triage
	// builds its own enrichers from detect.enrich.
	Enrich *enrichers.Shared

	reload atomic.Bool // set by ReloadRules, taken by the detect stage

	mu        sync.Mutex
	consumers map[string]*bus.Consumer // running consumers by stage, for lag
	checks    map[string]metrics.Check // readiness of the running stages
}

// Start connects to Kafka (or starts the embedded broker when
// kafka.bootstrap_servers is empty), creates the topics and a producer.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*System, error) {
	s := &System{Config: cfg, Bus: cfg.Kafka, Progress: &Progress{}, Log: log, Metrics: metrics.New(),
		consumers: map[string]*bus.Consumer{}, checks: map[string]metrics.Check{}}
	s.Metrics.OnScrape(s.updateLag)
	codec, err := wire.New(cfg.Wire)
	if err != nil {
		return nil, err
	}
	s.Wire = codec
	if s.Bus.BootstrapServers == "" {
		b, err := bus.StartBroker(cfg.Broker.BusBroker(cfg.Kafka.Partitions))
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
	if s.Wire != nil {
		s.Wire.Close()
	}
	if s.Producer != nil {
		s.Producer.Close(5 * time.Second)
	}
	if s.Broker != nil {
		s.Broker.Close()
	}
}

// consume runs one stage's consumer until ctx is done. While it runs, the
// stage is ready once the group assigned it partitions (and extra, when
// set, passes), and its lag is reported.
func (s *System) consume(ctx context.Context, stage, group string, topics []string, extra metrics.Check, handle func(context.Context, []bus.Record) error) error {
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
	s.trackConsumer(stage, group, c, extra)
	defer func() {
		s.untrackConsumer(stage)
		c.Close()
	}()
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
			s.Metrics.DLQ.WithLabelValues(m.Headers[bus.HeaderDLQStage], s.Metrics.Reason(m.Headers[bus.HeaderDLQReason])).Inc()
		}
	}
	return nil
}

// setCheck sets (or with nil removes) the readiness check of a stage.
func (s *System) setCheck(stage string, c metrics.Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		delete(s.checks, stage)
		return
	}
	s.checks[stage] = c
}

// Ready says whether every stage running in this process is ready: its
// consumer has partitions (so Kafka is reachable), the index stage's sink
// answers, collect reaches Kafka. It is an error before any stage started.
func (s *System) Ready(ctx context.Context) error {
	s.mu.Lock()
	checks := make(map[string]metrics.Check, len(s.checks))
	for k, v := range s.checks {
		checks[k] = v
	}
	s.mu.Unlock()
	if len(checks) == 0 {
		return fmt.Errorf("no stage is running")
	}
	names := make([]string, 0, len(checks))
	for k := range checks {
		names = append(names, k)
	}
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if err := checks[n](ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}

// updateLag refreshes vigil_stage_consumer_lag from the running consumers.
func (s *System) updateLag() {
	s.mu.Lock()
	defer s.mu.Unlock() // held: a consumer is not closed while its lag is read
	for stage, c := range s.consumers {
		lag, err := c.Lag(2 * time.Second)
		if err != nil {
			s.Log.Warn("consumer lag", "stage", stage, "err", err)
			continue
		}
		for topic, n := range lag {
			s.Metrics.ConsumerLag.WithLabelValues(stage, topic).Set(float64(n))
		}
	}
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
	if s.Enrich == nil {
		s.Enrich = &enrichers.Shared{}
	}
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
