package rules

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// prefilterCases pair patterns of the pack with inputs that match, miss,
// or only look close (case, non-ASCII, literal split).
var prefilterCases = []struct {
	pattern string
	input   string
}{
	{`(?i)union(\s|\+|%20|%09|%0a|%0d|/\*.*?\*/|%2f\*.*?\*%2f)+((all|distinct)(\s|\+|%20)+)?select`, "/item?id=1%20UNION%20ALL%20SELECT%201,2"},
	{`(?i)union(\s|\+|%20|%09|%0a|%0d|/\*.*?\*/|%2f\*.*?\*%2f)+((all|distinct)(\s|\+|%20)+)?select`, "/images/kibana-search.png"},
	{`(?i)(information_schema|xp_cmdshell|@@version|%40%40version|waitfor(\s|\+|%20)+delay)`, "/q?x=1;WAITFOR+DELAY+'0:0:5'"},
	{`(?i)(information_schema|xp_cmdshell|@@version|%40%40version|waitfor(\s|\+|%20)+delay)`, "/q?x=informatıon_schema"},
	{`(?i)javascript(\s|%20)*(:|%3a)`, "/r?u=JaVaScRiPt%3Aalert(1)"},
	{`(?i)javascript(\s|%20)*(:|%3a)`, "/r?u=javascrip"},
	{`(?i)(nikto|sqlmap|w3af|nmap)`, "Mozilla/5.00 (Nikto/2.1.6)"},
	{`(?i)(nikto|sqlmap|w3af|nmap)`, "Mozilla/5.0 (X11; Linux x86_64)"},
	{`(?i)(googlebot|bingbot)`, "Mozilla/5.0 (compatible; GOOGLEBOT/2.1)"},
	{"^/(tmp|var/tmp|dev/shm)/", "/tmp/x"},
	{"^/(tmp|var/tmp|dev/shm)/", "/usr/tmp/x"},
	{`(?i)kelvin`, "\u212aelvin"},
	{`(?i)sleep`, "\u017fleep"},
	{`"cidrIp(v6)?":"[0-9a-fA-F.:]+/0"`, `{"cidrIp":"0.0.0.0/0"}`},
	{`"cidrIp(v6)?":"[0-9a-fA-F.:]+/0"`, `{"CIDRIP":"0.0.0.0/0"}`},
	{`a{2,}b`, "xaab"},
	{`a{2,}b`, "xab"},
	{``, "anything"},
	{`(?i)(\.|%2e|%252e|%c0%2e){2}(/|\\|%2f|%5c|%252f|%255c|%c0%af)`, "/a/%2E./%2e%2E%5cetc/passwd"},
	{`(?i)(\.|%2e|%252e|%c0%2e){2}(/|\\|%2f|%5c|%252f|%255c|%c0%af)`, "/images/a.b.c/logo.png"},
	{`(?i)[kx]y?z{2}`, "\u212aZZ"},
	{`(?i)[kx]y?z{2}`, "KZZ"},
	{`(?i)[kx]y?z{2}`, "xyz"},
	{`\bab(c|d)?\b`, "x ab y"},
	{`(a|b){3}c`, "abac"},
	{`(a|b){3}c`, "abc"},
}

func TestMatcherAgreesWithRegexp(t *testing.T) {
	for _, c := range prefilterCases {
		re := regexp.MustCompile(c.pattern)
		got, want := newMatcher(re).MatchString(c.input), re.MatchString(c.input)
		if got != want {
			t.Errorf("%q on %q: matcher %v, regexp %v", c.pattern, c.input, got, want)
		}
	}
}

func TestMatcherPrefilterJoinsAdjacentLiterals(t *testing.T) {
	// "." and "/" are in nearly every URL; ".." followed by a slash is not.
	m := newMatcher(regexp.MustCompile(`(?i)(\.|%2e|%252e|%c0%2e){2}(/|\\|%2f|%5c|%252f|%255c|%c0%af)`))
	if len(m.pre) == 0 || !slices.Contains(m.pre[0], "..") || slices.Contains(m.pre[0], ".") {
		t.Fatalf("prefilter %q does not require two dots in a row", m.pre)
	}
}

func TestMatcherPrefilterRejects(t *testing.T) {
	m := newMatcher(regexp.MustCompile(`(?i)union(\s|\+|%20)+select`))
	if len(m.pre) == 0 {
		t.Fatal("no prefilter for a pattern with required literals")
	}
	if m.MatchString("/index.html") {
		t.Error("matched an input without the literals")
	}
}

func FuzzMatcherAgreesWithRegexp(f *testing.F) {
	for _, c := range prefilterCases {
		f.Add(c.pattern, c.input)
	}
	f.Fuzz(func(t *testing.T, pattern, input string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		if got, want := newMatcher(re).MatchString(input), re.MatchString(input); got != want {
			t.Errorf("%q on %q: matcher %v, regexp %v", pattern, input, got, want)
		}
	})
}

// TestFoldedPrefilterAgrees holds the prefilter with a shared fold cache
// (one cache for many patterns and inputs, as the engine uses it for an
// event) to the prefilter working out the case itself.
func TestFoldedPrefilterAgrees(t *testing.T) {
	var fc foldCache
	inputs := []string{"", "a", "ABCDEFGH", "abcdefgh", "/Index.PHP?q=UNION%20select", "/images/logo.png",
		"Mozilla/5.0 (compatible; GOOGLEBOT/2.1)", "caf\u00e9 UNION SELECT", "[\\]^_`@{|}~ AZaz 09",
		strings.Repeat("JaVaScRiPt%3A", 50)}
	for round := range 2 {
		for _, c := range prefilterCases {
			m := newMatcher(regexp.MustCompile(c.pattern))
			for _, in := range append([]string{c.input}, inputs...) {
				if got, want := m.mayMatchFolded(in, "message", &fc), m.mayMatch(in); got != want {
					t.Errorf("round %d: %q on %q: folded %v, unfolded %v", round, c.pattern, in, got, want)
				}
			}
		}
		fc.reset()
	}
}

// FuzzCaseHelpersMatchByteLoops holds the eight-bytes-at-a-time case
// helpers to the obvious loops.
func FuzzCaseHelpersMatchByteLoops(f *testing.F) {
	for _, s := range []string{"", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "@[`{", "caf\u00e9 X", "\x7f\x80AZ", "/Index.PHP?q=UNION%20select"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ascii, upper := true, false
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				ascii = false
			}
			if 'A' <= s[i] && s[i] <= 'Z' {
				upper = true
			}
		}
		gotASCII, gotUpper := asciiCase(s)
		if gotASCII != ascii || ascii && gotUpper != upper {
			t.Fatalf("asciiCase(%q) = %v, %v; want %v, %v", s, gotASCII, gotUpper, ascii, upper)
		}
		if ascii {
			if got, want := string(appendLower([]byte("x"), s)), "x"+strings.ToLower(s); got != want {
				t.Fatalf("appendLower(%q) = %q, want %q", s, got, want)
			}
		}
	})
}
