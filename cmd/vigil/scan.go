package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
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
	var lists string
	cmd := &cobra.Command{
		Use:   "scan [--rules DIR] [--format F|auto] FILE...",
		Short: "Run the rules over log files offline (hunting, backtesting): alerts as NDJSON on stdout, a summary on stderr",
		Long: "Parses each FILE (\"-\": standard input; gzip-compressed files, such as logrotate's auth.log.2.gz, are read as they are; " +
			"a directory stands for the files under it, hidden and binary ones left out) and runs the rules on it with the detect stage's engine, " +
			"without Kafka. Several FILEs are read at once and merged by event time (each keeps its own order), " +
			"so logs of several hosts, or auth.log and auth.log.1, given in any order, find what their events in time order find. Alerts are printed as NDJSON on stdout; a table of alerts per rule and their top " +
			"entities goes to stderr, with the reasons of parse failures; when no record of any FILE could be parsed (a --format " +
			"that is not theirs) scan fails. --rules defaults to detect.rules, or the built-in pack; --lists to detect.lists; the enrichers of " +
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
			if lists != "" {
				cfg.Detect.Lists = lists
			}
			notLoaded := 0
			enrich, compiled, err := pipeline.NewDetector(cfg.Detect, func(err error) {
				notLoaded++
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
				if err == nil {
					err = nothingParsed(cmd.ErrOrStderr(), sum.Inputs, o.format)
				}
			}
			if err == nil && notLoaded > 0 {
				// The other rules ran and their alerts are out; a backtest
				// in CI must still not pass with a rule that never ran.
				err = fmt.Errorf("%d rule errors: those rules did not run (see \"rule not loaded\" above)", notLoaded)
			}
			return err
		},
	}
	o.flags(cmd)
	cmd.Flags().StringSliceVar(&ruleDirs, "rules", nil, "rule directories or files (default: the built-in pack; @pack names it next to others: --rules @pack,./mine)")
	cmd.Flags().StringVar(&lists, "lists", "", "directory of lists for in_list() (name.txt, one value per line; default detect.lists)")
	cmd.Flags().IntVar(&workers, "workers", 0, "engines sharing the rules (default: one per CPU less one, at least 1; the lines are parsed on every CPU)")
	return cmd
}

// nothingParsed names the inputs of which not one record could be
// parsed: the rules ran on nothing there, which a backtest that found no
// alert must not hide (mostly a --format that is not the file's). It is
// an error when no input gave a single event, a warning (on w) when
// others did.
func nothingParsed(w io.Writer, inputs []scan.InputSummary, format string) error {
	var names []string
	parsed := false
	for _, in := range inputs {
		if in.Events > 0 && in.Failed() == in.Events {
			names = append(names, in.Name)
		}
		parsed = parsed || in.Events > in.Failed()
	}
	if len(names) == 0 {
		return nil
	}
	hint := ""
	if format != collectors.FormatAuto {
		hint = fmt.Sprintf(" as %s; is that their format? (--format auto recognises it per line)", format)
	}
	err := fmt.Errorf("no record of %s could be parsed%s", abbreviate(names, 3), hint)
	if parsed {
		fmt.Fprintln(w, "warning:", err)
		return nil
	}
	return err
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
	paths, skipped, err := expandDirs(paths)
	if err != nil {
		return nil, 0, nil, err
	}
	if len(skipped) > 0 && o.cmd != nil {
		fmt.Fprintf(o.cmd.ErrOrStderr(), "skipped %d binary files: %s\n", len(skipped), abbreviate(skipped, 5))
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

// expandDirs replaces each directory among paths by the files under it,
// recursively, in lexical order (hidden files and directories left out),
// so that `vigil scan /var/log/nginx` hunts through every log there. A
// symbolic link to a file is read as the file; links to directories are
// not followed (no loops). Files whose first bytes hold a NUL byte are
// skipped (returned apart): they are not logs (wtmp, a journal file),
// unless gzip-compressed. A directory with no file to read is an error,
// not an empty scan.
func expandDirs(paths []string) (files, skipped []string, err error) {
	for _, path := range paths {
		st, err := os.Stat(path)
		if path == "-" || err != nil || !st.IsDir() {
			files = append(files, path) // a missing file fails when opened, with its name
			continue
		}
		found := 0
		// WalkDir does not follow a symbolic link it starts at.
		root, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, nil, err
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
					return nil // a link to a directory, or a dangling one
				}
			} else if !d.Type().IsRegular() {
				return nil
			}
			// Named under the path as given, not the link's target.
			if rel, err := filepath.Rel(root, p); err == nil {
				p = filepath.Join(path, rel)
			}
			if binary, err := looksBinary(p); err != nil {
				return err
			} else if binary {
				skipped = append(skipped, p)
				return nil
			}
			files = append(files, p)
			found++
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if found == 0 {
			return nil, nil, fmt.Errorf("%s: no log file under this directory (hidden and binary files are left out)", path)
		}
	}
	return files, skipped, nil
}

// looksBinary reports whether the file's first 8 KB hold a NUL byte and
// it is not gzip-compressed.
func looksBinary(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 8<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	gzipped := n >= 2 && head[0] == 0x1f && head[1] == 0x8b
	return !gzipped && bytes.IndexByte(head, 0) >= 0, nil
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
		reasons := in.Reasons()
		for _, reason := range reasons[:min(3, len(reasons))] {
			fmt.Fprintf(w, "  %6d  %s\n", in.Failures[reason], reason)
		}
		if len(reasons) > 3 {
			fmt.Fprintf(w, "  (%d more reasons: vigil parse lists them all)\n", len(reasons)-3)
		}
	}
	// The rules that evaluated none of the input's events (mostly rules
	// for other kinds of logs) make one line, not a row each.
	var idle, disabled []string
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	rows := 0
	for _, r := range sum.Rules {
		if r.Disabled {
			disabled = append(disabled, r.ID)
			continue
		}
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
	if len(disabled) > 0 {
		fmt.Fprintf(w, "%d rules are disabled (enabled: false) and did not run: %s\n", len(disabled), abbreviate(disabled, 5))
	}
	printEvalErrors(w, sum.Rules) // scan_errors.go
	rate := float64(sum.Events) / max(elapsed.Seconds(), 1e-9)
	updates := ""
	if sum.Updates > 0 {
		updates = fmt.Sprintf(" (and %d emitted again with their final suppressed count)", sum.Updates)
	}
	fmt.Fprintf(w, "%d events → %d alerts%s in %.2fs (%.0f events/s)\n", sum.Events, sum.Alerts, updates, elapsed.Seconds(), rate)
}

// abbreviate lists up to n of ids, and how many more there are.
func abbreviate(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:n], ", "), len(ids)-n)
}
