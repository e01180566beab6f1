package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/scenario"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// DemoOptions configures RunDemo.
type DemoOptions struct {
	// Scenario is the folder of one scenario (its *.log files are replayed).
	Scenario fs.FS
	// Format of the scenario's logs (default sshd).
	Format string
	// OutputDir receives alerts.ndjson and verdicts.ndjson.
	OutputDir string
	// Config is the base configuration (kafka, triage); inputs and output
	// are set by the demo.
	Config config.Config
	// Timeout bounds the whole run (default 2 minutes).
	Timeout time.Duration
	Log     *slog.Logger
}

// DemoResult is what a demo run produced.
type DemoResult struct {
	Events      int64
	Alerts      int64
	Verdicts    []triage.Verdict // the latest verdict of each incident, as indexed
	DeadLetters int64
	Elapsed     time.Duration
	// LLMBudget is how long the LLM had per incident (all its attempts),
	// 0 when triage used the fallback engine alone.
	LLMBudget time.Duration
	// Fallbacks counts, by reason (triage.FallbackReason), the incidents
	// whose latest verdict the fallback engine gave because the LLM did
	// not answer.
	Fallbacks map[string]int
}

// FellBack is how many incidents the fallback engine judged because the
// LLM did not answer.
func (r *DemoResult) FellBack() int {
	n := 0
	for _, c := range r.Fallbacks {
		n += c
	}
	return n
}

// DemoLLMBudget is how long the demo gives the LLM per incident, all
// attempts included: the configured triage.openai.total_timeout (or its
// default), at most an eighth of the demo's timeout (at least 5s), so
// that an API that hangs delays the verdicts (an incident may be judged
// again as its alerts arrive) but never outlasts the demo, which then
// prints the fallback engine's verdicts.
func DemoLLMBudget(demoTimeout time.Duration, configured triage.Duration) time.Duration {
	budget := time.Duration(configured)
	if budget <= 0 {
		budget = triage.DefaultOpenAITotalTimeout
	}
	return min(budget, max(demoTimeout/8, 5*time.Second))
}

// RunDemo replays a scenario through every stage on Kafka (the embedded
// broker unless kafka.bootstrap_servers is set) and returns once every
// replayed event has gone through detect, every alert through triage and
// every alert and verdict through the index stage.
func RunDemo(ctx context.Context, opts DemoOptions) (*DemoResult, error) {
	start := time.Now()
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Format == "" {
		opts.Format = "sshd"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	// The replayed logs are copied to the output folder, and named in
	// event ids by their name in the scenario (DemoSourceName), not by
	// the copy's path: ids derive from the source name, offset and line,
	// so every run, whatever --out is, yields the same event, alert and
	// incident ids, the ones the docs print, and a second run over the
	// same output overwrites instead of duplicating.
	work := filepath.Join(opts.OutputDir, "input")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	logs, err := copyLogs(opts.Scenario, work)
	if err != nil {
		return nil, err
	}
	sourceNames := map[string]string{}
	for _, l := range logs {
		abs, err := filepath.Abs(l) // the file input names what it reads by absolute path
		if err != nil {
			return nil, err
		}
		sourceNames[abs] = DemoSourceName(filepath.Base(l))
	}
	cfg := opts.Config
	var budget time.Duration
	if cfg.Triage.UsesLLM() {
		budget = DemoLLMBudget(opts.Timeout, cfg.Triage.OpenAI.TotalTimeout)
		cfg.Triage.OpenAI.TotalTimeout = triage.Duration(budget)
	}
	cfg.Collect.Inputs = []config.Input{{Type: "file", Paths: logs, Format: opts.Format}}
	cfg.Index.OutputDir = opts.OutputDir
	cfg.Index.Elasticsearch = config.Elasticsearch{} // the demo writes files
	for _, f := range []string{"alerts.ndjson", "verdicts.ndjson"} {
		if err := os.Remove(filepath.Join(opts.OutputDir, f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}

	sys, err := Start(ctx, cfg, opts.Log)
	if err != nil {
		return nil, err
	}
	defer sys.Close()
	sys.NoRegistry = true
	sys.SourceNames = sourceNames

	stages := sys.StartStages(ctx)
	defer stages.Stop()
	if err := sys.RunCollect(ctx); err != nil {
		return nil, err
	}
	if err := sys.waitDrained(ctx, stages.Err); err != nil {
		return nil, err
	}
	stages.Stop() // the index stage closes (and compacts) its files on the way out
	select {
	case err := <-stages.Err:
		return nil, err
	default:
	}

	res := &DemoResult{
		Events:      sys.Progress.Collected.Load(),
		DeadLetters: sys.Progress.DeadLetters.Load(),
		LLMBudget:   budget,
	}
	// Alerts are counted as indexed: one per id (a suppressed alert is
	// sent again with its final count under the same id).
	alerts, err := indexer.ReadLatest(filepath.Join(opts.OutputDir, "alerts.ndjson"))
	if err != nil {
		return nil, err
	}
	res.Alerts = int64(len(alerts))
	res.Verdicts, err = ReadVerdicts(filepath.Join(opts.OutputDir, "verdicts.ndjson"))
	if err != nil {
		return nil, err
	}
	for _, v := range res.Verdicts {
		if why := triage.FallbackReason(v.Triage.Flags); why != "" {
			if res.Fallbacks == nil {
				res.Fallbacks = map[string]int{}
			}
			res.Fallbacks[why]++
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// waitDrained returns once every collected event passed detect, every
// alert passed triage, and every alert and verdict passed the index stage.
func (s *System) waitDrained(ctx context.Context, stageErr <-chan error) error {
	p := s.Progress
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		events, alerts, verdicts := p.Collected.Load(), p.Alerts.Load(), p.Verdicts.Load()
		if p.DetectIn.Load() >= events && p.TriageIn.Load() >= alerts && p.IndexIn.Load() >= alerts+verdicts &&
			// Re-read: a stage may have produced more while we looked.
			p.Alerts.Load() == alerts && p.Verdicts.Load() == verdicts {
			return nil
		}
		select {
		case err := <-stageErr:
			return err
		case <-ctx.Done():
			return fmt.Errorf("pipeline did not drain: %d/%d events detected, %d/%d alerts triaged, %d/%d documents indexed: %w",
				p.DetectIn.Load(), events, p.TriageIn.Load(), alerts, p.IndexIn.Load(), alerts+verdicts, ctx.Err())
		case <-tick.C:
		}
	}
}

// DemoSourceName is the name the demo gives a scenario's log file in
// event ids: "scenario/<file>", the name indexer/scenario gives it by
// default, so that the demo and the offline replay of a scenario make the
// same ids.
func DemoSourceName(file string) string { return "scenario/" + file }

func copyLogs(logs fs.FS, dir string) ([]string, error) {
	names, err := fs.Glob(logs, "*.log")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("demo scenario has no *.log file")
	}
	var paths []string
	for _, n := range names {
		data, err := fs.ReadFile(logs, n)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return nil, err
		}
		// The collector places syslog lines without a year by the
		// file's modification time: the scenario's dates (and the
		// docs' examples) stay December 2025 on any day it is run.
		if err := os.Chtimes(p, scenario.DefaultReference, scenario.DefaultReference); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// ReadVerdicts reads the latest verdict of each incident from an NDJSON
// file written by the index stage.
func ReadVerdicts(path string) ([]triage.Verdict, error) {
	docs, err := indexer.ReadLatest(path)
	if err != nil {
		return nil, err
	}
	out := make([]triage.Verdict, 0, len(docs))
	for i, d := range docs {
		var v triage.Verdict
		if err := json.Unmarshal(d, &v); err != nil {
			return nil, fmt.Errorf("%s: verdict %d: %w", path, i+1, err)
		}
		out = append(out, v)
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rules.SeverityRank(out[i].Triage.Severity), rules.SeverityRank(out[j].Triage.Severity)
		if ri != rj {
			return ri > rj
		}
		return out[i].Vigil.Incident.FirstSeen.Before(out[j].Vigil.Incident.FirstSeen)
	})
	return out, nil
}

// PrintIncidents writes each verdict the way a responder reads it.
func PrintIncidents(w io.Writer, verdicts []triage.Verdict) {
	for _, v := range verdicts {
		inc, t := v.Vigil.Incident, v.Triage
		fmt.Fprintf(w, "\n══ Incident %s ══\n", inc.ID)
		fmt.Fprintf(w, "entity     %s\n", inc.Entity)
		if len(inc.Users)+len(inc.Hosts) > 0 {
			fmt.Fprintf(w, "involves   users %s · hosts %s\n", orNone(inc.Users), orNone(inc.Hosts))
		}
		fmt.Fprintf(w, "when       %s → %s\n", inc.FirstSeen.UTC().Format(time.RFC3339), inc.LastSeen.UTC().Format(time.RFC3339))
		var rs []string
		for _, r := range inc.Rules {
			if r.Suppressed > 0 {
				rs = append(rs, fmt.Sprintf("%s ×%d +%d suppressed (%s)", r.Name, r.Count, r.Suppressed, r.Severity))
				continue
			}
			rs = append(rs, fmt.Sprintf("%s ×%d (%s)", r.Name, r.Count, r.Severity))
		}
		fmt.Fprintf(w, "rules      %s\n", strings.Join(rs, "; "))
		cached := ""
		if t.Cached {
			cached = ", cached"
		}
		fmt.Fprintf(w, "verdict    %s · confidence %.2f · severity %s · engine %s%s\n", strings.ToUpper(t.Verdict), t.Confidence, t.Severity, t.Engine, cached)
		if len(t.Flags) > 0 {
			fmt.Fprintf(w, "flags      %s\n", strings.Join(t.Flags, ", "))
		}
		fmt.Fprintf(w, "summary    %s\n\n", t.Summary)
		for _, line := range strings.Split(strings.TrimRight(t.Notes, "\n"), "\n") {
			fmt.Fprintf(w, "  │ %s\n", line)
		}
	}
}

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "-"
	}
	return strings.Join(ss, ", ")
}
