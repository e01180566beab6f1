package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/pipeline"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// progressAbove is the input size from which scan shows a progress bar.
const progressAbove = 64 << 20

func newScanCmd(g *globals) *cobra.Command {
	var o readOptions
	var ruleDirs []string
	var workers int
	cmd := &cobra.Command{
		Use:   "scan [--rules DIR] [--format F|auto] FILE...",
		Short: "Run the rules over log files offline (hunting, backtesting): alerts as NDJSON on stdout, a summary on stderr",
		Long: "Parses each FILE (\"-\": standard input; gzip-compressed files, such as logrotate's auth.log.2.gz, are read as they are) and runs the rules on it with the detect stage's engine, " +
			"without Kafka. Several FILEs are read at once and merged by event time (each keeps its own order), " +
			"so logs of several hosts, or auth.log and auth.log.1, given in any order, find what their events in time order find. Alerts are printed as NDJSON on stdout; a table of alerts per rule and their top " +
			"entities goes to stderr. --rules defaults to detect.rules, or the built-in pack; the enrichers of " +
			"detect.enrich run first, as in the detect stage.",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			// An offline batch job: trade memory for less garbage
			// collection.
			defer floorHeap(cfg)()
			if len(ruleDirs) > 0 {
				cfg.Detect.Rules = ruleDirs
			}
			enrich, compiled, err := pipeline.NewDetector(cfg.Detect, func(err error) {
				fmt.Fprintln(cmd.ErrOrStderr(), "rule not loaded:", err)
			})
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			defer enrich.Close()
			inputs, total, closeAll, err := o.openInputs(args, cmd.InOrStdin())
			if err != nil {
				return err
			}
			defer closeAll()
			if total > progressAbove {
				bar := progressbar.DefaultBytes(total, "scanning")
				for i := range inputs {
					inputs[i].Reader = io.TeeReader(inputs[i].Reader, bar)
				}
				defer bar.Finish()
			}
			for i := range inputs {
				if inputs[i].Reader, err = decompressed(inputs[i].Name, inputs[i].Reader); err != nil {
					return err
				}
			}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
			start := time.Now()
			sum, err := scan.Run(cmd.Context(), inputs, scan.Options{Rules: compiled, Workers: workers, Enrich: enrich.Enrich, Flush: out.Flush}, func(a rules.Alert) error {
				b, err := a.MarshalJSON() // already compact: no json.Encoder re-scan
				if err != nil {
					return err
				}
				out.Write(b)
				return out.WriteByte('\n')
			})
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			if sum != nil {
				printScanSummary(cmd.ErrOrStderr(), sum, time.Since(start))
			}
			return err
		},
	}
	o.flags(cmd)
	cmd.Flags().StringSliceVar(&ruleDirs, "rules", nil, "rule directories (default: the built-in pack)")
	cmd.Flags().IntVar(&workers, "workers", 0, "engines sharing the rules (default: one per CPU less one, at least 1; the lines are parsed on every CPU)")
	return cmd
}

// openInputs opens each path ("-": standard input) with a parser of its
// own. Names are absolute paths, as the collect stage uses, so event and
// alert ids agree with the pipeline's.
func (o *readOptions) openInputs(paths []string, stdin io.Reader) ([]scan.Input, int64, func(), error) {
	loc, err := time.LoadLocation(o.timezone)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("--timezone: %w", err)
	}
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	var inputs []scan.Input
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	var total int64
	for _, path := range paths {
		in := scan.Input{Name: "stdin", Reader: stdin}
		ref := time.Now()
		if path != "-" {
			f, err := os.Open(path)
			if err != nil {
				closeAll()
				return nil, 0, nil, err
			}
			files = append(files, f)
			if st, err := f.Stat(); err == nil {
				ref = st.ModTime()
				total += st.Size()
			}
			name, _ := filepath.Abs(path)
			in = scan.Input{Name: name, Reader: f}
		}
		in.Parser, err = collectors.NewParser(o.format, collectors.ParserConfig{Reference: ref, Location: loc})
		if err != nil {
			closeAll()
			return nil, 0, nil, err
		}
		inputs = append(inputs, in)
	}
	return inputs, total, closeAll, nil
}

// decompressed reads r through gzip when it starts as gzip does
// (logrotate's auth.log.2.gz), and as it is otherwise. The progress bar,
// if any, wraps r and counts the compressed bytes the file's size
// counts.
func decompressed(name string, r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return br, nil
	}
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return z, nil
}

func printScanSummary(w io.Writer, sum *scan.Summary, elapsed time.Duration) {
	for _, in := range sum.Inputs {
		fmt.Fprintf(w, "%s: %d events, %d parse failures\n", in.Name, in.Events, in.Failed())
	}
	// The rules that evaluated none of the input's events (mostly rules
	// for other kinds of logs) make one line, not a row each.
	var idle []string
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := 0
	for _, r := range sum.Rules {
		if r.Alerts == 0 && r.Evaluated == 0 {
			idle = append(idle, r.ID)
			continue
		}
		if rows++; rows == 1 {
			fmt.Fprintln(tw, "RULE\tSEVERITY\tALERTS\tEVALUATED\tTOP ENTITIES")
		}
		var top []string
		for _, e := range r.TopEntities(3) {
			top = append(top, fmt.Sprintf("%s (%d)", e, r.Entities[e]))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.ID, r.Severity, r.Alerts, r.Evaluated, strings.Join(top, ", "))
	}
	tw.Flush()
	if len(idle) > 0 {
		fmt.Fprintf(w, "%d rules had no event their conditions could match: %s\n",
			len(idle), abbreviate(idle, 5))
	}
	rate := float64(sum.Events) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "%d events → %d alerts in %.2fs (%.0f events/s)\n", sum.Events, sum.Alerts, elapsed.Seconds(), rate)
}

// abbreviate lists up to n of ids, and how many more there are.
func abbreviate(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}
