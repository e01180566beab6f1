package main

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/pipeline"
)

func newDemoCmd(g *globals) *cobra.Command {
	var out, scenario string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on an embedded broker over a built-in scenario and print the incidents",
		Long: "Replays a built-in scenario (an auth.log with a failed and a successful SSH brute force among " +
			"normal admin work) through collect, detect, triage and index on an embedded Kafka broker, then " +
			"prints every incident with its verdict and triage notes. Needs no service and no network. " +
			"With OPENAI_API_KEY set, triage uses OpenAI instead of the fallback engine.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			defer floorHeap(cfg)()
			sc, err := fs.Sub(vigil.Scenarios(), scenario)
			if err != nil {
				return fmt.Errorf("scenario %q: %w", scenario, err)
			}
			w := cmd.OutOrStdout()
			engine := "fallback engine (set OPENAI_API_KEY to triage with OpenAI)"
			if cfg.Triage.Engine != "fallback" && cfg.Triage.OpenAI.APIKey != "" {
				engine = "OpenAI " + cfg.Triage.OpenAI.Model + " (fallback engine if it fails)"
			}
			fmt.Fprintf(w, "Vigil demo: replaying scenario %q through collect → detect → triage → index on an embedded Kafka broker\n", scenario)
			fmt.Fprintf(w, "triage: %s\n", engine)
			res, err := pipeline.RunDemo(cmd.Context(), pipeline.DemoOptions{
				Scenario:  sc,
				OutputDir: out,
				Config:    cfg,
				Timeout:   timeout,
				Log:       log,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%d events → %d alerts → %d incidents in %.1fs; dead letters: %d\n",
				res.Events, res.Alerts, len(res.Verdicts), res.Elapsed.Seconds(), res.DeadLetters)
			pipeline.PrintIncidents(w, res.Verdicts)
			fmt.Fprintf(w, "\nverdicts: %s/verdicts.ndjson · alerts: %s/alerts.ndjson\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "vigil-out", "directory for alerts.ndjson and verdicts.ndjson")
	cmd.Flags().StringVar(&scenario, "scenario", "ssh-bruteforce", "built-in scenario to replay")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up if the pipeline has not drained by then")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print Vigil's version and the librdkafka it is built with",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			_, lib := kafkaVersion()
			fmt.Fprintf(cmd.OutOrStdout(), "vigil %s (librdkafka %s)\n", version, lib)
		},
	}
}
