package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/wire"
)

// RunCollect reads every configured input, parses each record into an
// ECS event and produces it on vigil.events keyed by collect.key_field. A
// batch of records counts as read (file offsets and journald cursors
// advance, HTTP answers 200) only after Kafka acknowledged its events.
// Inputs that end (files without follow, stdin) end at end of input;
// RunCollect returns when all inputs ended or ctx is done.
func (s *System) RunCollect(ctx context.Context) error {
	inputs := s.Config.Collect.Inputs
	if len(inputs) == 0 {
		return fmt.Errorf("collect: no inputs configured (collect.inputs)")
	}
	s.setCheck("collect", func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return bus.EnsureTopics(ctx, s.Bus, bus.TopicEvents)
	})
	defer s.setCheck("collect", nil)
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.collectInput(ctx, i, in); err != nil {
				errs[i] = fmt.Errorf("collect.inputs[%d] (%s %s): %w", i, in.Type, in.Format, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *System) collectInput(ctx context.Context, index int, in config.Input) error {
	loc := time.UTC
	if in.Timezone != "" {
		var err error
		if loc, err = time.LoadLocation(in.Timezone); err != nil {
			return err
		}
	}
	if _, err := collectors.NewParser(in.Format, collectors.ParserConfig{}); err != nil {
		return err
	}
	if in.Type == config.InputFile && in.BatchLines == 0 {
		in.BatchLines = 4096 // fewer, larger acknowledged batches: the Kafka round trip dominates small ones
	}
	src, err := collectors.NewInput(in, collectors.InputOptions{DataDir: s.Config.Collect.DataDir, NoRegistry: s.NoRegistry})
	if err != nil {
		return err
	}
	label := strconv.Itoa(index)
	s.Metrics.OnScrape(func() {
		st := src.Stats()
		s.Metrics.InputBlocked.WithLabelValues(label, in.Type).Set(st.Blocked.Seconds())
		s.Metrics.InputDropped.WithLabelValues(label, in.Type).Set(float64(st.Dropped))
	})
	if c, ok := src.(io.Closer); ok {
		defer c.Close()
	}
	keyField := s.Config.Collect.KeyField
	if keyField == "" {
		keyField = "host.name"
	}
	// Parsers keep per-stream state (the syslog year, a Zeek header): one
	// per file; for network inputs one per input.
	parsers := map[string]collectors.Parser{}
	parserFor := func(stream string) (collectors.Parser, error) {
		if p, ok := parsers[stream]; ok {
			return p, nil
		}
		ref := time.Now()
		if in.Type == config.InputFile {
			if st, err := os.Stat(stream); err == nil {
				ref = st.ModTime()
			}
		}
		p, err := collectors.NewParser(in.Format, collectors.ParserConfig{Reference: ref, Location: loc})
		if err != nil {
			return nil, err
		}
		parsers[stream] = p
		return p, nil
	}
	// prepare parses a batch into events, in order (parsers keep per-stream
	// state), with what the collector adds to every event.
	prepare := func(recs []collectors.Record) ([]event.Event, error) {
		evs := make([]event.Event, 0, len(recs))
		received := event.FormatTime(time.Now())
		for _, r := range recs {
			stream := in.Type
			if in.Type == config.InputFile {
				stream = r.Source.Name
			}
			p, err := parserFor(stream)
			if err != nil {
				return nil, err
			}
			ev := p.Parse(r.Source, r.Data)
			if ev == nil {
				continue // not a record (a Zeek #fields header)
			}
			if reason := ev.String(event.FieldParseError); reason != "" {
				s.Metrics.ParseFailures.WithLabelValues(s.Metrics.Reason(reason)).Inc()
			}
			if r.Truncated {
				ev.Set("vigil.truncated", true)
			}
			if r.InvalidUTF8 {
				ev.Set("vigil.invalid_utf8", true)
			}
			ev.Set(event.FieldCollector, in.Type)
			ev.Set(event.FieldReceivedAt, received)
			if in.Type == config.InputFile {
				ev.Set("log.file.path", r.Source.Name)
				ev.Set("log.offset", r.Source.Offset)
			}
			if r.Peer != "" {
				ev.Set("log.source.address", r.Peer)
			}
			evs = append(evs, ev)
		}
		return evs, nil
	}
	counted := func(records, produced int) {
		s.Progress.Collected.Add(int64(produced))
		s.Metrics.StageIn.WithLabelValues("collect").Add(float64(records))
		s.Metrics.StageOut.WithLabelValues("collect").Add(float64(produced))
	}
	if a, ok := src.(collectors.AsyncInput); ok {
		return s.collectAsync(ctx, a, prepare, keyField, counted)
	}
	return src.Run(ctx, func(ctx context.Context, recs []collectors.Record) error {
		evs, err := prepare(recs)
		if err != nil {
			return err
		}
		msgs, err := encodeEvents(s.Wire, evs, keyField)
		if err != nil {
			return err
		}
		if err := s.send(ctx, msgs); err != nil {
			return err
		}
		counted(len(recs), len(msgs))
		return nil
	})
}

// collectAsync runs an input that keeps several batches in flight: the
// input's goroutine parses and encodes batch N+1 while batch N waits for
// Kafka's acknowledgement, and only then waits for N's delivery reports
// (which arrived meanwhile) before producing N+1. One batch at a time in
// the producer keeps it as busy as a synchronous Send did: with
// idempotence librdkafka allows five requests (about 7,000 JSON events) in
// flight, and a deeper backlog made its broker thread spin for a slot,
// taking CPU from parsing on two cores (measured: ~30% of the process's
// CPU with four batches queued, ~12% with one). Batches reach the producer
// in the order they were read, so a partition keeps file order; the input
// advances its offsets only past batches acknowledged together with every
// batch before them. No goroutine is spent per batch: an Ack learns its
// outcome when waited for (collectors.DeferredAck).
func (s *System) collectAsync(ctx context.Context, src collectors.AsyncInput,
	prepare func([]collectors.Record) ([]event.Event, error), keyField string, counted func(records, produced int)) error {
	var prev *collectors.Ack
	return src.RunAsync(ctx, func(ctx context.Context, recs []collectors.Record) *collectors.Ack {
		evs, err := prepare(recs)
		if err != nil {
			return collectors.Acked(err)
		}
		msgs, err := encodeEvents(s.Wire, evs, keyField)
		if err != nil {
			return collectors.Acked(err)
		}
		if prev != nil {
			// After a failed batch nothing more is sent: the input stops at
			// that batch, and this one is read again next time anyway.
			if err := prev.Wait(ctx); err != nil {
				return collectors.Acked(err)
			}
		}
		d := s.Producer.SendAsync(ctx, msgs)
		ack := collectors.DeferredAck(func(ctx context.Context) error {
			if err := d.Wait(ctx); err != nil {
				return err
			}
			counted(len(recs), len(msgs))
			return nil
		})
		prev = ack
		return ack
	})
}

// encodeEvents encodes events for vigil.events on every CPU, keeping
// their order.
func encodeEvents(codec *wire.Codec, evs []event.Event, keyField string) ([]bus.Message, error) {
	msgs := make([]bus.Message, len(evs))
	workers := min(runtime.NumCPU(), max(1, len(evs)/256))
	chunk := (len(evs) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(evs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Consecutive events mostly share their key (one host): they
			// share its bytes too, which the producer only copies.
			var key string
			var keyBytes []byte
			for i := lo; i < hi; i++ {
				b, err := codec.Encode(bus.TopicEvents, evs[i])
				if err != nil {
					errs[w] = fmt.Errorf("encode event %s: %w", evs[i].ID(), err)
					return
				}
				if k := evs[i].String(keyField); k != key || keyBytes == nil {
					key, keyBytes = k, []byte(k)
				}
				msgs[i] = bus.Message{Topic: bus.TopicEvents, Key: keyBytes, Value: b}
			}
		}()
	}
	wg.Wait()
	return msgs, errors.Join(errs...)
}
