package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vigil "github.com/vigil-siem/vigil"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/indexer/scenario"
	"github.com/vigil-siem/vigil/triage"
)

// demoOutput writes what `vigil demo --out DIR` indexes into a new DIR,
// offline, and returns DIR and the demo's verdicts.
func demoOutput(t *testing.T) (string, []triage.Verdict) {
	t.Helper()
	sc, err := fs.Sub(vigil.Scenarios(), "ssh-bruteforce")
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.Run(context.Background(), scenario.Config{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := res.Docs()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "demo out") // a space: --dir is quoted in the demo's last line
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if failed, err := s.Write(context.Background(), docs); err != nil || len(failed) != 0 {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, res.Verdicts
}

// vigilRun runs the command in this process, in a directory without
// vigil-out, with no VIGIL_INDEX_OUTPUT_DIR unless env sets it.
func vigilRun(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	for _, k := range []string{"VIGIL_INDEX_OUTPUT_DIR", "VIGIL_INDEX_ELASTICSEARCH_ADDRESSES", "VIGIL_INDEX_ELASTICSEARCH_CLOUD_ID"} {
		t.Setenv(k, env[k])
		if env[k] == "" {
			os.Unsetenv(k)
		}
	}
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// Without vigil-out in the current directory, every command that reads
// incidents says where it looked and how to point it elsewhere; --dir
// points it at a demo's output.
func TestIncidentCommandsFindTheData(t *testing.T) {
	out, verdicts := demoOutput(t)
	var mal, sus triage.Verdict
	for _, v := range verdicts {
		switch v.Triage.Verdict {
		case triage.Malicious:
			mal = v
		case triage.Suspicious:
			sus = v
		}
	}
	t.Chdir(t.TempDir())

	for _, args := range [][]string{{"incidents", "list"}, {"incidents", "show", mal.ID()}, {"triage", "explain", mal.ID()}} {
		_, err := vigilRun(t, nil, args...)
		if err == nil {
			t.Fatalf("vigil %s: no error without data", strings.Join(args, " "))
		}
		for _, want := range []string{filepath.Join("vigil-out", "verdicts.ndjson"), "the default index.output_dir",
			"--dir DIR", "VIGIL_INDEX_OUTPUT_DIR", "-c vigil.yaml", "index.elasticsearch"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("vigil %s: %q lacks %q", strings.Join(args, " "), err, want)
			}
		}
	}
	_, err := vigilRun(t, map[string]string{"VIGIL_INDEX_OUTPUT_DIR": "elsewhere"}, "incidents", "list")
	if err == nil || !strings.Contains(err.Error(), "from VIGIL_INDEX_OUTPUT_DIR") {
		t.Errorf("with VIGIL_INDEX_OUTPUT_DIR: %v", err)
	}

	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"incidents", "list", "--dir", out}, []string{mal.ID(), sus.ID()}},
		{[]string{"incidents", "show", "--dir", out, strings.ToUpper(mal.ID()[:8])}, []string{"Incident " + mal.ID()}},
		{[]string{"triage", "explain", "--dir", out, mal.ID()[:8]}, []string{"198.51.100.23", "prompt tokens"}},
		// The same output as the analyst's configuration names it.
		{[]string{"incidents", "list", "--since", "2025-12-10T09:00"}, []string{mal.ID()}},
	} {
		env := map[string]string{}
		if !strings.Contains(strings.Join(c.args, " "), "--dir") {
			env["VIGIL_INDEX_OUTPUT_DIR"] = out
		}
		got, err := vigilRun(t, env, c.args...)
		if err != nil {
			t.Errorf("vigil %s: %v", strings.Join(c.args, " "), err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("vigil %s lacks %q:\n%.600s", strings.Join(c.args, " "), w, got)
			}
		}
	}
}

// feedback's usage matches what it takes: --note is required, --by names
// the analyst; list --verdict then finds the analyst's verdict, and list
// documents its order as it sorts.
func TestIncidentsFeedbackAndListFlags(t *testing.T) {
	out, verdicts := demoOutput(t)
	var sus triage.Verdict
	for _, v := range verdicts {
		if v.Triage.Verdict == triage.Suspicious {
			sus = v
		}
	}
	t.Chdir(t.TempDir())
	if _, err := vigilRun(t, nil, "incidents", "feedback", sus.ID()[:8], "--dir", out, "--verdict", "false_positive"); err == nil ||
		!strings.Contains(err.Error(), "--note is required") {
		t.Errorf("feedback without --note: %v", err)
	}
	got, err := vigilRun(t, nil, "incidents", "feedback", sus.ID()[:8], "--dir", out, "--verdict", "false_positive",
		"--note", "our red team's scanner", "--by", "alice")
	if err != nil || !strings.Contains(got, "feedback false_positive by alice at") {
		t.Fatalf("feedback --by alice: %v: %s", err, got)
	}
	got, err = vigilRun(t, nil, "incidents", "list", "--dir", out, "--verdict", "false_positive", "--since", "2025-12-10")
	if err != nil || !strings.Contains(got, sus.ID()) || !strings.Contains(got, "suspicious→false_positive") {
		t.Errorf("list --verdict false_positive after feedback: %v:\n%s", err, got)
	}
	if _, err := vigilRun(t, nil, "incidents", "list", "--dir", out, "--since", "yesterday"); err == nil ||
		!strings.Contains(err.Error(), "2025-12-10") {
		t.Errorf("--since yesterday: %v", err)
	}
	for _, args := range [][]string{{"incidents", "list", "--help"}, {"incidents", "--help"}} {
		help, _ := vigilRun(t, nil, args...)
		if !strings.Contains(help, "most severe first, then most recently seen") || strings.Contains(help, "newest first") {
			t.Errorf("vigil %s does not say how list sorts:\n%s", strings.Join(args, " "), help)
		}
	}
	help, _ := vigilRun(t, nil, "incidents", "feedback", "--help")
	if !strings.Contains(help, "--note is required") && !strings.Contains(help, "(required)") {
		t.Errorf("feedback --help does not say --note is required:\n%s", help)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"vigil-out":     "vigil-out",
		"/tmp/demo_1":   "/tmp/demo_1",
		"demo out":      "'demo out'",
		"it's":          `'it'\''s'`,
		"$HOME/x":       "'$HOME/x'",
		"":              "''",
		"C:/vigil out/": "'C:/vigil out/'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
