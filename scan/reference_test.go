package scan_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// fixedNow is the engines' clock (event.created of alerts).
func fixedNow() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }

// referenceScan is the simplest scan there is: one parser reading line by
// line, the enrichers, one engine running every rule on one event after
// the other, then Flush; each event's alerts ordered by rule (the order
// Run documents). It returns the alerts as NDJSON lines.
func referenceScan(t *testing.T, data []byte, rs []*rules.Compiled, enrich func(context.Context, event.Event)) []string {
	t.Helper()
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, c := range rs {
		if _, ok := pos[c.Rule.ID]; !ok {
			pos[c.Rule.ID] = i
		}
	}
	var out []string
	add := func(alerts []rules.Alert) {
		sort.SliceStable(alerts, func(i, j int) bool { return pos[alerts[i].Rule.ID] < pos[alerts[j].Rule.ID] })
		for _, a := range alerts {
			b, err := a.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
	}
	eng := rules.NewEngine(rs, rules.EngineConfig{Now: fixedNow})
	if _, err := collectors.Read("/var/log/auth.log", bytes.NewReader(data), p, func(e event.Event) error {
		enrich(context.Background(), e)
		add(eng.Process(e))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	add(eng.Flush())
	return out
}

// TestScanEqualsTheReferenceScan pins Run's parallel paths (parsing on
// several goroutines, rules shared by several engines, batches) to the
// reference: the same alerts, byte for byte, in the same order.
func TestScanEqualsTheReferenceScan(t *testing.T) {
	scenario, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{"ssh-bruteforce scenario": scenario}
	if corpus.Root() != "" {
		// Repeated, the file's time jumps back at every copy: late events,
		// windows reopened, suppression counts.
		one := corpus.Read(t, "loghub/OpenSSH_2k.log")
		if !bytes.HasSuffix(one, []byte("\n")) {
			one = append(one, '\n')
		}
		inputs["OpenSSH_2k.log ×5"] = bytes.Repeat(one, 5)
		inputs["Linux_2k.log"] = corpus.Read(t, "loghub/Linux_2k.log")
	}
	enrich, rs := packWithEnrichers(t)
	for name, data := range inputs {
		want := referenceScan(t, data, rs, enrich.Enrich)
		if len(want) == 0 {
			t.Fatalf("%s: the reference finds no alert: nothing is compared", name)
		}
		for _, opts := range []scan.Options{
			{},
			{Workers: 1, ParseWorkers: 1},
			{Workers: 2, ParseWorkers: 3, BatchEvents: 37},
			{Workers: 5, ParseWorkers: 2, BatchEvents: 1000},
		} {
			opts.Rules, opts.Enrich, opts.Engine.Now = rs, enrich.Enrich, fixedNow
			p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			sum, err := scan.Run(context.Background(), []scan.Input{{Name: "/var/log/auth.log", Reader: bytes.NewReader(data), Parser: p}}, opts,
				func(a rules.Alert) error {
					b, err := a.MarshalJSON()
					got = append(got, string(b))
					return err
				})
			if err != nil {
				t.Fatal(err)
			}
			lines := int64(len(bytes.SplitAfter(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))))
			if sum.Events != lines {
				t.Errorf("%s: %d events of %d lines", name, sum.Events, lines)
			}
			if len(got) != len(want) {
				t.Fatalf("%s, workers %d, parse workers %d, batch %d: %d alerts, the reference %d",
					name, opts.Workers, opts.ParseWorkers, opts.BatchEvents, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s, workers %d, parse workers %d, batch %d: alert %d:\n got %s\nwant %s",
						name, opts.Workers, opts.ParseWorkers, opts.BatchEvents, i, got[i], want[i])
				}
			}
		}
	}
}
