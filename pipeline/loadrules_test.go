package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/rules"
)

// "@pack" among the rule paths loads the built-in pack next to a detection
// engineer's own rules; an id used twice across paths is an error naming
// both places, and the first rule is the one that runs.
func TestLoadRulesPackNextToOwnRules(t *testing.T) {
	dir := t.TempDir()
	own := `id: own.root_failure
name: A failed login as root
kind: match
severity: low
condition: user.name == "root" && event.outcome == "failure"
---
id: vigil.ssh.root_login
name: The pack's id, used again
kind: match
severity: low
condition: user.name == "root"
`
	if err := os.WriteFile(filepath.Join(dir, "own.yaml"), []byte(own), 0o600); err != nil {
		t.Fatal(err)
	}
	pack, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}

	loaded, errs := LoadRules([]string{PackPath, dir})
	if len(loaded) != len(pack)+1 {
		t.Errorf("%d rules loaded, want the pack's %d and one of the file's two", len(loaded), len(pack))
	}
	byID := map[string]*rules.Compiled{}
	for _, c := range loaded {
		byID[c.Rule.ID] = c
	}
	if byID["own.root_failure"] == nil {
		t.Error("the engineer's own rule is not loaded")
	}
	if r := byID["vigil.ssh.root_login"]; r == nil || r.Rule.Name == "The pack's id, used again" {
		t.Errorf("vigil.ssh.root_login is not the pack's rule: %+v", r)
	}
	want := filepath.Join(dir, "own.yaml") + `:7: id "vigil.ssh.root_login" is already used at @pack/ssh.yaml:`
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("errors %v, want one starting %q", errs, want)
	}

	// The watcher of rule files does not look for a directory "@pack".
	if state := ruleFilesState([]string{PackPath}); state != "" {
		t.Errorf("rule files state of the pack: %q, want nothing", state)
	}
}
