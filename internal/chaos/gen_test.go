package chaos_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/vigil-siem/vigil/collectors"
	"github.com/vigil-siem/vigil/internal/chaos"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/scan"
)

// scanFiles runs the built-in rule pack over the generated files the way
// `vigil scan` does and returns the summary and the alerts.
func scanFiles(t *testing.T, paths []string) (*scan.Summary, []rules.Alert) {
	t.Helper()
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatalf("rule pack: %v", errs)
	}
	var inputs []scan.Input
	files := chaos.Files()
	for i, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		p, err := collectors.NewParser(files[i].Format, collectors.ParserConfig{Reference: st.ModTime()})
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, scan.Input{Name: path, Reader: f, Parser: p})
	}
	var alerts []rules.Alert
	sum, err := scan.Run(context.Background(), inputs, scan.Options{Rules: compiled}, func(a rules.Alert) error {
		alerts = append(alerts, a)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sum, alerts
}

func TestGeneratedFilesParseAndTheirAttacksAreDetected(t *testing.T) {
	const records = 20000
	m := chaos.NewGenerator(chaos.GenConfig{Events: records, Seed: 7, AttackEvery: 500, MalformedEvery: 1000})
	paths, err := chaos.WriteFiles(t.TempDir(), m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Malformed == 0 {
		t.Fatal("no malformed record written")
	}
	sum, alerts := scanFiles(t, paths)
	if sum.Events != records {
		t.Errorf("scan read %d events from %d records", sum.Events, records)
	}
	failed := 0
	for _, in := range sum.Inputs {
		failed += int(in.Failed())
	}
	if failed != m.Malformed {
		t.Errorf("%d records flagged unparseable, %d written malformed on purpose", failed, m.Malformed)
	}
	byRule := map[string]int{}
	for _, a := range alerts {
		byRule[a.Rule.ID]++
	}
	for _, c := range []struct {
		attack, rule string
		atLeast      bool
	}{
		{"ssh_bruteforce_success", "vigil.ssh.brute_force_success", false},
		{"ssh_bruteforce_success", "vigil.ssh.brute_force", true},
		// The first request of a scan raises an alert, the suppression
		// window's close another with the count of the rest.
		{"web_scan", "vigil.web.scanner_user_agent", true},
		{"web_scan", "vigil.web.404_burst", true},
		{"lsass_dump", "vigil.windows.lsass_access", false},
		{"cloudtrail_stop", "vigil.aws.cloudtrail_stopped", false},
	} {
		n := m.Attacks[c.attack]
		if n == 0 {
			t.Errorf("no %s attack written", c.attack)
		}
		if got := byRule[c.rule]; got < n || (!c.atLeast && got != n) {
			t.Errorf("%d %s attacks raised %d %s alerts", n, c.attack, got, c.rule)
		}
	}
	t.Logf("%d records, %d malformed, attacks %v, alerts by rule %v", records, m.Malformed, m.Attacks, byRule)
}

func TestGenerateIsReproducible(t *testing.T) {
	read := func(seed uint64) [][]byte {
		paths, err := chaos.WriteFiles(t.TempDir(), chaos.NewGenerator(chaos.GenConfig{Events: 3000, Seed: seed}))
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	a, b, c := read(1), read(1), read(2)
	same := func(x, y [][]byte) bool {
		for i := range x {
			if !bytes.Equal(x[i], y[i]) {
				return false
			}
		}
		return len(x) == len(y)
	}
	if !same(a, b) {
		t.Error("one seed gave two different sets of files")
	}
	if same(a, c) {
		t.Error("two seeds gave the same files")
	}
}
