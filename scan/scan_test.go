package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/internal/corpus"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

func pack(t testing.TB) []*rules.Compiled {
	t.Helper()
	rs, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return rs
}

func scanData(t testing.TB, name string, data []byte, workers int) ([]rules.Alert, *scan.Summary) {
	t.Helper()
	p, err := collectors.NewParser("auto", collectors.ParserConfig{Reference: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var alerts []rules.Alert
	sum, err := scan.Run(context.Background(), []scan.Input{{Name: name, Reader: bytes.NewReader(data), Parser: p}},
		scan.Options{Rules: pack(t), Workers: workers, BatchEvents: 100}, func(a rules.Alert) error {
			alerts = append(alerts, a)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return alerts, sum
}

func TestScanFindsTheOpenSSHBruteForces(t *testing.T) {
	alerts, sum := scanData(t, "OpenSSH_2k.log", corpus.Read(t, "loghub/OpenSSH_2k.log"), 0)
	if sum.Events != 2000 || sum.Inputs[0].Failed() != 0 {
		t.Fatalf("%d events, %d flagged", sum.Events, sum.Inputs[0].Failed())
	}
	flagged := map[string]bool{}
	for _, a := range alerts {
		if a.Rule.ID == "vigil.ssh.brute_force_success" {
			t.Errorf("brute-force-then-success fired for %s", a.Vigil.Alert.Entity)
		}
		if a.Rule.ID == "vigil.ssh.brute_force" {
			flagged[a.Vigil.Alert.Entity.Value] = true
		}
	}
	for _, ip := range []string{"183.62.140.253", "187.141.143.180", "103.99.0.122", "112.95.230.3", "5.188.10.180", "185.190.58.151"} {
		if !flagged[ip] {
			t.Errorf("%s not flagged", ip)
		}
	}
	var bf *scan.RuleSummary
	for _, r := range sum.Rules {
		if r.ID == "vigil.ssh.brute_force" {
			bf = r
		}
	}
	// The summary counts distinct alerts: with suppress (one alert per
	// source per hour) an alert is emitted a second time, with the same
	// id, to carry its final suppressed count, and counts once. The top
	// entity is the source attacking over the most hours, not the one
	// with the most attempts.
	counts := map[string]int64{}
	ids := map[string]bool{}
	for _, a := range alerts {
		if ids[a.Vigil.Alert.ID] {
			continue
		}
		ids[a.Vigil.Alert.ID] = true
		if a.Rule.ID == "vigil.ssh.brute_force" {
			counts[a.Vigil.Alert.Entity.String()]++
		}
	}
	if sum.Alerts != int64(len(ids)) || sum.Alerts+sum.Updates != int64(len(alerts)) || sum.Updates == 0 {
		t.Errorf("summary: %d alerts and %d emitted again; emitted %d, %d distinct ids (the suppressed ones twice)",
			sum.Alerts, sum.Updates, len(alerts), len(ids))
	}
	// The brute force rule was evaluated on sshd events, no Windows rule
	// on any.
	for _, r := range sum.Rules {
		switch {
		case r.ID == "vigil.ssh.brute_force" && (r.Evaluated == 0 || r.Evaluated > sum.Events):
			t.Errorf("%s evaluated on %d of %d events", r.ID, r.Evaluated, sum.Events)
		case strings.HasPrefix(r.ID, "vigil.windows.") && r.Evaluated != 0:
			t.Errorf("%s evaluated on %d sshd events", r.ID, r.Evaluated)
		}
	}
	if bf == nil || bf.Alerts == 0 || len(bf.Entities) != len(counts) {
		t.Fatalf("summary for the brute-force rule: %+v, emitted per entity: %v", bf, counts)
	}
	for ent, n := range counts {
		if bf.Entities[ent] != n {
			t.Errorf("summary counts %d alerts for %s, %d were emitted", bf.Entities[ent], ent, n)
		}
	}
	top := bf.TopEntities(len(counts))
	for i := 1; i < len(top); i++ {
		if bf.Entities[top[i]] > bf.Entities[top[i-1]] {
			t.Errorf("TopEntities not by count: %v", top)
		}
	}
}

func TestScanOutputDoesNotDependOnWorkers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "testdata", "scenarios", "ssh-bruteforce", "auth.log"))
	if err != nil {
		t.Fatal(err)
	}
	one, _ := scanData(t, "auth.log", data, 1)
	many, _ := scanData(t, "auth.log", data, 4)
	if len(one) == 0 || len(one) != len(many) {
		t.Fatalf("1 worker: %d alerts, 4 workers: %d", len(one), len(many))
	}
	// The same alerts in the same order, whatever the number of engines.
	for i := range one {
		if one[i].Vigil.Alert.ID != many[i].Vigil.Alert.ID || one[i].Vigil.Alert.SuppressedCount != many[i].Vigil.Alert.SuppressedCount {
			t.Fatalf("alert %d: %s (%s) with 1 worker, %s (%s) with 4", i,
				one[i].Vigil.Alert.ID, one[i].Rule.ID, many[i].Vigil.Alert.ID, many[i].Rule.ID)
		}
	}
}

func TestScanStopsOnEmitError(t *testing.T) {
	data := bytes.Repeat([]byte("Dec 10 06:55:46 LabSZ sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2\n"), 5000)
	p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
	stop := fmt.Errorf("disk full")
	_, err := scan.Run(context.Background(), []scan.Input{{Name: "x", Reader: bytes.NewReader(data), Parser: p}},
		scan.Options{Rules: pack(t), BatchEvents: 50}, func(rules.Alert) error { return stop })
	if err != stop {
		t.Fatalf("Run = %v, want the emit error", err)
	}
}

// BenchmarkScan measures parse + the whole pack over the OpenSSH corpus,
// repeated, in lines/s.
func BenchmarkScan(b *testing.B) {
	one := corpus.Read(b, "loghub/OpenSSH_2k.log")
	data := bytes.Repeat(append(one, '\n'), 50) // 100,000 lines
	b.SetBytes(int64(len(data)))
	rs := pack(b)
	for b.Loop() {
		p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
		_, err := scan.Run(context.Background(), []scan.Input{{Name: "x", Reader: bytes.NewReader(data), Parser: p}},
			scan.Options{Rules: rs}, func(rules.Alert) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkScanNDJSON is BenchmarkScan with the alerts written as NDJSON,
// as vigil scan prints them.
func BenchmarkScanNDJSON(b *testing.B) {
	one := corpus.Read(b, "loghub/OpenSSH_2k.log")
	data := bytes.Repeat(append(one, '\n'), 50) // 100,000 lines
	b.SetBytes(int64(len(data)))
	rs := pack(b)
	var written int64
	for b.Loop() {
		p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
		out := &countingWriter{}
		enc := json.NewEncoder(out)
		_, err := scan.Run(context.Background(), []scan.Input{{Name: "x", Reader: bytes.NewReader(data), Parser: p}},
			scan.Options{Rules: rs}, func(a rules.Alert) error { return enc.Encode(a) })
		if err != nil {
			b.Fatal(err)
		}
		written = out.n
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(written)/(1<<20), "alert-MB")
}

// countingWriter discards what it is given and counts it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// bruteForce is n failed logins of one source, a second apart.
func bruteForce(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Dec 10 07:00:%02d LabSZ sshd[%d]: Failed password for root from 203.0.113.77 port %d ssh2\n", i, 100+i, 4000+i)
	}
	return b.String()
}

func TestFlushComesAfterAlertsWhenTheInputWaits(t *testing.T) {
	// A live input: ten failures, then nothing while the pipe stays open.
	// The alert is handed to emit and Flush is called without waiting
	// for the end of the input.
	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, bruteForce(10))
	p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
	var alerts atomic.Int64
	flushed := make(chan int64, 10)
	done := make(chan error, 1)
	go func() {
		_, err := scan.Run(context.Background(), []scan.Input{{Name: "stdin", Reader: pr, Parser: p}},
			scan.Options{Rules: pack(t), Flush: func() error {
				flushed <- alerts.Load()
				return nil
			}}, func(a rules.Alert) error {
				alerts.Add(1)
				return nil
			})
		done <- err
	}()
	select {
	case n := <-flushed:
		if n != 1 {
			t.Errorf("flushed after %d alerts, want the brute force's 1", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no flush within 20s while the input waits")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFlushErrorEndsTheScan(t *testing.T) {
	p, _ := collectors.NewParser("sshd", collectors.ParserConfig{})
	broken := errors.New("stdout closed")
	_, err := scan.Run(context.Background(), []scan.Input{{Name: "f", Reader: strings.NewReader(bruteForce(10)), Parser: p}},
		scan.Options{Rules: pack(t), Flush: func() error { return broken }}, func(rules.Alert) error { return nil })
	if !errors.Is(err, broken) {
		t.Fatalf("Run = %v, want the flush error", err)
	}
}
