package threatintel

import (
	"net/netip"
	"slices"
	"time"
)

// index holds every loaded indicator for lookups by value. Address
// indicators are kept by prefix; an address is looked up once per prefix
// length present, longest first, so CIDRs cost a few map probes.
type index struct {
	prefixes     map[netip.Prefix]*Indicator
	bits4, bits6 []int
	domains      map[string]*Indicator
	urls         map[string]*Indicator
	hashes       [3]map[string]*Indicator // md5, sha1, sha256
	count        int
}

// build indexes the indicators still valid at now. The first feed to
// list a value wins.
func build(ins []*Indicator, now time.Time) *index {
	x := &index{
		prefixes: map[netip.Prefix]*Indicator{},
		domains:  map[string]*Indicator{},
		urls:     map[string]*Indicator{},
	}
	for i := range x.hashes {
		x.hashes[i] = map[string]*Indicator{}
	}
	for _, in := range ins {
		if in.Expired(now) {
			continue
		}
		in.buildECS()
		var added bool
		switch in.Kind {
		case KindIP:
			added = put(x.prefixes, in.Prefix, in)
			if added {
				if in.Prefix.Addr().Is4() {
					x.bits4 = addBits(x.bits4, in.Prefix.Bits())
				} else {
					x.bits6 = addBits(x.bits6, in.Prefix.Bits())
				}
			}
		case KindDomain:
			added = put(x.domains, in.Value, in)
		case KindURL:
			added = put(x.urls, in.Value, in)
		case KindMD5, KindSHA1, KindSHA256:
			added = put(x.hashes[in.Kind-KindMD5], in.Value, in)
		}
		if added {
			x.count++
		}
	}
	return x
}

// has says whether any indicator of kind k is loaded: fields of kinds no
// feed lists are not looked up at all.
func (x *index) has(k Kind) bool {
	switch k {
	case KindIP:
		return len(x.prefixes) > 0
	case KindDomain:
		return len(x.domains) > 0
	case KindURL:
		return len(x.urls) > 0
	case KindMD5, KindSHA1, KindSHA256:
		return len(x.hashes[k-KindMD5]) > 0
	}
	return false
}

func put[K comparable](m map[K]*Indicator, k K, in *Indicator) bool {
	if _, dup := m[k]; dup {
		return false
	}
	m[k] = in
	return true
}

// addBits keeps the distinct prefix lengths, longest first.
func addBits(bits []int, b int) []int {
	if slices.Contains(bits, b) {
		return bits
	}
	bits = append(bits, b)
	slices.Sort(bits)
	slices.Reverse(bits)
	return bits
}

// ip returns the most specific indicator holding a.
func (x *index) ip(a netip.Addr) *Indicator {
	a = a.Unmap().WithZone("")
	bits := x.bits6
	if a.Is4() {
		bits = x.bits4
	}
	for _, b := range bits {
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		if in, ok := x.prefixes[p]; ok {
			return in
		}
	}
	return nil
}

// value returns the indicator of a kind with a normalized value.
func (x *index) value(k Kind, v string) *Indicator {
	switch k {
	case KindDomain:
		return x.domains[v]
	case KindURL:
		return x.urls[v]
	case KindMD5, KindSHA1, KindSHA256:
		return x.hashes[k-KindMD5][v]
	}
	return nil
}
