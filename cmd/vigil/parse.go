package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/wire"
)

// readOptions say how offline commands read log files.
type readOptions struct {
	format   string
	timezone string
	// cmd is the command reading: openInputs says on its stderr what it
	// left out of a directory given as input.
	cmd *cobra.Command
}

func (o *readOptions) flags(cmd *cobra.Command) {
	o.cmd = cmd
	cmd.Flags().StringVarP(&o.format, "format", "f", collectors.FormatAuto, "log format: "+fmt.Sprint(collectors.Formats()))
	cmd.Flags().StringVar(&o.timezone, "timezone", "UTC", "zone of timestamps that carry none (BSD syslog)")
}

// fileStats is what reading one input gave.
type fileStats struct {
	name string
	collectors.ReadStats
}

// readInputs parses each path ("-" is standard input) with a parser of
// its own and hands every event to emit; written, when set, is where emit
// writes, flushed whenever the input is read on (flushBeforeRead);
// progress, when set, sees the bytes read.
func (o *readOptions) readInputs(paths []string, stdin io.Reader, emit func(event.Event) error, written *bufio.Writer, progress io.Writer) ([]fileStats, error) {
	inputs, _, closeAll, err := o.openInputs(paths, stdin)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	var out []fileStats
	for _, in := range inputs {
		flusher := &flushBeforeRead{r: in.Reader, out: written}
		var r io.Reader = flusher
		if progress != nil {
			r = io.TeeReader(r, progress)
		}
		if r, err = decompressed(in.Name, r); err != nil {
			return out, err
		}
		st, err := collectors.Read(in.Name, r, in.Parser, emit)
		out = append(out, fileStats{name: in.Name, ReadStats: st})
		if flusher.err != nil {
			// The output failed, not the input: say so as emit's own
			// write errors do.
			return out, flusher.err
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	return out, nil
}

// flushBeforeRead writes out what out holds before each read of r: what
// was read before is parsed and written by then, and the read may wait (a
// live pipe between its lines), so the events of every line read so far
// are out while it waits. A file is read 64 KB at a time: one flush each.
// A failed flush ends the read; err keeps it, for the caller to report as
// the write error it is.
type flushBeforeRead struct {
	r   io.Reader
	out *bufio.Writer
	err error
}

func (f *flushBeforeRead) Read(p []byte) (int, error) {
	if f.out != nil && f.out.Buffered() > 0 {
		if err := f.out.Flush(); err != nil {
			f.err = err
			return 0, err
		}
	}
	return f.r.Read(p)
}

func printSummary(w io.Writer, stats []fileStats) {
	for _, s := range stats {
		records := "lines"
		n := s.Lines
		if n == 0 {
			records, n = "records", s.Events
		}
		fmt.Fprintf(w, "%s: %d %s read, %d events, %d parse failures\n", s.name, n, records, s.Events, s.Failed())
		for _, reason := range s.Reasons() {
			fmt.Fprintf(w, "  %6d  %s\n", s.Failures[reason], reason)
		}
	}
}

func newParseCmd() *cobra.Command {
	var o readOptions
	cmd := &cobra.Command{
		Use:   "parse [--format F|auto] FILE...",
		Short: "Parse log files into ECS events: NDJSON on stdout, a summary on stderr",
		Long: "Parses each FILE (\"-\" or none: standard input) with the chosen format, or auto to recognise " +
			"the format of each line, and prints one ECS event per line. Lines that cannot be parsed are " +
			"printed too, flagged (event.kind pipeline_error, vigil.parse_error), and counted by reason on stderr.",
		RunE: func(cmd *cobra.Command, args []string) error {
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
			stats, err := o.readInputs(args, cmd.InOrStdin(), func(e event.Event) error {
				b, err := event.Marshal(e)
				if err != nil {
					return err
				}
				out.Write(b)
				return out.WriteByte('\n')
			}, out, nil)
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			printSummary(cmd.ErrOrStderr(), stats)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}

func newReplayCmd(g *globals) *cobra.Command {
	var o readOptions
	cmd := &cobra.Command{
		Use:   "replay [--format F] FILE...",
		Short: "Produce the events of log files into vigil.events (backfills, demos), with a progress bar",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			if cfg.Kafka.BootstrapServers == "" {
				return fmt.Errorf("replay: kafka.bootstrap_servers is not set (a cluster, or `vigil broker`)")
			}
			if err := bus.EnsureTopics(cmd.Context(), cfg.Kafka, bus.Topics...); err != nil {
				return err
			}
			codec, err := wire.New(cfg.Wire)
			if err != nil {
				return err
			}
			defer codec.Close()
			producer, err := bus.NewProducer(cfg.Kafka)
			if err != nil {
				return err
			}
			defer producer.Close(10 * time.Second)
			var total int64
			for _, p := range args {
				if st, err := os.Stat(p); err == nil {
					total += st.Size()
				}
			}
			bar := progressbar.DefaultBytes(total, "replaying")
			keyField := cfg.Collect.KeyField
			batch := make([]bus.Message, 0, 1000)
			var sent int64
			flush := func(ctx context.Context) error {
				if err := producer.Send(ctx, batch); err != nil {
					return err
				}
				sent += int64(len(batch))
				batch = batch[:0]
				return nil
			}
			stats, err := o.readInputs(args, cmd.InOrStdin(), func(e event.Event) error {
				b, err := codec.Encode(bus.TopicEvents, e)
				if err != nil {
					return err
				}
				batch = append(batch, bus.Message{Topic: bus.TopicEvents, Key: []byte(e.String(keyField)), Value: b})
				if len(batch) == cap(batch) {
					return flush(cmd.Context())
				}
				return nil
			}, nil, bar)
			if err == nil {
				err = flush(cmd.Context())
			}
			bar.Finish()
			fmt.Fprintln(cmd.ErrOrStderr())
			printSummary(cmd.ErrOrStderr(), stats)
			fmt.Fprintf(cmd.ErrOrStderr(), "%d events acknowledged by Kafka on %s\n", sent, bus.TopicEvents)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}
