// Package scenario builds, offline and deterministically, the alert and
// verdict documents the pipeline indexes for a demo scenario: its logs go
// through the collectors' parser, the built-in rule pack (the scan
// engine), the incident grouper and the fallback triage engine, with no
// Kafka. The indexer, incidents and kibana tests use it to replay what
// `vigil demo` produces without running the demo.
//
// A scenario enters as an fs.FS folder of *.log files (vigil.Scenarios());
// documents leave as indexer.Doc values in the order the index stage would
// receive them, and as the decoded alerts and verdicts.
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
	"github.com/vigil-siem/vigil/triage"
)

// Config selects the scenario and fixes what would otherwise depend on
// the clock.
type Config struct {
	// Scenario is the folder of one scenario; its *.log files are read.
	Scenario fs.FS
	// Name prefixes the log names in event ids (default "scenario").
	Name string
	// Format is the parser (default "auto").
	Format string
	// Reference places timestamps without a year (default 2026-01-15,
	// which puts the built-in scenario in December 2025).
	Reference time.Time
	// Now stamps event.created on alerts and verdicts (default: the last
	// event time of each alert or incident, so output is reproducible).
	Now func() time.Time
}

// Result is what the scenario produced.
type Result struct {
	Alerts   []rules.Alert
	Verdicts []triage.Verdict // the final verdict of each incident, first-seen order
	// Retriaged holds, for each incident, the earlier verdicts triage
	// would have produced as the incident grew (oldest first); each has
	// the id of its final verdict.
	Retriaged []triage.Verdict
}

// DefaultReference places the built-in scenario's timestamps, which carry
// no year, in December 2025, whatever the date it is replayed on; the
// demo gives its copies of the logs this modification time for the same.
var DefaultReference = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// Run replays the scenario.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Scenario == nil {
		return nil, fmt.Errorf("scenario: no scenario given")
	}
	if cfg.Name == "" {
		cfg.Name = "scenario"
	}
	if cfg.Format == "" {
		cfg.Format = collectors.FormatAuto
	}
	if cfg.Reference.IsZero() {
		cfg.Reference = DefaultReference
	}
	names, err := fs.Glob(cfg.Scenario, "*.log")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("scenario: no *.log file in the scenario")
	}
	sort.Strings(names)
	var inputs []scan.Input
	for _, n := range names {
		data, err := fs.ReadFile(cfg.Scenario, n)
		if err != nil {
			return nil, fmt.Errorf("scenario: read %s: %w", n, err)
		}
		p, err := collectors.NewParser(cfg.Format, collectors.ParserConfig{Reference: cfg.Reference, Location: time.UTC})
		if err != nil {
			return nil, fmt.Errorf("scenario: parser %s: %w", cfg.Format, err)
		}
		inputs = append(inputs, scan.Input{Name: path.Join(cfg.Name, n), Reader: bytes.NewReader(data), Parser: p})
	}
	pack, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		return nil, fmt.Errorf("scenario: rule pack: %v", errs)
	}
	res := &Result{}
	engineNow := func() time.Time { return cfg.Reference }
	if cfg.Now != nil {
		engineNow = cfg.Now
	}
	if _, err := scan.Run(ctx, inputs, scan.Options{Rules: pack, Workers: 1, Engine: rules.EngineConfig{Now: engineNow}},
		func(a rules.Alert) error {
			if cfg.Now == nil {
				a.Event.Created = a.Timestamp.UTC()
			}
			res.Alerts = append(res.Alerts, a)
			return nil
		}); err != nil {
		return nil, fmt.Errorf("scenario: scan: %w", err)
	}

	grouper := triage.NewGrouper(triage.GrouperConfig{})
	engine := triage.NewFallback()
	latest := map[string]*triage.Incident{}
	var order []string
	for _, a := range res.Alerts {
		inc, material := grouper.Add(a)
		if inc == nil {
			continue
		}
		if _, seen := latest[inc.ID]; !seen {
			order = append(order, inc.ID)
		} else if material {
			// The earlier state was judged and indexed; this re-triage
			// overwrites it.
			v, err := judge(ctx, engine, latest[inc.ID], cfg.Now)
			if err != nil {
				return nil, err
			}
			res.Retriaged = append(res.Retriaged, v)
		}
		latest[inc.ID] = inc
	}
	for _, id := range order {
		v, err := judge(ctx, engine, latest[id], cfg.Now)
		if err != nil {
			return nil, err
		}
		res.Verdicts = append(res.Verdicts, v)
	}
	return res, nil
}

func judge(ctx context.Context, engine triage.Engine, inc *triage.Incident, now func() time.Time) (triage.Verdict, error) {
	t, err := engine.Triage(ctx, inc)
	if err != nil {
		return triage.Verdict{}, fmt.Errorf("scenario: triage incident %s: %w", inc.ID, err)
	}
	created := inc.LastSeen.UTC()
	if now != nil {
		created = now().UTC()
	}
	// The same document the triage stage builds (pipeline.NewVerdict).
	return triage.Verdict{
		Timestamp: inc.LastSeen,
		Event:     triage.VerdictEvent{Kind: "enrichment", Created: created, Start: inc.FirstSeen, End: inc.LastSeen},
		Vigil:     triage.VerdictVigil{Incident: *inc},
		Triage:    t,
	}, nil
}

// Docs returns the documents the index stage receives: every alert, then
// every earlier verdict version, then every final verdict.
func (r *Result) Docs() ([]indexer.Doc, error) {
	var docs []indexer.Doc
	for _, a := range r.Alerts {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("scenario: encode alert %s: %w", a.Vigil.Alert.ID, err)
		}
		docs = append(docs, indexer.Doc{Kind: indexer.KindAlert, ID: a.Vigil.Alert.ID, Body: b})
	}
	for _, vs := range [][]triage.Verdict{r.Retriaged, r.Verdicts} {
		for _, v := range vs {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("scenario: encode verdict %s: %w", v.ID(), err)
			}
			docs = append(docs, indexer.Doc{Kind: indexer.KindVerdict, ID: v.ID(), Body: b})
		}
	}
	return docs, nil
}
