package rules

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
)

// matcher is a compiled re() pattern with a literal prefilter: a match
// needs, for each of its sets, one of the set's strings in the input
// (ASCII case-insensitively). The prefilter only ever says "cannot
// match"; everything it lets through runs the regular expression.
type matcher struct {
	re   *regexp.Regexp
	pre  [][]string // lower-case ASCII literals; nil: no prefilter
	sets []*litSet  // pre, ready to search
}

func newMatcher(re *regexp.Regexp) *matcher {
	m := &matcher{re: re}
	if tree, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		m.pre = required(tree.Simplify())
	}
	for _, set := range m.pre {
		m.sets = append(m.sets, newLitSet(set))
	}
	return m
}

// litSet searches for any of a set of literals. Few literals are searched
// one by one (strings.Contains is vectorised); many in one pass over the
// input, looking up each pair of bytes in a table of the literals' first
// two bytes.
type litSet struct {
	lits  []string
	one   [4]uint64       // bitset of the one-byte literals
	pairs *[256][4]uint64 // pairs[a] bit b: a literal starts with a, b
	byte0 [4]uint64       // bitset of the literals' first bytes
	multi bool            // search in one pass
	// universe and id number the set among those of its env, for the
	// engine's litIndex; nil for a matcher made outside an env.
	universe *litUniverse
	id       int
}

// onePassLiterals is the set size from which one pass beats searching
// each literal.
const onePassLiterals = 6

func newLitSet(lits []string) *litSet {
	ls := &litSet{lits: lits, multi: len(lits) >= onePassLiterals}
	if !ls.multi {
		return ls
	}
	ls.pairs = new([256][4]uint64)
	for _, lit := range lits {
		a := lit[0]
		ls.byte0[a>>6] |= 1 << (a & 63)
		if len(lit) == 1 {
			ls.one[a>>6] |= 1 << (a & 63)
			continue
		}
		b := lit[1]
		ls.pairs[a][b>>6] |= 1 << (b & 63)
	}
	return ls
}

func hasBit(set *[4]uint64, c byte) bool { return set[c>>6]&(1<<(c&63)) != 0 }

// in says whether s holds one of the literals.
func (ls *litSet) in(s string) bool {
	if !ls.multi {
		return containsAny(s, ls.lits)
	}
	for i := 0; i < len(s); i++ {
		a := s[i]
		if !hasBit(&ls.byte0, a) {
			continue
		}
		if hasBit(&ls.one, a) {
			return true
		}
		if i+1 < len(s) && hasBit(&ls.pairs[a], s[i+1]) {
			for _, lit := range ls.lits {
				if strings.HasPrefix(s[i:], lit) {
					return true
				}
			}
		}
	}
	return false
}

// inBytes is in on bytes.
func (ls *litSet) inBytes(s []byte) bool {
	if !ls.multi {
		for _, lit := range ls.lits {
			if bytes.Contains(s, []byte(lit)) {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		a := s[i]
		if !hasBit(&ls.byte0, a) {
			continue
		}
		if hasBit(&ls.one, a) {
			return true
		}
		if i+1 < len(s) && hasBit(&ls.pairs[a], s[i+1]) {
			for _, lit := range ls.lits {
				if len(s)-i >= len(lit) && string(s[i:i+len(lit)]) == lit {
					return true
				}
			}
		}
	}
	return false
}

// lowerBuf bounds the inputs lower-cased on the stack; longer ones are
// lower-cased on the heap.
const lowerBuf = 512

// MatchString reports whether s matches. An input that is not pure ASCII
// skips the prefilter (Unicode case folding is not ASCII folding).
func (m *matcher) MatchString(s string) bool {
	return m.mayMatch(s) && m.re.MatchString(s)
}

// mayMatch is the prefilter: false when s cannot match.
func (m *matcher) mayMatch(s string) bool {
	if len(m.pre) == 0 {
		return true
	}
	ascii, upper := asciiCase(s)
	switch {
	case !ascii:
	case !upper:
		for _, set := range m.sets {
			if !set.in(s) {
				return false
			}
		}
	case len(s) <= lowerBuf:
		var buf [lowerBuf]byte
		lower := appendLower(buf[:0], s)
		for _, set := range m.sets {
			if !set.inBytes(lower) {
				return false
			}
		}
	default:
		lower := strings.ToLower(s)
		for _, set := range m.sets {
			if !set.in(lower) {
				return false
			}
		}
	}
	return true
}

// maxLiterals bounds the strings of one prefilter set.
const maxLiterals = 32

// maxClass bounds the characters of a class spelled out as literals.
const maxClass = 16

// required returns literal sets every match of re must contain: each set
// holds alternatives, one of which appears. Nil means nothing is known.
func required(re *syntax.Regexp) [][]string {
	if set, ok := exact(re); ok {
		return useful(set)
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min < 1 {
			return nil
		}
		if set, ok := exact(re.Sub[0]); ok {
			// The first Min repetitions follow each other.
			prod := set
			for i := 1; i < re.Min; i++ {
				next, ok := product(prod, set)
				if !ok {
					break
				}
				prod = next
			}
			return useful(prod)
		}
		return required(re.Sub[0])
	case syntax.OpConcat:
		// Runs of subexpressions with exact sets make longer literals:
		// (\.|%2e){2} needs one of "..", ".%2e", "%2e.", "%2e%2e".
		var out [][]string
		run := []string{""}
		for _, sub := range re.Sub {
			set, ok := exact(sub)
			if !ok {
				out = append(out, useful(run)...)
				run = []string{""}
				out = append(out, required(sub)...)
				continue
			}
			if next, ok := product(run, set); ok {
				run = next
				continue
			}
			out = append(out, useful(run)...)
			run = set
		}
		return append(out, useful(run)...)
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

// useful returns set as a prefilter set, or nil when it says nothing
// (it holds the empty string, or nothing at all).
func useful(set []string) [][]string {
	if len(set) == 0 || slices.Contains(set, "") {
		return nil
	}
	return [][]string{set}
}

// exact returns every string (lower-cased ASCII) re can match, when they
// are few (at most maxLiterals) and known. Zero-width assertions match
// the empty string. A set holding a non-ASCII string is not known: the
// prefilter only ever runs on ASCII inputs, but case folding (?i)k to the
// Kelvin sign must not make a literal out of it.
func exact(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}, true
	case syntax.OpLiteral:
		lit := string(re.Rune)
		if !isASCII(lit) {
			return nil, false
		}
		return []string{strings.ToLower(lit)}, true
	case syntax.OpCharClass:
		var set []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if hi > unicode.MaxASCII || hi-lo >= maxClass || len(set) > maxClass {
				return nil, false
			}
			for r := lo; r <= hi; r++ {
				if s := strings.ToLower(string(r)); !slices.Contains(set, s) {
					set = append(set, s)
				}
			}
		}
		if len(set) == 0 || len(set) > maxClass {
			return nil, false
		}
		return set, true
	case syntax.OpCapture:
		return exact(re.Sub[0])
	case syntax.OpQuest:
		set, ok := exact(re.Sub[0])
		if !ok || len(set) >= maxLiterals {
			return nil, false
		}
		if !slices.Contains(set, "") {
			set = append(slices.Clip(set), "")
		}
		return set, true
	case syntax.OpRepeat:
		if re.Max != re.Min || re.Min > maxLiterals {
			return nil, false
		}
		sub, ok := exact(re.Sub[0])
		if !ok {
			return nil, false
		}
		set := []string{""}
		for range re.Min {
			if set, ok = product(set, sub); !ok {
				return nil, false
			}
		}
		return set, true
	case syntax.OpConcat:
		set := []string{""}
		for _, sub := range re.Sub {
			s, ok := exact(sub)
			if !ok {
				return nil, false
			}
			if set, ok = product(set, s); !ok {
				return nil, false
			}
		}
		return set, true
	case syntax.OpAlternate:
		var set []string
		for _, sub := range re.Sub {
			s, ok := exact(sub)
			if !ok {
				return nil, false
			}
			for _, x := range s {
				if !slices.Contains(set, x) {
					set = append(set, x)
				}
			}
			if len(set) > maxLiterals {
				return nil, false
			}
		}
		return set, true
	}
	return nil, false
}

// product concatenates every string of a with every string of b, false
// when that makes more than maxLiterals.
func product(a, b []string) ([]string, bool) {
	if len(a)*len(b) > maxLiterals {
		return nil, false
	}
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			if s := x + y; !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out, true
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

// Eight bytes at a time: swarOnes has 1 in each byte, swarHigh the top
// bit. For a byte b below 0x80, b+0x3F has its top bit set when b >= 'A'
// and b+0x25 when b > 'Z'; neither carries into the next byte.
const (
	swarOnes = 0x0101010101010101
	swarHigh = 0x8080808080808080
)

// upperBits has the top bit of each byte of w (all below 0x80) that is
// an upper-case ASCII letter.
func upperBits(w uint64) uint64 {
	return (w + swarOnes*0x3F) &^ (w + swarOnes*0x25) & swarHigh
}

// load64 reads eight bytes of s from i, little-endian.
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// asciiCase says whether s is pure ASCII and whether it holds an
// upper-case letter, in one pass.
func asciiCase(s string) (ascii, upper bool) {
	var high, up uint64
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		high |= w
		up |= upperBits(w)
	}
	if high&swarHigh != 0 {
		return false, false
	}
	upper = up != 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return false, upper
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	return true, upper
}

// appendLower appends s lower-cased (ASCII) to b; s must be ASCII.
func appendLower(b []byte, s string) []byte {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load64(s, i)
		b = binary.LittleEndian.AppendUint64(b, w|upperBits(w)>>2)
	}
	for ; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// foldCache remembers, for the event being evaluated, the case of the
// strings the prefilters read: the patterns of several rules read the
// same field (url.original, process.command_line), and each would
// otherwise check and lower-case it again. Reset it for every event.
type foldCache struct {
	n       int
	entries [4]foldEntry
	indexes map[string]*litIndex // the engine's, per field; or nil
}

// foldEntry is one string's case.
type foldEntry struct {
	s            string
	ascii, upper bool
	lower        []byte    // s lower-cased when ascii and upper; reused
	index        *litIndex // of the field s was first read from; or nil
	scanned      bool      // hits holds the index's answer for s
	hits         []uint64  // the sets of the index with a literal in s
}

func (fc *foldCache) reset() { fc.n = 0 }

// get returns the case of s, read from field, working it out the first
// time.
func (fc *foldCache) get(s, field string) *foldEntry {
	for i := range fc.n {
		if f := &fc.entries[i]; len(f.s) == len(s) && f.s == s {
			return f
		}
	}
	i := fc.n
	if i == len(fc.entries) {
		i = len(fc.entries) - 1 // full: the last slot takes turns
	} else {
		fc.n++
	}
	f := &fc.entries[i]
	f.s = s
	f.ascii, f.upper = asciiCase(s)
	if f.ascii && f.upper {
		f.lower = appendLower(f.lower[:0], s)
	}
	f.index = fc.indexes[field]
	f.scanned = false
	return f
}

// has says whether set has a literal in f's string (ASCII), asking the
// index once for all the sets it covers.
func (fc *foldCache) has(f *foldEntry, set *litSet) bool {
	ix := f.index
	if !ix.covers(set) {
		if f.upper {
			return set.inBytes(f.lower)
		}
		return set.in(f.s)
	}
	if !f.scanned {
		if cap(f.hits) < ix.words {
			f.hits = make([]uint64, ix.words)
		}
		f.hits = f.hits[:ix.words]
		clear(f.hits)
		if f.upper {
			scanLits(ix, f.lower, f.hits)
		} else {
			scanLits(ix, f.s, f.hits)
		}
		f.scanned = true
	}
	return f.hits[set.id/64]&(1<<(set.id%64)) != 0
}

// mayMatchFolded is mayMatch with the case of s, read from field, from
// fc.
func (m *matcher) mayMatchFolded(s, field string, fc *foldCache) bool {
	if len(m.pre) == 0 {
		return true
	}
	f := fc.get(s, field)
	if !f.ascii {
		return true
	}
	for _, set := range m.sets {
		if !fc.has(f, set) {
			return false
		}
	}
	return true
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
