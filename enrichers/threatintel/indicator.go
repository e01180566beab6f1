package threatintel

import (
	"net/netip"
	"strings"
	"time"
)

// Kind is the kind of observable an indicator describes.
type Kind uint8

// Indicator kinds.
const (
	KindIP Kind = iota + 1
	KindDomain
	KindURL
	KindMD5
	KindSHA1
	KindSHA256
)

// Indicator is one entry of a feed.
type Indicator struct {
	Kind Kind
	// Value is the normalized observable: an address or CIDR, a lower-case
	// domain, a URL, a lower-case hex hash.
	Value       string
	Prefix      netip.Prefix // for KindIP
	Feed        string
	Provider    string
	Name        string
	Description string
	Reference   string
	Confidence  string
	FirstSeen   time.Time
	ValidUntil  time.Time // zero: no end
	// ecs is the threat.enrichments indicator object, built once.
	ecs map[string]any
}

// Expired says whether the indicator's validity ended before now.
func (in *Indicator) Expired(now time.Time) bool {
	return !in.ValidUntil.IsZero() && now.After(in.ValidUntil)
}

// ecsType is the ECS threat.indicator.type of the indicator.
func (in *Indicator) ecsType() string {
	switch in.Kind {
	case KindIP:
		if in.Prefix.Addr().Is6() {
			return "ipv6-addr"
		}
		return "ipv4-addr"
	case KindDomain:
		return "domain-name"
	case KindURL:
		return "url"
	}
	return "file"
}

// buildECS fills the indicator object of threat.enrichments.
func (in *Indicator) buildECS() {
	m := map[string]any{"type": in.ecsType()}
	switch in.Kind {
	case KindIP:
		m["ip"] = in.Value
	case KindDomain:
		m["url"] = map[string]any{"domain": in.Value}
	case KindURL:
		m["url"] = map[string]any{"full": in.Value}
	case KindMD5:
		m["file"] = map[string]any{"hash": map[string]any{"md5": in.Value}}
	case KindSHA1:
		m["file"] = map[string]any{"hash": map[string]any{"sha1": in.Value}}
	case KindSHA256:
		m["file"] = map[string]any{"hash": map[string]any{"sha256": in.Value}}
	}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	provider := in.Provider
	if provider == "" {
		provider = in.Feed
	}
	put("provider", provider)
	put("name", in.Name)
	put("description", in.Description)
	put("reference", in.Reference)
	put("confidence", in.Confidence)
	if !in.FirstSeen.IsZero() {
		m["first_seen"] = in.FirstSeen.UTC().Format(time.RFC3339)
	}
	in.ecs = m
}

// normalize returns the canonical form of a value of a kind, or "" when
// it is not one.
func normalize(k Kind, v string) string {
	v = strings.TrimSpace(v)
	switch k {
	case KindDomain:
		return strings.TrimSuffix(strings.ToLower(v), ".")
	case KindURL:
		return normalizeURL(v)
	case KindMD5, KindSHA1, KindSHA256:
		if len(v) != hashLen(k) || !isHex(v) {
			return ""
		}
		return strings.ToLower(v)
	}
	return v
}

// normalizeURL lower-cases the scheme and host, which are not case
// sensitive; the path and query are.
func normalizeURL(v string) string {
	scheme, rest, ok := strings.Cut(v, "://")
	if !ok {
		return v
	}
	host, path, _ := strings.Cut(rest, "/")
	out := strings.ToLower(scheme) + "://" + strings.ToLower(host)
	if path != "" {
		out += "/" + path
	}
	return out
}

func hashLen(k Kind) int {
	switch k {
	case KindMD5:
		return 32
	case KindSHA1:
		return 40
	case KindSHA256:
		return 64
	}
	return 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// guessKind says what a bare value is: an address or CIDR, a hash by its
// length, a URL by its scheme, else a domain.
func guessKind(v string) (Kind, netip.Prefix, bool) {
	if p, ok := parseIPOrCIDR(v); ok {
		return KindIP, p, true
	}
	if isHex(v) {
		switch len(v) {
		case 32:
			return KindMD5, netip.Prefix{}, true
		case 40:
			return KindSHA1, netip.Prefix{}, true
		case 64:
			return KindSHA256, netip.Prefix{}, true
		}
	}
	if strings.Contains(v, "://") {
		return KindURL, netip.Prefix{}, true
	}
	if strings.Contains(v, ".") && !strings.ContainsAny(v, " /\\\t,;") {
		return KindDomain, netip.Prefix{}, true
	}
	return 0, netip.Prefix{}, false
}

func parseIPOrCIDR(v string) (netip.Prefix, bool) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, false
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), true
}
