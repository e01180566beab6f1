package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/pipeline"
)

// incidentSource reads from Elasticsearch when index.elasticsearch is
// configured, from index.output_dir's NDJSON files otherwise.
func (g *globals) incidentSource() (incidents.Source, error) {
	cfg, _, err := g.load()
	if err != nil {
		return incidents.Source{}, err
	}
	src := incidents.Source{Dir: cfg.Index.OutputDir}
	if cfg.Index.Elasticsearch.Enabled() {
		es := pipeline.ESConfig(cfg.Index.Elasticsearch)
		src.ES = &es
	}
	return src, nil
}

func newIncidentsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incidents",
		Short: "The responder's view: list incidents, show one with its notes and evidence, record feedback",
		Long: "Reads verdicts from Elasticsearch when index.elasticsearch is configured, from the NDJSON files " +
			"in index.output_dir otherwise.",
	}
	var f incidents.Filter
	list := &cobra.Command{
		Use:   "list",
		Short: "A table of incidents, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := g.incidentSource()
			if err != nil {
				return err
			}
			return incidents.List(cmd.Context(), src, f, cmd.OutOrStdout())
		},
	}
	list.Flags().DurationVar(&f.Since, "since", 0, "only incidents active within this long (e.g. 24h)")
	list.Flags().StringVar(&f.Verdict, "verdict", "", "malicious, suspicious, benign, false_positive or inconclusive")
	list.Flags().StringVar(&f.Severity, "severity", "", "low, medium, high or critical")
	list.Flags().StringVar(&f.Entity, "entity", "", "an entity value (198.51.100.23) or field=value, or a related user, host or IP")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many rows")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "The verdict, summary, notes, alerts and evidence of one incident, and the query that finds its raw events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := g.incidentSource()
			if err != nil {
				return err
			}
			return incidents.Show(cmd.Context(), src, args[0], cmd.OutOrStdout())
		},
	}
	var verdict, note string
	feedback := &cobra.Command{
		Use:   "feedback ID --verdict V --note TEXT",
		Short: "Record an analyst's correction on a verdict (triage.feedback.*), used as history for similar incidents",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verdict == "" {
				return fmt.Errorf("--verdict is required")
			}
			src, err := g.incidentSource()
			if err != nil {
				return err
			}
			return incidents.Feedback(cmd.Context(), src, args[0], verdict, note, cmd.OutOrStdout())
		},
	}
	feedback.Flags().StringVar(&verdict, "verdict", "", "the analyst's verdict")
	feedback.Flags().StringVar(&note, "note", "", "why")
	cmd.AddCommand(list, show, feedback)
	return cmd
}

func newESCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "es", Short: "Elasticsearch administration"}
	setup := &cobra.Command{
		Use:   "setup",
		Short: "Install Vigil's index templates (ECS mappings) and ILM policy; running it again changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			es := cfg.Index.Elasticsearch
			if !es.Enabled() {
				return fmt.Errorf("es setup: index.elasticsearch.addresses (or cloud_id) is not set")
			}
			_, err = indexer.Setup(cmd.Context(), pipeline.ESConfig(es), indexer.SetupOptions{
				Retention: time.Duration(es.Retention),
				Events:    es.Events,
			}, cmd.OutOrStdout())
			return err
		},
	}
	cmd.AddCommand(setup)
	return cmd
}
