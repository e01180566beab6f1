package rules

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestAttackTagsInSigmaSpellings: tactics written with hyphens, as
// Sigma's tags spec writes them since 2.0, are the same tactics as with
// underscores; tactic, software and group ids are tags too.
func TestAttackTagsInSigmaSpellings(t *testing.T) {
	fsys := fstest.MapFS{"t.yaml": {Data: []byte(`id: t1
name: t1
kind: match
severity: low
tags: [attack.initial-access, attack.t1190, attack.command-and-control, attack.initial_access, attack.ta0006, attack.s0002, attack.g0016, attack.ta0027]
condition: event.action == "a"
`)}}
	rules, errs := LoadFS(fsys, ".")
	if len(errs) > 0 || len(rules) != 1 {
		t.Fatalf("%d rules, errors %v", len(rules), errs)
	}
	if f := Lint(fsys, "."); len(f) != 0 {
		t.Errorf("lint: %v", f)
	}
	var got []string
	for _, th := range rules[0].threat {
		got = append(got, th.Tactic.ID+" "+th.Tactic.Name)
		if len(th.Technique) != 1 || th.Technique[0].ID != "T1190" {
			t.Errorf("%s: techniques %+v", th.Tactic.ID, th.Technique)
		}
	}
	// One threat per tactic however it is spelled; the enterprise tactic
	// ids name their tactic; other ids are tags only.
	want := "TA0001 Initial Access|TA0011 Command and Control|TA0006 Credential Access"
	if strings.Join(got, "|") != want {
		t.Errorf("threat tactics %q, want %q", strings.Join(got, "|"), want)
	}
}

// TestAttackTagErrorSuggestsTheClosestTag: a wrong tag says what was
// probably meant, in the spelling it was written in.
func TestAttackTagErrorSuggestsTheClosestTag(t *testing.T) {
	for tag, want := range map[string]string{
		"attack.credential_acess":  `"attack.credential_acess" is not an ATT&CK tag (did you mean attack.credential_access?)`,
		"attack.lateral-movment":   `"attack.lateral-movment" is not an ATT&CK tag (did you mean attack.lateral-movement?)`,
		"attack.exfiltraton":       `"attack.exfiltraton" is not an ATT&CK tag (did you mean attack.exfiltration?)`,
		"attack.T1110":             `"attack.T1110" is not an ATT&CK tag: tags are lower case, write attack.t1110`,
		"attack.Initial-Access":    `"attack.Initial-Access" is not an ATT&CK tag: tags are lower case, write attack.initial-access`,
		"attack.t99999":            `"attack.t99999" is not an ATT&CK tag: a technique is attack.t and 4 digits`,
		"attack.stealing_password": `"attack.stealing_password" is not an ATT&CK tag: write a tactic (reconnaissance, resource_development, initial_access,`,
	} {
		if validAttackTag(tag) {
			t.Errorf("%s is valid", tag)
		}
		if got := attackTagProblem(tag); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want prefix %q", tag, got, want)
		}
	}
}
