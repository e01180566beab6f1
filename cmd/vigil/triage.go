package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/triage"
)

func newTriageCmd(g *globals) *cobra.Command {
	stage := newStageCmd(g, "triage", "Group alerts into incidents, triage them, produce verdicts to vigil.verdicts")
	var dir string
	explain := &cobra.Command{
		Use:   "explain INCIDENT_ID",
		Short: "Print the exact prompt triage would send for an incident (after redaction) and its token count",
		Long: "For audits: rebuilds the incident from its verdict and alerts (Elasticsearch, or the NDJSON files of " +
			"index.output_dir) and prints the system prompt and the user message exactly as the OpenAI engine " +
			"would send them, secrets redacted, with the prompt's token count. Nothing is sent. The prompt is built " +
			"by the same code from the same inputs as the triage stage's request: the alerts in the order the stage " +
			"grouped them, entity lookups from detect.enrich, and the entity's history and similar incidents from " +
			"the stored verdicts triaged before this one. What cannot be known offline is said on stderr: the stage " +
			"keeps that history in memory, so after a restart of the stage its request had less; and a verdict " +
			"re-indexed without a new triage (the incident grew by alerts of rules it had) shows the incident as " +
			"it is now.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			src, err := g.incidentSource(dir)
			if err != nil {
				return err
			}
			inc, err := incidents.Load(cmd.Context(), src, args[0])
			if err != nil {
				return err
			}
			// The stored alerts come in file or search order; the stage
			// built the prompt from them in the order it grouped them.
			triage.OrderAlerts(inc)
			stderr := cmd.ErrOrStderr()
			// The entity's history and similar incidents: the stage read
			// them from its context store, which held the verdicts it made
			// before this one.
			verdicts, target, err := explainVerdicts(cmd.Context(), src, inc)
			if err != nil {
				fmt.Fprintf(stderr, "warning: the earlier verdicts cannot be read (%v): the prompt below has no entity_history or similar_incidents, the request may have had some\n", err)
			} else if target == nil {
				fmt.Fprintf(stderr, "warning: the verdict of %s was not found among the stored verdicts: entity_history and similar_incidents left out\n", inc.ID)
			} else {
				store, n := triage.ExplainStore(verdicts, *target, cfg.Triage.ContextSize)
				cfg.Triage.Store = store
				fmt.Fprintf(stderr, "context: %d verdict(s) made before this one's prompt (%s) remembered as the triage stage remembers them. "+
					"Not reproducible offline: the stage keeps them in memory, so if it restarted since the first of them its request had fewer; "+
					"a verdict of another incident judged at the same moment (up to 4 at once) may fall on the other side of the line\n",
					n, target.Event.Created.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
			}
			if inc.AlertCount > len(inc.AlertIDs) || len(inc.Alerts) < len(inc.AlertIDs) {
				fmt.Fprintf(stderr, "note: %d of the incident's %d alerts are stored with it (the stage keeps at most %d with their events); "+
					"the prompt is built from those\n", len(inc.Alerts), inc.AlertCount, triage.DefaultMaxAlertsKept)
			}
			// The prompt the triage stage would build, with the entity
			// context of detect.enrich looked up as it would look it up.
			set, err := enrichers.New(cfg.Detect.Enrich)
			if err != nil {
				return err
			}
			defer set.Close()
			cfg.Triage.Lookup = set
			prompt, tokens, err := triage.Explain(inc, cfg.Triage)
			if err != nil && !errors.Is(err, triage.ErrPromptOverBudget) {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, prompt)
			fmt.Fprintf(stderr, "\n%d prompt tokens (model %s)\n", tokens, cfg.Triage.OpenAI.Model)
			if err != nil {
				fmt.Fprintf(stderr, "warning: %v\n", err)
			}
			return nil
		},
	}
	explain.Flags().StringVar(&dir, "dir", "", dirFlagUsage)
	stage.AddCommand(explain)
	return stage
}

// explainVerdicts reads the stored verdicts the triage stage could have
// remembered before judging inc (those of its entity and of incidents
// with any of its rules), and inc's own verdict (nil when not found).
func explainVerdicts(ctx context.Context, src incidents.Source, inc *triage.Incident) ([]triage.Verdict, *triage.Verdict, error) {
	var all []triage.Verdict
	if src.ES == nil {
		vs, err := pipeline.ReadVerdicts(filepath.Join(src.Dir, indexer.VerdictsFile))
		if err != nil {
			return nil, nil, err
		}
		all = vs
	} else {
		sink, err := indexer.NewESSink(*src.ES)
		if err != nil {
			return nil, nil, err
		}
		defer sink.Close()
		ruleIDs := make([]string, 0, len(inc.Rules))
		for _, r := range inc.Rules {
			ruleIDs = append(ruleIDs, r.ID)
		}
		// The context store keeps verdicts by entity and by the rules
		// (Fingerprint, shape): nothing else can come back from it.
		q := map[string]any{
			"size": 10000,
			"sort": []any{map[string]any{"event.created": map[string]any{"order": "desc", "unmapped_type": "date"}}},
			"query": map[string]any{"bool": map[string]any{"minimum_should_match": 1, "should": []any{
				map[string]any{"ids": map[string]any{"values": []string{inc.ID}}},
				map[string]any{"term": map[string]any{"vigil.incident.entity.value": inc.Entity.Value}},
				map[string]any{"terms": map[string]any{"vigil.incident.rules.id": ruleIDs}},
			}}},
		}
		body, err := json.Marshal(q)
		if err != nil {
			return nil, nil, err
		}
		_, expr := sink.Index(indexer.KindVerdict)
		status, raw, err := sink.Request(ctx, http.MethodPost, "/"+url.PathEscape(expr)+"/_search?ignore_unavailable=true&allow_no_indices=true", body)
		if err != nil {
			return nil, nil, err
		}
		if status != http.StatusOK {
			return nil, nil, fmt.Errorf("search %s answered %d: %.300s", expr, status, raw)
		}
		var res struct {
			Hits struct {
				Hits []struct {
					Source triage.Verdict `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			return nil, nil, fmt.Errorf("search %s: decode answer: %w", expr, err)
		}
		for _, h := range res.Hits.Hits {
			all = append(all, h.Source)
		}
	}
	i := slices.IndexFunc(all, func(v triage.Verdict) bool { return v.ID() == inc.ID })
	if i < 0 {
		return all, nil, nil
	}
	target := all[i]
	return all, &target, nil
}
