package rules

import "math/bits"

// The prefilters of the patterns that read one field (a dozen on
// url.original in the web rules) each search the same string for their
// literals, one set after another. A litIndex searches once, for the
// literals of all the sets an engine's conditions use on that field, and
// the result, kept for the event with the string's case (foldCache),
// answers every set: one pass over the string per event instead of one
// per set.

// litUniverse numbers the literal sets of the patterns compiled by one
// env: a set's id means something only with its universe.
type litUniverse struct{ next int }

// number gives the sets their ids.
func (u *litUniverse) number(sets []*litSet) {
	for _, s := range sets {
		s.universe, s.id = u, u.next
		u.next++
	}
}

// litIndex finds which of many literal sets have a literal in a string.
type litIndex struct {
	universe *litUniverse
	cover    []bool          // by set id: the set is indexed
	words    int             // uint64 words of a result
	one      [256][]uint16   // one-byte literal → the ids of its sets
	first    [256]uint8      // per byte: hasOne | startsPair
	pairs    *[256][4]uint64 // pairs[a] bit b: a literal starts with a, b
	bucketOf [pairBuckets]uint16
	buckets  [][]pairLit // by bucketOf[pair hash]-1: literals of two bytes or more
}

// pairLit is one literal of two bytes or more and the ids of its sets.
// head is its first (up to) eight bytes little-endian, headMask the bits
// of head that count: a candidate is turned away by one compare.
type pairLit struct {
	lit            string
	head, headMask uint64
	sets           []uint16
}

// pairBuckets is the number of hash buckets of the first two bytes.
const pairBuckets = 4096

// Flags of litIndex.first.
const (
	hasOne     = 1 << iota // the byte is a literal
	startsPair             // a literal of two bytes or more starts with the byte
)

func pairHash(a, b byte) uint16 { return (uint16(a)*31 ^ uint16(b)*131) % pairBuckets }

// newLitIndexes indexes, per field, the literal sets of the conditions'
// prefilters on it; nil when there are none, or they come from more than
// one env.
func newLitIndexes(conds []*condition) map[string]*litIndex {
	byField := map[string][]*litSet{}
	var u *litUniverse
	for _, c := range conds {
		if c == nil {
			continue
		}
		for _, alts := range c.matches {
			for _, fm := range alts {
				for _, s := range fm.m.sets {
					if s.universe == nil || u != nil && s.universe != u || s.id > 1<<16-1 {
						return nil
					}
					u = s.universe
					byField[fm.field] = append(byField[fm.field], s)
				}
			}
		}
	}
	if len(byField) == 0 {
		return nil
	}
	out := make(map[string]*litIndex, len(byField))
	for field, sets := range byField {
		out[field] = newLitIndex(u, sets)
	}
	return out
}

// newLitIndex indexes the literal sets, all of universe u.
func newLitIndex(u *litUniverse, sets []*litSet) *litIndex {
	ix := &litIndex{universe: u, pairs: new([256][4]uint64)}
	for _, s := range sets {
		if s.id >= len(ix.cover) {
			ix.cover = append(ix.cover, make([]bool, s.id+1-len(ix.cover))...)
		}
		if ix.cover[s.id] {
			continue
		}
		ix.cover[s.id] = true
		for _, lit := range s.lits {
			ix.add(lit, uint16(s.id))
		}
	}
	ix.words = (len(ix.cover) + 63) / 64
	return ix
}

func (ix *litIndex) add(lit string, id uint16) {
	if len(lit) == 1 {
		ix.one[lit[0]] = append(ix.one[lit[0]], id)
		ix.first[lit[0]] |= hasOne
		return
	}
	ix.first[lit[0]] |= startsPair
	ix.pairs[lit[0]][lit[1]>>6] |= 1 << (lit[1] & 63)
	h := pairHash(lit[0], lit[1])
	if ix.bucketOf[h] == 0 {
		ix.buckets = append(ix.buckets, nil)
		ix.bucketOf[h] = uint16(len(ix.buckets))
	}
	b := &ix.buckets[ix.bucketOf[h]-1]
	for i := range *b {
		if (*b)[i].lit == lit {
			(*b)[i].sets = append((*b)[i].sets, id)
			return
		}
	}
	pl := pairLit{lit: lit, sets: []uint16{id}}
	for i := 0; i < min(8, len(lit)); i++ {
		pl.head |= uint64(lit[i]) << (8 * i)
		pl.headMask |= 0xff << (8 * i)
	}
	*b = append(*b, pl)
}

// covers says whether the index answers for s.
func (ix *litIndex) covers(s *litSet) bool {
	return ix != nil && s.universe == ix.universe && s.id < len(ix.cover) && ix.cover[s.id]
}

// load64At reads eight bytes of text from i, little-endian.
func load64At[T string | []byte](text T, i int) uint64 {
	_ = text[i+7]
	return uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
		uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
}

// scan sets in hits (ix.words long, zeroed) the bit of every set with a
// literal in text (lower-case ASCII).
func scanLits[T string | []byte](ix *litIndex, text T, hits []uint64) {
	var ones [4]uint64 // the one-byte literals seen
	for i := 0; i < len(text); i++ {
		a := text[i]
		f := ix.first[a]
		if f == 0 {
			continue
		}
		if f&hasOne != 0 {
			ones[a>>6] |= 1 << (a & 63)
		}
		if f&startsPair == 0 || i+1 == len(text) {
			continue
		}
		b := text[i+1]
		if ix.pairs[a][b>>6]&(1<<(b&63)) == 0 {
			continue
		}
		j := ix.bucketOf[pairHash(a, b)]
		if j == 0 {
			continue
		}
		var w uint64
		whole := i+8 <= len(text)
		if whole {
			w = load64At(text, i)
		}
		for k := range ix.buckets[j-1] {
			pl := &ix.buckets[j-1][k]
			if whole && w&pl.headMask != pl.head {
				continue
			}
			if len(text)-i >= len(pl.lit) && string(text[i:i+len(pl.lit)]) == pl.lit {
				for _, id := range pl.sets {
					hits[id/64] |= 1 << (id % 64)
				}
			}
		}
	}
	for w, word := range ones {
		for word != 0 {
			a := w*64 + bits.TrailingZeros64(word)
			word &^= 1 << (a & 63)
			for _, id := range ix.one[a] {
				hits[id/64] |= 1 << (id % 64)
			}
		}
	}
}
