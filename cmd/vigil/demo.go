package main

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/triage"
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
			"With OPENAI_API_KEY set (or VIGIL_TRIAGE_OPENAI_BASE_URL for a key-less local server), triage asks the LLM, " +
			"giving it at most an eighth of --timeout per incident; the fallback engine answers whatever it does not, and the " +
			"summary says how many incidents fell back and why.",
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
			llm := cfg.Triage.UsesLLM()
			if llm {
				model := cfg.Triage.OpenAI.Model
				if model == "" {
					model = triage.DefaultOpenAIModel
				}
				where := "OpenAI " + model
				if u := cfg.Triage.OpenAI.BaseURL; u != "" {
					where = model + " at " + u
					if cfg.Triage.OpenAI.APIKey == "" {
						where += " (no API key: no Authorization header)"
					}
				}
				engine = fmt.Sprintf("%s (the fallback engine answers if it fails or takes over %s per incident)",
					where, pipeline.DemoLLMBudget(timeout, cfg.Triage.OpenAI.TotalTimeout))
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
			if llm {
				fmt.Fprintf(w, "triage: %s\n", demoFallbackLine(res))
			}
			pipeline.PrintIncidents(w, res.Verdicts)
			fmt.Fprintf(w, "\nverdicts: %s/verdicts.ndjson · alerts: %s/alerts.ndjson · next: vigil incidents list --dir %s\n", out, out, shellQuote(out))
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

// demoFallbackLine says how many incidents the LLM judged and how many
// the fallback engine judged because the LLM did not answer, and why: the
// header named the LLM, and a wrong key or a hanging API must not pass
// for its verdicts.
func demoFallbackLine(res *pipeline.DemoResult) string {
	n := res.FellBack()
	if n == 0 {
		return fmt.Sprintf("the LLM judged all %d incident(s)", len(res.Verdicts))
	}
	reasons := make([]string, 0, len(res.Fallbacks))
	for why, c := range res.Fallbacks {
		reasons = append(reasons, fmt.Sprintf("%s ×%d", why, c))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("the LLM judged %d of %d incident(s); %d fell back to the deterministic engine: %s (the log above and each verdict's notes say more)",
		len(res.Verdicts)-n, len(res.Verdicts), n, strings.Join(reasons, "; "))
}
