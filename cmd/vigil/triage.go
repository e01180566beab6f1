package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/triage"
)

func newTriageCmd(g *globals) *cobra.Command {
	stage := newStageCmd(g, "triage", "Group alerts into incidents, triage them, produce verdicts to vigil.verdicts")
	explain := &cobra.Command{
		Use:   "explain INCIDENT_ID",
		Short: "Print the exact prompt triage would send for an incident (after redaction) and its token count",
		Long: "For audits: rebuilds the incident from its verdict and alerts (Elasticsearch, or the NDJSON files of " +
			"index.output_dir) and prints the system prompt and the user message exactly as the OpenAI engine " +
			"would send them, secrets redacted, with the prompt's token count. Nothing is sent.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			src, err := g.incidentSource()
			if err != nil {
				return err
			}
			inc, err := incidents.Load(cmd.Context(), src, args[0])
			if err != nil {
				return err
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
			fmt.Fprintf(cmd.ErrOrStderr(), "\n%d prompt tokens (model %s)\n", tokens, cfg.Triage.OpenAI.Model)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
			}
			return nil
		},
	}
	stage.AddCommand(explain)
	return stage
}
