package threatintel

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// stixBundle is the part of a STIX 2.1 bundle Vigil reads.
type stixBundle struct {
	Type    string            `json:"type"`
	Objects []json.RawMessage `json:"objects"`
}

type stixIndicator struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Pattern     string   `json:"pattern"`
	PatternType string   `json:"pattern_type"`
	ValidFrom   string   `json:"valid_from"`
	ValidUntil  string   `json:"valid_until"`
	Revoked     bool     `json:"revoked"`
	Confidence  *int     `json:"confidence"`
	Labels      []string `json:"labels"`
	External    []struct {
		URL string `json:"url"`
	} `json:"external_references"`
}

// parseSTIX reads the indicators of a bundle. Objects that are not
// indicators are passed over; an indicator whose pattern is not a simple
// comparison Vigil can match (AND, FOLLOWEDBY, other objects) is counted
// as skipped; a bundle that is not JSON, or an indicator with a bad date,
// is an error naming the object.
func parseSTIX(data []byte, feed Feed) (out []*Indicator, skipped int, err error) {
	var b stixBundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, 0, fmt.Errorf("not a STIX bundle: %w", err)
	}
	if b.Type != "bundle" {
		return nil, 0, fmt.Errorf("not a STIX bundle: type is %q", b.Type)
	}
	for i, raw := range b.Objects {
		var o stixIndicator
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, 0, fmt.Errorf("objects[%d]: %w", i, err)
		}
		if o.Type != "indicator" {
			continue
		}
		if o.Revoked || (o.PatternType != "" && o.PatternType != "stix") {
			skipped++
			continue
		}
		var from, until time.Time
		if o.ValidFrom != "" {
			if from, err = time.Parse(time.RFC3339Nano, o.ValidFrom); err != nil {
				return nil, 0, fmt.Errorf("objects[%d] (%s): valid_from: %w", i, o.ID, err)
			}
		}
		if o.ValidUntil != "" {
			if until, err = time.Parse(time.RFC3339Nano, o.ValidUntil); err != nil {
				return nil, 0, fmt.Errorf("objects[%d] (%s): valid_until: %w", i, o.ID, err)
			}
		}
		obs, ok := parsePattern(o.Pattern)
		if !ok {
			skipped++
			continue
		}
		conf := feed.Confidence
		if o.Confidence != nil {
			conf = confidenceWord(*o.Confidence)
		}
		ref := ""
		if len(o.External) > 0 {
			ref = o.External[0].URL
		}
		desc := o.Description
		if desc == "" && len(o.Labels) > 0 {
			desc = strings.Join(o.Labels, ", ")
		}
		for _, ob := range obs {
			in, err := newIndicator(ob.kind, ob.value, feed)
			if err != nil {
				return nil, 0, fmt.Errorf("objects[%d] (%s): %w", i, o.ID, err)
			}
			in.Name, in.Description, in.Reference, in.Confidence = o.Name, desc, ref, conf
			in.FirstSeen, in.ValidUntil = from, until
			out = append(out, in)
		}
	}
	return out, skipped, nil
}

// confidenceWord maps STIX's 0-100 confidence to ECS's words (the STIX
// "None/Low/Med/High" scale).
func confidenceWord(c int) string {
	switch {
	case c <= 0:
		return "None"
	case c < 30:
		return "Low"
	case c < 70:
		return "Medium"
	}
	return "High"
}

type observable struct {
	kind  Kind
	value string
}

// parsePattern reads patterns made of comparisons joined by OR, inside one
// or more [ ] groups also joined by OR:
//
//	[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value ISSUBSET '203.0.113.0/24']
//	[file:hashes.'SHA-256' = 'e3b0...'] OR [domain-name:value = 'evil.example']
//
// Anything else (AND, FOLLOWEDBY, LIKE, MATCHES, other object paths) is
// not a set of values and returns false.
func parsePattern(p string) ([]observable, bool) {
	l := lexer{s: p}
	var out []observable
	for {
		if !l.consume("[") {
			return nil, false
		}
		for {
			ob, ok := l.comparison()
			if !ok {
				return nil, false
			}
			out = append(out, ob)
			if l.consume("]") {
				break
			}
			if !l.keyword("OR") {
				return nil, false
			}
		}
		if l.done() {
			return out, len(out) > 0
		}
		if !l.keyword("OR") {
			return nil, false
		}
	}
}

type lexer struct {
	s string
	i int
}

func (l *lexer) skip() {
	for l.i < len(l.s) && (l.s[l.i] == ' ' || l.s[l.i] == '\t' || l.s[l.i] == '\n' || l.s[l.i] == '\r') {
		l.i++
	}
}

func (l *lexer) done() bool { l.skip(); return l.i >= len(l.s) }

func (l *lexer) consume(tok string) bool {
	l.skip()
	if strings.HasPrefix(l.s[l.i:], tok) {
		l.i += len(tok)
		return true
	}
	return false
}

func (l *lexer) keyword(kw string) bool {
	l.skip()
	rest := l.s[l.i:]
	if len(rest) > len(kw) && strings.EqualFold(rest[:len(kw)], kw) && (rest[len(kw)] == ' ' || rest[len(kw)] == '[') {
		l.i += len(kw)
		return true
	}
	return false
}

// path reads an object path up to the operator: ipv4-addr:value,
// file:hashes.'SHA-256'.
func (l *lexer) path() string {
	l.skip()
	start := l.i
	inQuote := false
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c == '\'' {
			inQuote = !inQuote
		} else if !inQuote && (c == ' ' || c == '=' || c == '!' || c == ']') {
			break
		}
		l.i++
	}
	return l.s[start:l.i]
}

func (l *lexer) str() (string, bool) {
	l.skip()
	if l.i >= len(l.s) || l.s[l.i] != '\'' {
		return "", false
	}
	l.i++
	var b strings.Builder
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c == '\\' && l.i+1 < len(l.s):
			b.WriteByte(l.s[l.i+1])
			l.i += 2
		case c == '\'':
			l.i++
			return b.String(), true
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return "", false
}

func (l *lexer) comparison() (observable, bool) {
	path := l.path()
	kind, ok := pathKind(path)
	if !ok {
		return observable{}, false
	}
	switch {
	case l.consume("="):
	case kind == KindIP && l.keyword("ISSUBSET"):
	default:
		return observable{}, false
	}
	v, ok := l.str()
	if !ok {
		return observable{}, false
	}
	return observable{kind: kind, value: v}, true
}

func pathKind(path string) (Kind, bool) {
	obj, prop, ok := strings.Cut(path, ":")
	if !ok {
		return 0, false
	}
	switch obj {
	case "ipv4-addr", "ipv6-addr":
		return KindIP, prop == "value"
	case "domain-name":
		return KindDomain, prop == "value"
	case "url":
		return KindURL, prop == "value"
	case "file":
		h, ok := strings.CutPrefix(prop, "hashes.")
		if !ok {
			return 0, false
		}
		switch strings.ToUpper(strings.ReplaceAll(strings.Trim(h, "'"), "-", "")) {
		case "MD5":
			return KindMD5, true
		case "SHA1":
			return KindSHA1, true
		case "SHA256":
			return KindSHA256, true
		}
	}
	return 0, false
}
