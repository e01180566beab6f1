package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/metrics"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "vigil:", err)
		os.Exit(1)
	}
}

// globals are the flags every command shares.
type globals struct {
	configPath string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "vigil",
		Short:         "Streaming security detection for Elastic SIEM: collect, detect, triage, index",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "configuration file (see vigil.example.yaml); VIGIL_* environment variables override it")
	root.AddCommand(
		newDemoCmd(g),
		newRunCmd(g),
		newStageCmd(g, "collect", "Read the configured inputs and produce ECS events to vigil.events"),
		newStageCmd(g, "detect", "Run the rules on vigil.events and produce alerts to vigil.alerts"),
		newTriageCmd(g),
		newStageCmd(g, "index", "Index alerts and verdicts into Elasticsearch (or NDJSON files)"),
		newParseCmd(),
		newEnrichCmd(g),
		newReplayCmd(g),
		newScanCmd(g),
		newRulesCmd(g),
		newIncidentsCmd(g),
		newESCmd(g),
		newKibanaCmd(),
		newBrokerCmd(),
		newConfigCmd(g),
		newVersionCmd(),
	)
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every command that only groups others
// (vigil rules, vigil es, ...) fail on a word that is none of them: cobra
// checks that only for the root and otherwise prints the help and exits
// 0, so a CI step running `vigil rules tset` would pass without testing
// anything. Without arguments such a command still prints its help.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if cmd.Runnable() || !cmd.HasSubCommands() || !cmd.HasParent() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2 // as cobra's own check for the root
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if suggestions := cmd.SuggestionsFor(args[0]); len(suggestions) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", suggestions[0])
		}
		return fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())
	}
}

func (g *globals) load() (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return cfg, nil, err
	}
	log := newLogger(os.Stderr, cfg.Log, secrets(cfg))
	log.Debug("configuration loaded", "file", g.configPath, "config", cfg)
	return cfg, log, nil
}

// newLogger writes text or JSON logs to w; attributes named like secrets
// and the given secret values are redacted before anything is written.
func newLogger(w io.Writer, c config.Log, secrets []string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(metrics.NewRedactHandler(h, secrets))
}

// ignoreCanceled treats the end of a command by signal as success.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
