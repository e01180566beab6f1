package rules

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// matcher is a compiled re() pattern with a literal prefilter: a match
// needs, for each of its sets, one of the set's strings in the input
// (ASCII case-insensitively). The prefilter only ever says "cannot
// match"; everything it lets through runs the regular expression.
type matcher struct {
	re  *regexp.Regexp
	pre [][]string // lower-case ASCII literals; nil: no prefilter
}

func newMatcher(re *regexp.Regexp) *matcher {
	m := &matcher{re: re}
	if tree, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		m.pre = required(tree.Simplify())
	}
	return m
}

// MatchString reports whether s matches. An input that is not pure ASCII
// skips the prefilter (Unicode case folding is not ASCII folding).
func (m *matcher) MatchString(s string) bool {
	if len(m.pre) > 0 && isASCII(s) {
		lower := s
		if hasUpper(s) {
			lower = strings.ToLower(s)
		}
		for _, set := range m.pre {
			if !containsAny(lower, set) {
				return false
			}
		}
	}
	return m.re.MatchString(s)
}

// maxLiterals bounds the strings of one prefilter set.
const maxLiterals = 32

// required returns literal sets every match of re must contain: each set
// holds alternatives, one of which appears. Nil means nothing is known.
func required(re *syntax.Regexp) [][]string {
	switch re.Op {
	case syntax.OpLiteral:
		lit := string(re.Rune)
		if lit == "" || !isASCII(lit) {
			return nil
		}
		return [][]string{{strings.ToLower(lit)}}
	case syntax.OpCapture:
		return required(re.Sub[0])
	case syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
		return nil
	case syntax.OpConcat:
		var out [][]string
		for _, sub := range re.Sub {
			out = append(out, required(sub)...)
		}
		return out
	case syntax.OpAlternate:
		var set []string
		for _, sub := range re.Sub {
			best := bestSet(required(sub))
			if best == nil {
				return nil
			}
			set = append(set, best...)
		}
		if len(set) > maxLiterals {
			return nil
		}
		return [][]string{set}
	}
	return nil
}

// bestSet picks the most selective set: the one whose shortest string is
// longest.
func bestSet(sets [][]string) []string {
	var best []string
	bestLen := 0
	for _, set := range sets {
		shortest := len(set[0])
		for _, s := range set[1:] {
			shortest = min(shortest, len(s))
		}
		if shortest > bestLen {
			best, bestLen = set, shortest
		}
	}
	return best
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// containsAny says whether s holds one of the literals.
func containsAny(s string, lits []string) bool {
	for _, lit := range lits {
		if strings.Contains(s, lit) {
			return true
		}
	}
	return false
}
