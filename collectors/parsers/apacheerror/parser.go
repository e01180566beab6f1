package apacheerror

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module.
const (
	Dataset = "apache.error"
	Module  = "apache"
)

// Config says where the log's clock is.
type Config struct {
	// Location is the zone of the timestamps, which carry none. Default UTC.
	Location *time.Location
}

// Parser turns error log lines into ECS events.
type Parser struct {
	loc *time.Location
}

// New returns a parser.
func New(cfg Config) *Parser {
	p := &Parser{loc: cfg.Location}
	if p.loc == nil {
		p.loc = time.UTC
	}
	return p
}

// timeLayout reads "Sun Dec 04 04:47:44 2005"; Go accepts the 2.4 form's
// fractional seconds after the seconds without saying so in the layout.
const timeLayout = "Mon Jan _2 15:04:05 2006"

// Parse turns one line into one event; it never fails.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	s := strings.TrimRight(string(line), "\r\n")
	e := parsers.Start(src, line, s)
	stamp, s, ok := bracket(s)
	if !ok {
		return parsers.Flag(e, "not an Apache error log line: missing [time]")
	}
	t, err := time.ParseInLocation(timeLayout, stamp, p.loc)
	if y := t.UTC().Year(); err != nil || y < 1 || y > 9999 {
		return parsers.Flag(e, "not an Apache error log line: invalid time "+strconv.Quote(stamp))
	}
	level, s, ok := bracket(s)
	if !ok || level == "" {
		return parsers.Flag(e, "not an Apache error log line: missing [level]")
	}
	// 2.4 writes [module:level].
	module, lvl, found := strings.Cut(level, ":")
	if !found {
		module, lvl = "", level
	}
	if lvl == "" {
		return parsers.Flag(e, "not an Apache error log line: empty level in "+strconv.Quote("["+level+"]"))
	}
	level = lvl
	e.SetTime(t)
	e["event.kind"] = "event"
	e["event.dataset"] = Dataset
	e["event.module"] = Module
	e["event.category"] = []any{"web"}
	e.SetString("log.logger", module)
	e["log.level"] = level
	switch level {
	case "error", "crit", "alert", "emerg":
		e["event.type"] = []any{"error"}
	default:
		e["event.type"] = []any{"info"}
	}
	// Optional [pid N:tid M] and [client ADDR[:PORT]], in that order.
	for {
		v, rest, ok := bracket(s)
		if !ok {
			break
		}
		if pid, found := strings.CutPrefix(v, "pid "); found {
			pid, tid, _ := strings.Cut(pid, ":tid ")
			setInt(e, "process.pid", pid)
			setInt(e, "process.thread.id", tid)
		} else if client, found := strings.CutPrefix(v, "client "); found {
			setClient(e, client)
		} else {
			break
		}
		s = rest
	}
	e.SetString("message", s)
	return e
}

// bracket reads "[value] " at the start of s.
func bracket(s string) (value, rest string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", s, false
	}
	// Brackets nest: "[client [2001:db8::5]:443]".
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			if depth--; depth == 0 {
				return s[1:i], strings.TrimPrefix(s[i+1:], " "), true
			}
		}
	}
	return "", s, false
}

func setInt(e event.Event, key, s string) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		e[key] = n
	}
}

// setClient stores "1.2.3.4", "1.2.3.4:5000" or "[2001:db8::1]:5000".
func setClient(e event.Event, s string) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		e["source.ip"] = ap.Addr().WithZone("").String()
		e["source.port"] = int64(ap.Port())
	} else if a, err := netip.ParseAddr(s); err == nil {
		e["source.ip"] = a.WithZone("").String()
	} else {
		return
	}
	e["related.ip"] = []any{e["source.ip"]}
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
