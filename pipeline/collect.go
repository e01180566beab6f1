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
	return src.Run(ctx, func(ctx context.Context, recs []collectors.Record) error {
		// Parse in order (parsers keep per-stream state), then encode the
		// events in parallel: encoding is the larger half of the work.
		evs := make([]event.Event, 0, len(recs))
		received := event.FormatTime(time.Now())
		for _, r := range recs {
			stream := in.Type
			if in.Type == config.InputFile {
				stream = r.Source.Name
			}
			p, err := parserFor(stream)
			if err != nil {
				return err
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
		msgs, err := encodeEvents(evs, keyField)
		if err != nil {
			return err
		}
		if err := s.send(ctx, msgs); err != nil {
			return err
		}
		s.Progress.Collected.Add(int64(len(msgs)))
		s.Metrics.StageIn.WithLabelValues("collect").Add(float64(len(recs)))
		s.Metrics.StageOut.WithLabelValues("collect").Add(float64(len(msgs)))
		return nil
	})
}

// encodeEvents encodes events for vigil.events on every CPU, keeping
// their order.
func encodeEvents(evs []event.Event, keyField string) ([]bus.Message, error) {
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
			for i := lo; i < hi; i++ {
				b, err := event.Marshal(evs[i])
				if err != nil {
					errs[w] = fmt.Errorf("encode event %s: %w", evs[i].ID(), err)
					return
				}
				msgs[i] = bus.Message{Topic: bus.TopicEvents, Key: []byte(evs[i].String(keyField)), Value: b}
			}
		}()
	}
	wg.Wait()
	return msgs, errors.Join(errs...)
}
