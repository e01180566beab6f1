package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/enrichers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/gcfloor"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// The benchmarks of this file take `vigil scan -f sshd` apart over the
// lines docs/bench/compare.sh scans (loghub's OpenSSH_2k.log, repeated):
// the whole scan over all 500,000 lines, then each phase alone over
// 100,000, so that a profile of one phase is not blurred by the others.

// openSSH returns loghub's OpenSSH_2k.log, each line newline-terminated,
// copies times over, and its number of lines.
func openSSH(b testing.TB, copies int) ([]byte, int) {
	one := corpus.Read(b, "loghub/OpenSSH_2k.log")
	if !bytes.HasSuffix(one, []byte("\n")) {
		one = append(one, '\n')
	}
	data := bytes.Repeat(one, copies)
	return data, bytes.Count(data, []byte("\n"))
}

// packWithEnrichers returns the default enrichers and the pack compiled
// with their functions, as vigil scan without a configuration loads them.
func packWithEnrichers(b testing.TB) (*enrichers.Set, []*rules.Compiled) {
	b.Helper()
	enrich, err := enrichers.New(enrichers.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { enrich.Close() })
	rs, errs := rules.LoadFS(rules.Pack(), ".", rules.WithFunctions(enrich.RuleFunctions()))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	return enrich, rs
}

func sshdParser(b testing.TB) collectors.Parser {
	p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkScan500k is compare.sh's `vigil scan -f sshd` in process: the
// 500,000 lines, the default enrichers, the pack, the command's GC
// setting, alerts encoded. Profile it with
// go test -run XXX -bench Scan500k -benchtime 3x -cpuprofile cpu.out ./scan/
func BenchmarkScan500k(b *testing.B) {
	data, lines := openSSH(b, 250)
	enrich, rs := packWithEnrichers(b)
	defer gcfloor.Start(config.DefaultHeapFloorMB<<20, 100)()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, err := scan.Run(context.Background(), []scan.Input{{Name: "/var/log/auth.log", Reader: bytes.NewReader(data), Parser: sshdParser(b)}},
			scan.Options{Rules: rs, Enrich: enrich.Enrich}, func(a rules.Alert) error {
				_, err := a.MarshalJSON()
				return err
			})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
}

// parseAll parses data with one parser on this goroutine, handing each
// event to each.
func parseAll(b *testing.B, data []byte, each func(event.Event)) {
	if _, err := collectors.Read("/var/log/auth.log", bytes.NewReader(data), sshdParser(b), func(e event.Event) error {
		each(e)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPhaseParse is reading and parsing alone, one goroutine, the
// events dropped.
func BenchmarkPhaseParse(b *testing.B) {
	data, lines := openSSH(b, 50)
	for b.Loop() {
		parseAll(b, data, func(event.Event) {})
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPhaseEnrich is the default enrichers alone on parsed events.
func BenchmarkPhaseEnrich(b *testing.B) {
	data, lines := openSSH(b, 50)
	enrich, _ := packWithEnrichers(b)
	var evs []event.Event
	parseAll(b, data, func(e event.Event) { evs = append(evs, e) })
	b.ResetTimer()
	for b.Loop() {
		for _, e := range evs {
			enrich.Enrich(context.Background(), e)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkPhaseEngine is the pack alone on parsed and enriched events:
// one engine with every rule, then each half of the rules (as two scan
// workers share them) on an engine of its own.
func BenchmarkPhaseEngine(b *testing.B) {
	data, lines := openSSH(b, 50)
	enrich, rs := packWithEnrichers(b)
	var evs []event.Event
	parseAll(b, data, func(e event.Event) {
		enrich.Enrich(context.Background(), e)
		evs = append(evs, e)
	})
	shares := map[string][]*rules.Compiled{"all": rs}
	for half := range 2 {
		var share []*rules.Compiled
		for j := half; j < len(rs); j += 2 {
			share = append(share, rs[j])
		}
		shares[fmt.Sprintf("half%d", half)] = share
	}
	for _, name := range []string{"all", "half0", "half1"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				eng := rules.NewEngine(shares[name], rules.EngineConfig{})
				for _, e := range evs {
					eng.Process(e)
				}
				eng.Flush()
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
