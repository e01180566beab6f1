package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/collectors/file"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
)

// RunCollect reads every configured input, parses each line into an ECS
// event and produces it on vigil.events keyed by collect.key_field. A
// batch of lines counts as read only after Kafka acknowledged its events.
// Inputs that do not follow end at end of file; RunCollect returns when
// all inputs ended or ctx is done.
func (s *System) RunCollect(ctx context.Context) error {
	inputs := s.Config.Collect.Inputs
	if len(inputs) == 0 {
		return fmt.Errorf("collect: no inputs configured (collect.inputs)")
	}
	errs := make([]error, len(inputs))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.collectInput(ctx, in); err != nil {
				errs[i] = fmt.Errorf("collect.inputs[%d] (%s): %w", i, in.Format, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (s *System) collectInput(ctx context.Context, in config.Input) error {
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
	input, err := file.New(file.Config{Paths: in.Paths, Follow: in.Follow, BatchLines: 4096})
	if err != nil {
		return err
	}
	keyField := s.Config.Collect.KeyField
	if keyField == "" {
		keyField = "host.name"
	}
	// One parser per file: parsers keep per-stream state (the syslog year).
	parsers := map[string]collectors.Parser{}
	parserFor := func(path string) (collectors.Parser, error) {
		if p, ok := parsers[path]; ok {
			return p, nil
		}
		ref := time.Now()
		if st, err := os.Stat(path); err == nil {
			ref = st.ModTime()
		}
		p, err := collectors.NewParser(in.Format, collectors.ParserConfig{Reference: ref, Location: loc})
		if err != nil {
			return nil, err
		}
		parsers[path] = p
		return p, nil
	}
	return input.Run(ctx, func(ctx context.Context, lines []file.Line) error {
		msgs := make([]bus.Message, 0, len(lines))
		received := event.FormatTime(time.Now())
		for _, l := range lines {
			p, err := parserFor(l.Path)
			if err != nil {
				return err
			}
			ev := p.Parse(collectors.Source{Name: absPath(l.Path), Offset: l.Offset}, l.Data)
			if ev == nil {
				continue // not a record (a Zeek #fields header)
			}
			if l.Truncated {
				ev.Set("vigil.truncated", true)
			}
			ev.Set(event.FieldCollector, "file")
			ev.Set(event.FieldReceivedAt, received)
			ev.Set("log.file.path", l.Path)
			ev.Set("log.offset", l.Offset)
			b, err := event.Marshal(ev)
			if err != nil {
				return fmt.Errorf("%s@%d: encode event: %w", l.Path, l.Offset, err)
			}
			msgs = append(msgs, bus.Message{Topic: bus.TopicEvents, Key: []byte(ev.String(keyField)), Value: b})
		}
		if err := s.send(ctx, msgs); err != nil {
			return err
		}
		s.Progress.Collected.Add(int64(len(msgs)))
		return nil
	})
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
