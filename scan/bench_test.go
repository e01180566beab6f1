package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/internal/gcfloor"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// BenchmarkScanOpenSSH scans loghub's OpenSSH_2k.log repeated 50 times
// (100k lines) with the built-in pack and the default enrichers, as
// `vigil scan -f sshd` does.
func BenchmarkScanOpenSSH(b *testing.B) {
	one := corpus.Read(b, "loghub/OpenSSH_2k.log")
	data := bytes.Repeat(one, 50)
	lines := bytes.Count(data, []byte("\n"))
	enrich, rs := packWithEnrichers(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
		if err != nil {
			b.Fatal(err)
		}
		_, err = scan.Run(context.Background(), []scan.Input{{Name: "/var/log/auth.log", Reader: bytes.NewReader(data), Parser: p}},
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

// BenchmarkScanOpenSSHFiles is BenchmarkScanOpenSSH with the same 100k
// lines as five files (hosts) of 20k lines each, merged by event time.
func BenchmarkScanOpenSSHFiles(b *testing.B) {
	one := corpus.Read(b, "loghub/OpenSSH_2k.log")
	data := bytes.Repeat(one, 10)
	const files = 5
	lines := files * bytes.Count(data, []byte("\n"))
	enrich, rs := packWithEnrichers(b)
	b.SetBytes(int64(files * len(data)))
	for b.Loop() {
		var inputs []scan.Input
		for i := range files {
			p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
			if err != nil {
				b.Fatal(err)
			}
			inputs = append(inputs, scan.Input{Name: fmt.Sprintf("/var/log/host%d/auth.log", i), Reader: bytes.NewReader(data), Parser: p})
		}
		_, err := scan.Run(context.Background(), inputs, scan.Options{Rules: rs, Enrich: enrich.Enrich}, func(a rules.Alert) error {
			_, err := a.MarshalJSON()
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEngineSSHDLine runs the built-in pack on one kind of sshd line
// (one engine, the line's event parsed once, its time moved on by a second
// per event): the engine's cost per event of that kind, including the
// alerts (suppressed or not) a repeated failure raises.
func BenchmarkEngineSSHDLine(b *testing.B) {
	lines := map[string]string{
		"received-disconnect": "Dec 10 09:32:20 LabSZ sshd[24680]: Received disconnect from 5.36.59.76: 11: Bye Bye [preauth]",
		"pam-check-pass":      "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown",
		"connection-closed":   "Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]",
		"failed-password":     "Dec 10 09:32:20 LabSZ sshd[24680]: Failed password for root from 5.36.59.76 port 42393 ssh2",
		"pam-auth-failure":    "Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root",
	}
	enrich, rs := packWithEnrichers(b)
	for name, line := range lines {
		b.Run(name, func(b *testing.B) {
			p, err := collectors.NewParser("sshd", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Location: time.UTC})
			if err != nil {
				b.Fatal(err)
			}
			var ev event.Event
			if _, err := collectors.Read("/var/log/auth.log", strings.NewReader(line+"\n"), p, func(e event.Event) error {
				enrich.Enrich(context.Background(), e)
				ev = e
				return nil
			}); err != nil || ev == nil {
				b.Fatal("line not parsed", err)
			}
			t0, _ := ev.Time()
			// Time only moves forward: a new engine starts each round.
			var eng *rules.Engine
			evs := make([]event.Event, 4096)
			for i := range evs {
				evs[i] = ev.Clone()
				evs[i][event.FieldTimestamp] = event.FormatTime(t0.Add(time.Duration(i) * time.Second))
			}
			n := 0
			for b.Loop() {
				if n%len(evs) == 0 {
					eng = rules.NewEngine(rs, rules.EngineConfig{})
				}
				eng.Process(evs[n%len(evs)])
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkScanOpenSSHEngines is BenchmarkScanOpenSSH with the rules
// shared by one engine or two, the lines parsed by one goroutine or two:
// the split the defaults take on a two-core machine is the fastest there.
func BenchmarkScanOpenSSHEngines(b *testing.B) {
	defer gcfloor.Start(config.DefaultHeapFloorMB<<20, 100)() // as vigil scan runs
	data, lines := openSSH(b, 50)
	enrich, rs := packWithEnrichers(b)
	for _, split := range []struct{ engines, parsers int }{{1, 1}, {1, 2}, {2, 2}} {
		b.Run(fmt.Sprintf("engines=%d/parsers=%d", split.engines, split.parsers), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_, err := scan.Run(context.Background(), []scan.Input{{Name: "/var/log/auth.log", Reader: bytes.NewReader(data), Parser: sshdParser(b)}},
					scan.Options{Rules: rs, Enrich: enrich.Enrich, Workers: split.engines, ParseWorkers: split.parsers}, func(a rules.Alert) error {
						_, err := a.MarshalJSON()
						return err
					})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lines*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
