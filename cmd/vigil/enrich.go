package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/event"
)

// enrichSummary counts what enrichment did to the events read.
type enrichSummary struct {
	events   int
	enriched int            // events that got at least one field
	fields   map[string]int // events that got each field
	flagged  int            // events with vigil.enrichment_errors
	errors   map[string]int // failures by enricher
}

func newEnrichCmd(g *globals) *cobra.Command {
	var o readOptions
	cmd := &cobra.Command{
		Use:   "enrich [--format F|auto] FILE...",
		Short: "Parse log files and run the enrichers of detect.enrich on them: enriched events as NDJSON on stdout, a summary on stderr",
		Long: "Parses each FILE (\"-\" or none: standard input) as `vigil parse` does and runs the enrichers of " +
			"detect.enrich on every event, as the detect stage does before the rules, to debug a configuration: " +
			"which databases, feeds and inventories load, and what they add. Enriched events are printed as " +
			"NDJSON on stdout. On stderr: the parse summary, how many events got each field, the enrichment " +
			"failures (vigil.enrichment_errors) by enricher, and each enricher's lookups and cache counters. " +
			"A database, feed or inventory that does not load is an error naming the option and the file.",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := g.load()
			if err != nil {
				return err
			}
			set, err := enrichers.New(cfg.Detect.Enrich)
			if err != nil {
				return fmt.Errorf("enrich: %w", err)
			}
			defer set.Close()
			ctx := cmd.Context()
			sum := enrichSummary{fields: map[string]int{}, errors: map[string]int{}}
			out := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
			stats, err := o.readInputs(args, cmd.InOrStdin(), func(e event.Event) error {
				before := e.Clone()
				set.Enrich(ctx, e)
				sum.add(before, e)
				b, err := event.Marshal(e)
				if err != nil {
					return fmt.Errorf("encode event %s: %w", e.ID(), err)
				}
				out.Write(b)
				return out.WriteByte('\n')
			}, out, nil)
			if ferr := out.Flush(); err == nil {
				err = ferr
			}
			w := cmd.ErrOrStderr()
			printSummary(w, stats)
			sum.print(w, set)
			return err
		},
	}
	o.flags(cmd)
	return cmd
}

// add counts what enrichment changed from before to after.
func (s *enrichSummary) add(before, after event.Event) {
	s.events++
	got := false
	for k, v := range after {
		if k == enrichers.FieldErrors {
			continue
		}
		old, had := before[k]
		// threat.enrichments is appended to; compare lengths, not values,
		// which may be maps.
		if had && !(k == "threat.enrichments" && listLen(v) > listLen(old)) {
			continue
		}
		s.fields[k]++
		got = true
	}
	if got {
		s.enriched++
	}
	errs, _ := after[enrichers.FieldErrors].([]any)
	prev, _ := before[enrichers.FieldErrors].([]any)
	if len(errs) > len(prev) {
		s.flagged++
		for _, e := range errs[len(prev):] {
			name, _, _ := strings.Cut(event.Stringify(e), ":")
			s.errors[name]++
		}
	}
}

func listLen(v any) int {
	l, _ := v.([]any)
	return len(l)
}

func (s *enrichSummary) print(w io.Writer, set *enrichers.Set) {
	names := set.Names()
	if len(names) == 0 {
		names = []string{"none (configure detect.enrich)"}
	}
	fmt.Fprintf(w, "enrichers: %s\n", strings.Join(names, ", "))
	fmt.Fprintf(w, "%d events, %d enriched, %d flagged (%s)\n", s.events, s.enriched, s.flagged, enrichers.FieldErrors)
	if len(s.fields) > 0 {
		fmt.Fprintln(w, "fields added (events):")
		keys := make([]string, 0, len(s.fields))
		for k := range s.fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %8d  %s\n", s.fields[k], k)
		}
	}
	if len(s.errors) > 0 {
		fmt.Fprintln(w, "failures (events):")
		keys := make([]string, 0, len(s.errors))
		for k := range s.errors {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %8d  %s\n", s.errors[k], k)
		}
	}
	st := set.Stats()
	fmt.Fprintln(w, "lookups:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  enricher\tlookups\thits\tmisses\tcached\tentries\terrors")
	for _, name := range append(set.Names(), enrichers.CacheName) {
		x := st[name]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d\t%d\n", name, x.Lookups, x.CacheHits, x.CacheMisses, x.CacheSize, x.Entries, x.Errors)
	}
	tw.Flush()
}
