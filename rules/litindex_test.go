package rules

import (
	"strings"
	"testing"
)

// packPrefilters returns the literal indexes of the pack's conditions and
// every (field, pattern) their prefilters use.
func packPrefilters(tb testing.TB) (map[string]*litIndex, []fieldMatch) {
	tb.Helper()
	rules, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	conds := ruleConditions(rules)
	indexes := newLitIndexes(conds)
	if indexes == nil {
		tb.Fatal("no literal index for the pack")
	}
	seen := map[fieldMatch]bool{}
	var fms []fieldMatch
	for _, c := range conds {
		if c == nil {
			continue
		}
		for _, alts := range c.matches {
			for _, fm := range alts {
				if !seen[fm] {
					seen[fm] = true
					fms = append(fms, fm)
				}
			}
		}
	}
	return indexes, fms
}

// indexAgrees fails t unless every pattern's prefilter answers the same
// on input with the engine's literal indexes as on its own: with a fresh
// cache per field (each field's index answers), and with one cache for
// all (the index of the field read first answers what it covers).
func indexAgrees(t *testing.T, indexes map[string]*litIndex, fms []fieldMatch, input string) {
	t.Helper()
	shared := foldCache{indexes: indexes}
	for _, fm := range fms {
		fresh := foldCache{indexes: indexes}
		want := fm.m.mayMatch(input)
		if got := fm.m.mayMatchFolded(input, fm.field, &fresh); got != want {
			t.Fatalf("%s %q on %q: with the index %v, alone %v", fm.field, fm.m.re, input, got, want)
		}
		if got := fm.m.mayMatchFolded(input, fm.field, &shared); got != want {
			t.Fatalf("%s %q on %q: with a shared cache %v, alone %v", fm.field, fm.m.re, input, got, want)
		}
	}
}

func TestLitIndexAgreesWithEachSet(t *testing.T) {
	indexes, fms := packPrefilters(t)
	if len(fms) < 20 {
		t.Fatalf("only %d patterns with prefilters in the pack", len(fms))
	}
	for _, fm := range fms {
		for _, set := range fm.m.sets {
			if !indexes[fm.field].covers(set) {
				t.Fatalf("the index of %s does not cover a literal set of %q", fm.field, fm.m.re)
			}
		}
	}
	inputs := []string{"", "/", "/index.php?id=1%20UNION%20ALL%20SELECT%20NULL--", "/a/%2E./%2e%2E%5cetc/passwd",
		"/r?u=JaVaScRiPt%3Aalert(1)", "/presentations/logstash-monitorama-2013/images/kibana-search.png",
		"Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)", "sqlmap/1.7.2#stable (https://sqlmap.org)",
		`powershell.exe -NoP -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA`,
		`reg save HKLM\SAM C:\temp\sam.save`, `vssadmin.exe delete shadows /all /quiet`, `{"cidrIp":"0.0.0.0/0"}`,
		"/.git/config", "/${jndi:ldap://x/a}", "caf\u00e9 UNION SELECT", "'", "' OR '1'='1", strings.Repeat("a%2", 40)}
	for _, c := range prefilterCases {
		inputs = append(inputs, c.input)
	}
	for _, in := range inputs {
		indexAgrees(t, indexes, fms, in)
	}
}

func FuzzLitIndexAgreesWithEachSet(f *testing.F) {
	for _, c := range prefilterCases {
		f.Add(c.input)
	}
	f.Add("/index.php?id=1%20UNION%20ALL%20SELECT%20NULL--")
	indexes, fms := packPrefilters(f)
	f.Fuzz(func(t *testing.T, input string) {
		indexAgrees(t, indexes, fms, input)
	})
}
