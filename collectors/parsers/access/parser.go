package access

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Default values of event.dataset and event.module.
const (
	Dataset = "apache.access"
	Module  = "apache"
)

// FieldWarning says what was wrong with a line that was still parsed
// (a truncated user agent, an unreadable request line).
const FieldWarning = "vigil.parse_warning"

// Config names the dataset; the line format is the same for Apache and
// nginx.
type Config struct {
	// Dataset is event.dataset, default "apache.access" ("nginx.access"
	// for nginx). event.module is the part before the first dot.
	Dataset string
}

// Parser turns access log lines into ECS events.
type Parser struct {
	dataset, module string
}

// New returns a parser.
func New(cfg Config) *Parser {
	p := &Parser{dataset: cfg.Dataset}
	if p.dataset == "" {
		p.dataset = Dataset
	}
	p.module, _, _ = strings.Cut(p.dataset, ".")
	return p
}

const timeLayout = "02/Jan/2006:15:04:05 -0700"

// Parse turns one line into one event; it never fails (see the package
// documentation).
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	orig := strings.TrimRight(string(line), "\r\n")
	e := parsers.Start(src, line, orig)
	s := orig
	// Some exports wrap each line in an extra pair of quotes:
	// "1.2.3.4 - - [...] "GET / HTTP/1.1" 200 5 "-" "ua"". A real line never
	// starts with a quote.
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if reason := p.parse(e, s); reason != "" {
		return parsers.Flag(e, "not an access log line: "+reason)
	}
	return e
}

// parse fills e from s and returns why the line is not an access log line.
func (p *Parser) parse(e event.Event, s string) string {
	client, s := cutSpace(s)
	if client == "" {
		return "missing client address"
	}
	_, s = cutSpace(s) // identd user, practically always "-"
	user, s := cutSpace(s)
	if !strings.HasPrefix(s, "[") {
		return "missing [time]"
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "missing ] after the time"
	}
	t, err := time.Parse(timeLayout, s[1:end])
	if y := t.UTC().Year(); err == nil && (y < 1 || y > 9999) {
		return "time " + strconv.Quote(s[1:end]) + " out of range"
	}
	if err != nil {
		return "invalid time " + strconv.Quote(s[1:end])
	}
	s = strings.TrimPrefix(s[end+1:], " ")
	request, s, closed := quoted(s)
	if request == "" && !closed {
		return "missing \"request\""
	}
	if !closed {
		return "request has no closing quote"
	}
	s = strings.TrimPrefix(s, " ")
	status, s := cutSpace(s)
	code, err := strconv.ParseInt(status, 10, 64)
	if err != nil || code < 100 || code > 999 {
		return "invalid status " + strconv.Quote(status)
	}
	size, s := cutSpace(s)
	var bytes int64 = -1
	if size != "-" {
		bytes, err = strconv.ParseInt(size, 10, 64)
		if err != nil || bytes < 0 {
			return "invalid response size " + strconv.Quote(size)
		}
	}

	e.SetTime(t)
	e["event.kind"] = "event"
	e["event.category"] = []any{"web"}
	e["event.type"] = []any{"access"}
	e["event.dataset"] = p.dataset
	e["event.module"] = p.module
	if code < 400 {
		e["event.outcome"] = "success"
	} else {
		e["event.outcome"] = "failure"
	}
	e["http.response.status_code"] = code
	if bytes >= 0 {
		e["http.response.body.bytes"] = bytes
	}
	if a, err := netip.ParseAddr(client); err == nil {
		if a.Is6() {
			client = a.WithZone("").String()
		}
		e["source.ip"] = client
		e["related.ip"] = []any{client}
	} else if client != "-" {
		e["source.domain"] = client
	}
	if user != "-" && user != "" {
		e["user.name"] = user
		e["related.user"] = []any{user}
	}
	var warnings []string
	if !setRequest(e, request) {
		warnings = append(warnings, "request line is not METHOD URL PROTOCOL")
	}
	// The combined format adds "referrer" "user agent"; the common format
	// ends here.
	if s = strings.TrimLeft(s, " "); s != "" {
		ref, rest, closed := quoted(s)
		if ref != "" && ref != "-" {
			e["http.request.referrer"] = ref
		}
		if !closed {
			warnings = append(warnings, "referrer has no closing quote: line truncated")
		} else if rest = strings.TrimLeft(rest, " "); rest != "" {
			ua, _, closed := quoted(rest)
			if ua != "" && ua != "-" {
				e["user_agent.original"] = ua
			}
			if !closed {
				warnings = append(warnings, "user agent has no closing quote: line truncated")
			}
		}
	}
	if len(warnings) > 0 {
		e[FieldWarning] = strings.Join(warnings, "; ")
	}
	return ""
}

// setRequest reads "METHOD URL PROTOCOL" into the http and url fields and
// reports whether it had that shape. A request that has not ("-", TLS
// bytes sent to a plain-text port) is kept in url.original only when it
// looks like a path.
func setRequest(e event.Event, r string) bool {
	method, rest := cutSpace(r)
	i := strings.LastIndexByte(rest, ' ')
	if method == "" || i < 0 || !strings.HasPrefix(rest[i+1:], "HTTP/") || !isToken(method) {
		if strings.HasPrefix(r, "/") {
			setURL(e, r)
		}
		return r == "-"
	}
	e["http.request.method"] = method
	e["http.version"] = rest[i+len(" HTTP/"):]
	setURL(e, rest[:i])
	return true
}

func setURL(e event.Event, u string) {
	if u == "" {
		return
	}
	e["url.original"] = u
	path, query, hasQuery := strings.Cut(u, "?")
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	if strings.HasPrefix(path, "/") {
		e["url.path"] = path
	}
	if hasQuery {
		if i := strings.IndexByte(query, '#'); i >= 0 {
			query = query[:i]
		}
		if query != "" {
			e["url.query"] = query
		}
	}
}

// isToken reports whether s is an HTTP method: upper-case letters, as
// servers log them.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'A' || c > 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// quoted reads a "..." value at the start of s, where \" and \\ are escapes
// (Apache and nginx escape quotes inside logged values). It returns the
// value unescaped, what follows the closing quote, and whether there was a
// closing quote; without one the value is the rest of s.
func quoted(s string) (value, rest string, closed bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", s, false
	}
	s = s[1:]
	escaped := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			v := s[:i]
			if escaped {
				v = unescape(v)
			}
			return v, s[i+1:], true
		}
	}
	if escaped {
		return unescape(s), "", false
	}
	return s, "", false
}

// unescape undoes \" and \\ and leaves other escapes (\xhh) as logged.
func unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cutSpace splits s at its first space.
func cutSpace(s string) (word, rest string) {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
