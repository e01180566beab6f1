package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/pipeline"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run every stage in one process (embedded broker when kafka.bootstrap_servers is empty)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			defer floorHeap(cfg)()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			sys, err := pipeline.Start(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer sys.Close()
			stopOps, err := serveOps(cfg, sys, log)
			if err != nil {
				return err
			}
			defer stopOps()
			defer reloadOnSIGHUP(sys)()
			sys.Enrich = &enrichers.Shared{} // triage looks entities up in detect's enrichers
			runs := map[string]func(context.Context) error{
				"detect": sys.RunDetect, "triage": sys.RunTriage, "index": sys.RunIndex,
			}
			if len(cfg.Collect.Inputs) > 0 {
				runs["collect"] = sys.RunCollect
			}
			var stages stageSet
			errs := make(chan error, len(runs))
			for name, run := range runs {
				stages.Go(name, func() {
					err := run(ctx)
					if err != nil && ctx.Err() == nil {
						errs <- fmt.Errorf("%s stage: %w", name, err)
						cancel() // one stage failing stops the process; its input is not committed
						return
					}
					if name == "collect" && ctx.Err() == nil {
						log.Info("collect: all inputs read to the end; the other stages keep running until SIGINT/SIGTERM")
					}
				})
			}
			log.Info("vigil running", "kafka", sys.Bus.BootstrapServers)
			<-ctx.Done()
			log.Info("shutting down: draining stages", "shutdown_timeout", time.Duration(cfg.ShutdownTimeout).String())
			if err := stages.Wait(log, time.Duration(cfg.ShutdownTimeout)); err != nil {
				return err
			}
			close(errs)
			return <-errs
		},
	}
}

func newStageCmd(g *globals, name, short string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short,
		Long: short + ".\n\nRun as many copies as you like: they share the stage's consumer group and " +
			"split its partitions. Needs kafka.bootstrap_servers (a cluster, or `vigil broker`).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := g.load()
			if err != nil {
				return err
			}
			if cfg.Kafka.BootstrapServers == "" {
				return fmt.Errorf("%s: kafka.bootstrap_servers is not set; a single stage needs a shared broker "+
					"(start one with `vigil broker --listen 127.0.0.1:9092`, then VIGIL_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092)", name)
			}
			if name == "detect" {
				defer floorHeap(cfg)()
			}
			sys, err := pipeline.Start(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer sys.Close()
			stopOps, err := serveOps(cfg, sys, log)
			if err != nil {
				return err
			}
			defer stopOps()
			if name == "detect" {
				defer reloadOnSIGHUP(sys)()
			}
			run := map[string]func(context.Context) error{
				"collect": sys.RunCollect, "detect": sys.RunDetect, "triage": sys.RunTriage, "index": sys.RunIndex,
			}[name]
			log.Info(name+" stage running", "kafka", sys.Bus.BootstrapServers)
			var stages stageSet
			runErr := make(chan error, 1)
			stages.Go(name, func() { runErr <- run(cmd.Context()) })
			select {
			case err := <-runErr: // ended on its own (inputs read to the end, or failed)
				return ignoreCanceled(err)
			case <-cmd.Context().Done():
			}
			if err := stages.Wait(log, time.Duration(cfg.ShutdownTimeout)); err != nil {
				return err
			}
			return ignoreCanceled(<-runErr)
		},
	}
}

func newBrokerCmd() *cobra.Command {
	var listen, dataDir string
	var partitions, retentionMB int
	var retention time.Duration
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol broker standalone (for stages in separate processes, kcat, tests)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bc := config.Broker{Listen: listen, DataDir: dataDir, Retention: config.Duration(retention), RetentionMB: retentionMB}
			if err := bc.ValidateRetention("--retention", "--retention-mb"); err != nil {
				return err
			}
			b, err := bus.StartBroker(bc.BusBroker(partitions))
			if err != nil {
				return err
			}
			defer b.Close()
			if err := bus.EnsureTopics(cmd.Context(), bus.Config{BootstrapServers: b.Addr(), Partitions: partitions}, bus.Topics...); err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "vigil broker listening on %s (topics: %v)\n", b.Addr(), bus.Topics)
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9092", "host:port to listen on (port 0 picks one)")
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "keep topics, offsets and groups in this directory across restarts")
	cmd.Flags().IntVar(&partitions, "partitions", 6, "partitions of the topics it creates")
	cmd.Flags().DurationVar(&retention, "retention", 7*24*time.Hour, "how long records are kept")
	cmd.Flags().IntVar(&retentionMB, "retention-mb", bus.DefaultRetentionBytes>>20,
		"MiB of records kept per partition, oldest dropped first, consumed or not (-1: no bound; vigil.state is exempt)")
	return cmd
}

// reloadOnSIGHUP makes SIGHUP reload the detect stage's rules; the
// returned function stops listening.
func reloadOnSIGHUP(sys *pipeline.System) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				sys.Log.Info("SIGHUP: reloading rules")
				sys.ReloadRules()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
