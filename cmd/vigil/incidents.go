package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/incidents"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/pipeline"
)

// incidentSource reads the NDJSON files in dir when it is given (--dir),
// else from Elasticsearch when index.elasticsearch is configured, else from
// index.output_dir's NDJSON files. It records where the directory came
// from, for the error that says where the commands looked.
func (g *globals) incidentSource(dir string) (incidents.Source, error) {
	cfg, _, err := g.load()
	if err != nil {
		return incidents.Source{}, err
	}
	if dir != "" {
		// An explicit directory wins over a configured Elasticsearch: it
		// is how a responder opens a demo's or a colleague's output.
		return incidents.Source{Dir: dir, DirFrom: "--dir"}, nil
	}
	src := incidents.Source{Dir: cfg.Index.OutputDir}
	switch {
	case os.Getenv("VIGIL_INDEX_OUTPUT_DIR") != "":
		src.DirFrom = "VIGIL_INDEX_OUTPUT_DIR"
	case g.configPath != "":
		src.DirFrom = "index.output_dir of " + g.configPath
	default:
		src.DirFrom = "the default index.output_dir: no -c given, VIGIL_INDEX_OUTPUT_DIR not set"
	}
	if cfg.Index.Elasticsearch.Enabled() {
		es := pipeline.ESConfig(cfg.Index.Elasticsearch)
		src.ES = &es
	}
	return src, nil
}

// dirFlagUsage is the help of --dir on every command that reads incidents.
const dirFlagUsage = "read the verdicts and alerts NDJSON files in this directory (vigil demo --out, the index stage's " +
	"index.output_dir) instead of index.output_dir or Elasticsearch"

// shellQuote quotes s for a POSIX shell when it needs it, for commands
// printed for the user to copy.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sinceValue is --since: a duration back from now or a time from which on.
type sinceValue struct {
	f   *incidents.Filter
	raw string
}

func (v *sinceValue) String() string { return v.raw }
func (v *sinceValue) Type() string   { return "duration|date" }
func (v *sinceValue) Set(s string) error {
	since, from, err := incidents.ParseSince(s)
	if err != nil {
		return err
	}
	v.raw, v.f.Since, v.f.From = s, since, from
	return nil
}

func newIncidentsCmd(g *globals) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "incidents",
		Short: "The responder's view: list incidents, show one with its notes and evidence, record feedback",
		Long: "Reads the verdicts from the NDJSON files of --dir DIR when given (e.g. the --out of vigil demo), " +
			"else from Elasticsearch when index.elasticsearch is configured, else from the NDJSON files in " +
			"index.output_dir (default vigil-out; -c vigil.yaml or VIGIL_INDEX_OUTPUT_DIR). " +
			"An incident ID may be given in any case or shortened to a unique prefix of 6 or more hex digits; " +
			"an alert id stands for its incident.",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", dirFlagUsage)
	var f incidents.Filter
	list := &cobra.Command{
		Use:   "list",
		Short: "A table of incidents, most severe first, then most recently seen",
		Long: "A table of incidents, most severe first, then most recently seen (at most --limit rows). " +
			"--verdict matches the effective verdict: the analyst's when there is feedback, else triage's; " +
			"the VERDICT column shows a corrected one as triage→analyst (suspicious→false_positive). " +
			"--triage-verdict matches the verdict triage gave, whatever the feedback.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			src, err := g.incidentSource(dir)
			if err != nil {
				return err
			}
			return incidents.List(cmd.Context(), src, f, cmd.OutOrStdout())
		},
	}
	list.Flags().Var(&sinceValue{f: &f}, "since", "only incidents last seen within this long (24h, 7d) or since this time (2025-12-10, 2025-12-10T09:00, RFC 3339; UTC unless an offset is given)")
	list.Flags().StringVar(&f.Verdict, "verdict", "", "the effective verdict (the analyst's if there is feedback, else triage's): malicious, suspicious, benign, false_positive or inconclusive")
	list.Flags().StringVar(&f.TriageVerdict, "triage-verdict", "", "the verdict triage gave, whatever the analyst's feedback says")
	list.Flags().StringVar(&f.Severity, "severity", "", "low, medium, high or critical")
	list.Flags().StringVar(&f.Entity, "entity", "", "an entity value (198.51.100.23, deploy) matching the entity or a related user, host or IP; "+
		"or field=value (user.name=deploy, source.ip=198.51.100.23)")
	list.Flags().IntVar(&f.Limit, "limit", 100, "at most this many rows")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "The verdict, summary, notes, alerts and evidence of one incident, and the queries that find its raw events",
		Long: "ID is an incident id, in any case, or a unique prefix of one (at least 6 hex digits); an alert id " +
			"(or prefix) shows the alert's incident. The queries at the end search the SIEM's own log indices " +
			"(logs-*, filebeat-*) by the entity and time range and by the evidence messages: Vigil does not index raw events.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := g.incidentSource(dir)
			if err != nil {
				return err
			}
			return incidents.Show(cmd.Context(), src, args[0], cmd.OutOrStdout())
		},
	}
	var verdict, note, by string
	feedback := &cobra.Command{
		Use:   "feedback ID --verdict V --note TEXT [--by NAME]",
		Short: "Record an analyst's correction on a verdict (triage.feedback.*), used as history for similar incidents",
		Long: "Records the analyst's verdict and why on the incident's verdict (triage.feedback.verdict, note, at, by); " +
			"triage's own verdict is kept. --verdict and a non-empty --note are required: the note is what later " +
			"triage of similar incidents and the next analyst read. --by defaults to $USER, else the operating " +
			"system's user. ID is taken as by show.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verdict == "" {
				return fmt.Errorf("--verdict is required (malicious, suspicious, benign, false_positive or inconclusive)")
			}
			if strings.TrimSpace(note) == "" {
				return fmt.Errorf("--note is required: say why (what was checked, who confirmed it)")
			}
			src, err := g.incidentSource(dir)
			if err != nil {
				return err
			}
			src.Analyst = by
			return incidents.Feedback(cmd.Context(), src, args[0], verdict, note, cmd.OutOrStdout())
		},
	}
	feedback.Flags().StringVar(&verdict, "verdict", "", "the analyst's verdict: malicious, suspicious, benign, false_positive or inconclusive (required)")
	feedback.Flags().StringVar(&note, "note", "", "why: what was checked, who confirmed it (required)")
	feedback.Flags().StringVar(&by, "by", "", "who gives the feedback (default $USER, else the operating system's user)")
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
