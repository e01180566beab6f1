package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runRulesCmd runs `vigil rules ARGS…` in process.
func runRulesCmd(args ...string) (stdout, stderr string, err error) {
	cmd := newRulesCmd(&globals{})
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// TestRulesCommandsTakeOneFile: lint and test work on a single rule file
// as on a directory holding just it, and a path that does not exist is
// one error naming it.
func TestRulesCommandsTakeOneFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	os.WriteFile(file, []byte(`id: s.one
name: One
kind: match
severity: low
condition: event.action == "one"
tests:
  - name: fires
    events: [{"@timestamp": "2025-12-10T09:00:00Z", event.action: one}]
    expect: {count: 1}
`), 0o600)
	// Another file in the directory, broken: not read when s.yaml is named.
	os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("id: [\n"), 0o600)

	stdout, stderr, err := runRulesCmd("lint", file)
	if err != nil || stdout != "" || stderr != file+": 0 errors, 0 warnings\n" {
		t.Errorf("rules lint %s: %v\nstdout %q\nstderr %q", file, err, stdout, stderr)
	}
	stdout, _, err = runRulesCmd("test", file)
	if err != nil || !strings.Contains(stdout, "ok  \ts.one\t1 tests\ts.yaml") {
		t.Errorf("rules test %s: %v\n%s", file, err, stdout)
	}

	missing := filepath.Join(dir, "nosuch")
	for _, sub := range []string{"lint", "test"} {
		stdout, stderr, err := runRulesCmd(sub, missing)
		if err == nil || err.Error() != missing+": no such file or directory" || stdout != "" || stderr != "" {
			t.Errorf("rules %s %s: error %v\nstdout %q\nstderr %q", sub, missing, err, stdout, stderr)
		}
	}
}

// Without --lists, lint and test read the lists where the detect stage
// and scan do: detect.lists, here from VIGIL_DETECT_LISTS.
func TestRulesCommandsReadTheConfiguredLists(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules", "r.yaml"), `id: l.watched
name: A watched user
kind: match
severity: low
condition: in_list(user.name, "watched")
tests:
  - name: a watched user
    events: [{"@timestamp": "2025-12-10T09:00:00Z", user.name: mallory}]
    expect: {count: 1}
`)
	writeFile(t, filepath.Join(dir, "lists", "watched.txt"), "mallory\n")
	rulesDir := filepath.Join(dir, "rules")

	if _, _, err := runRulesCmd("test", rulesDir); err == nil {
		t.Fatal("rules test passed without the list: the test cannot tell")
	}
	t.Setenv("VIGIL_DETECT_LISTS", filepath.Join(dir, "lists"))
	for _, sub := range []string{"lint", "test"} {
		if stdout, stderr, err := runRulesCmd(sub, rulesDir); err != nil {
			t.Errorf("rules %s with VIGIL_DETECT_LISTS: %v\n%s%s", sub, err, stdout, stderr)
		}
	}
}
