package sshd

import (
	"strconv"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module, as Elastic's system
// integration names them for auth.log.
const (
	Dataset = "system.auth"
	Module  = "system"
)

// Config says how to place timestamps that carry no year and no zone.
type Config struct {
	// Reference gives the year of the first line: a timestamp that would
	// lie more than two days after Reference belongs to the year before.
	// Default: the time the parser is created. A file input passes the
	// file's modification time.
	Reference time.Time
	// Location is the zone of timestamps without an offset. Default UTC.
	Location *time.Location
}

// Parser turns auth.log / secure lines into ECS events. It keeps per-stream
// state (the inferred year, the previous timestamp), so use one Parser per
// stream (per file); it is not safe for concurrent use.
type Parser struct {
	ref time.Time
	loc *time.Location

	started bool
	year    int
	last    time.Time

	// The previous header timestamp, its time and its formatted form:
	// lines of one burst share a second, and this skips the work.
	lastStamp string
	lastText  string
	// skipStamp is the previous header timestamp Skip read; Skip does not
	// format it. At most one of lastStamp and skipStamp is set: the stamp
	// of the last line that moved the state.
	skipStamp string

	// The boxed values of the previous event's @timestamp and pid: lines
	// of a burst share them, and sharing one interface value saves an
	// allocation per field and line.
	stampBox box
	pidText  string
	pidBox   any

	// tmpl holds the fields of an event of host tmplHost and program
	// tmplProg that do not depend on the rest of the line.
	tmpl               event.Event
	tmplHost, tmplProg string
}

// box holds a string and the interface value boxing it.
type box struct {
	s string
	v any
}

// of returns s as an interface value, the previous one when s is equal.
func (b *box) of(s string) any {
	if b.v == nil || b.s != s {
		b.s, b.v = s, s
	}
	return b.v
}

// New returns a parser for one stream.
func New(cfg Config) *Parser {
	p := &Parser{ref: cfg.Reference, loc: cfg.Location}
	if p.loc == nil {
		p.loc = time.UTC
	}
	if p.ref.IsZero() {
		p.ref = time.Now()
	}
	p.ref = p.ref.In(p.loc)
	return p
}

// Parse turns one line into one event. It never fails: a line that is not
// BSD syslog comes back flagged (event.kind pipeline_error) with the line
// in event.original.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	// The id and the text in one allocation, the values of the event
	// boxed together in bx: as parsers.Start would make them, cheaper.
	var bx event.Boxes
	id, text := event.MakeIDText(src.Name, src.Offset, line)
	s := trimEOL(text)
	h, reason := p.header(s)
	if reason != "" {
		e := event.New()
		e[event.FieldID] = bx.String(id)
		e[event.FieldOriginal] = bx.String(s)
		return parsers.Flag(e, reason)
	}
	e := p.template(h).Clone()
	e[event.FieldID] = bx.String(id)
	e[event.FieldOriginal] = bx.String(s)
	e[event.FieldTimestamp] = p.stampBox.of(h.stamp)
	if h.pid != "" {
		if p.pidBox == nil || h.pid != p.pidText {
			p.pidBox = nil
			if pid, err := strconv.ParseInt(h.pid, 10, 64); err == nil {
				p.pidText, p.pidBox = h.pid, pid
			}
		}
		if p.pidBox != nil {
			e["process.pid"] = p.pidBox
		}
	}
	if h.msg != "" {
		e["message"] = bx.String(h.msg)
	}
	interpret(e, &bx, h.prog, h.module, h.msg)
	return e
}

// template returns an event holding the fields every line of h's host
// and program starts with. Cloning it copies its table whole, which is
// cheaper than setting those fields one by one on a new event.
func (p *Parser) template(h header) event.Event {
	if p.tmpl != nil && h.host == p.tmplHost && h.prog == p.tmplProg {
		return p.tmpl
	}
	t := event.New() // the size of the events cloned from it
	t["event.kind"] = "event"
	t["event.dataset"] = Dataset
	t["event.module"] = Module
	if h.host != "" {
		t["host.name"] = h.host
	}
	if h.prog != "" {
		t["process.name"] = h.prog
	}
	p.tmpl, p.tmplHost, p.tmplProg = t, h.host, h.prog
	return t
}

func trimEOL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}

// header is a syslog line taken apart.
type header struct {
	stamp  string // @timestamp, formatted
	host   string
	prog   string // "sshd" of "sshd(pam_unix)[12]:"
	module string // "pam_unix" of "sshd(pam_unix)[12]:"
	pid    string
	msg    string
}

// header splits "Mmm dd hh:mm:ss host prog[pid]: msg" (or an RFC 3339
// timestamp in place of the BSD one, as rsyslog writes on newer Ubuntu).
// It returns a reason when the line is not syslog at all.
func (p *Parser) header(s string) (h header, reason string) {
	if s == "" {
		return h, "not a BSD syslog line: empty line"
	}
	var rest string
	h.stamp, rest, reason = p.timestamp(skipPRI(s), true)
	if reason != "" {
		return h, reason
	}
	rest = skipSpaces(rest)
	if rest == "" {
		return h, "not a BSD syslog line: missing host"
	}
	// The host, unless the first word already is the tag ("sshd[1]: ...",
	// as a local /dev/log forwarder writes without a host).
	word, after := cutSpace(rest)
	if !isTag(word) {
		h.host = word
		rest = skipSpaces(after)
	}
	h.prog, h.module, h.pid, h.msg = splitTag(rest)
	return h, ""
}

// timestamp reads the leading timestamp of a line (its priority skipped)
// and returns it, formatted when format is set, with what follows. It is
// the only step of Parse that changes the parser's state (the year, the
// previous timestamp). Reading a timestamp twice in a row changes nothing
// the second time.
func (p *Parser) timestamp(s string, format bool) (stamp, rest, reason string) {
	var ok bool
	switch {
	case len(s) > 0 && s[0] >= '0' && s[0] <= '9':
		stamp, rest, ok = p.rfc3339(s, format)
	default:
		if len(s) < 3 || monthOf(s) == 0 {
			return "", "", "not a BSD syslog line: missing timestamp"
		}
		stamp, rest, ok = p.bsd(s, format)
	}
	if !ok {
		return "", "", "not a BSD syslog line: invalid timestamp"
	}
	return stamp, rest, ""
}

// Fork implements parsers.Forker: a parser in p's state, for the lines
// that follow. The caches are not copied: the fork reads its first
// timestamp again, which leaves the state as it is.
func (p *Parser) Fork() parsers.Line {
	return &Parser{ref: p.ref, loc: p.loc, started: p.started, year: p.year, last: p.last}
}

// Skip implements parsers.Forker: it moves p's state past line as Parse
// would, without formatting the timestamp. A line that starts with the
// previous line's timestamp changes nothing, and is recognised without
// copying it.
func (p *Parser) Skip(line []byte) {
	for _, prev := range [...]string{p.skipStamp, p.lastStamp} {
		if n := len(prev); n > 0 && len(line) > n && line[n] == ' ' && string(line[:n]) == prev {
			return
		}
	}
	// Only the head of the line is read (and kept, as skipStamp): a copy
	// of it, not of the whole line.
	if s := trimEOL(string(line[:min(len(line), stampHead)])); s != "" {
		p.timestamp(skipPRI(s), false)
	}
}

// stampHead bounds what Skip reads of a line: a priority ("<191>") and
// the longest timestamp ("2026-11-25T21:47:12.123456789+05:30") with room
// to spare.
const stampHead = 96

// skipPRI drops a leading "<13>" priority, as a forwarded line may carry.
func skipPRI(s string) string {
	if len(s) < 3 || s[0] != '<' {
		return s
	}
	for i := 1; i < len(s) && i <= 4; i++ {
		if s[i] == '>' && i > 1 {
			return s[i+1:]
		}
		if s[i] < '0' || s[i] > '9' {
			return s
		}
	}
	return s
}

func skipSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// cutSpace splits s at its first space.
func cutSpace(s string) (word, rest string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// isTag reports whether a word is a program tag ("sshd:", "sshd[12]:")
// rather than a host name.
func isTag(w string) bool {
	return len(w) > 1 && w[len(w)-1] == ':'
}

// splitTag splits "prog(module)[pid]: msg". A tag without colon is
// followed by the message after a space ("syslogd 1.4.1: restart." has tag
// "syslogd"), as RFC 3164 reads it.
func splitTag(s string) (prog, module, pid, msg string) {
	i := 0
	for i < len(s) && s[i] != ' ' && s[i] != ':' && s[i] != '[' {
		i++
	}
	prog, s = s[:i], s[i:]
	if len(s) > 0 && s[0] == '[' {
		if j := indexByte(s, ']'); j > 0 {
			pid, s = s[1:j], s[j+1:]
		}
	}
	if len(s) > 0 && s[0] == ':' {
		s = s[1:]
	}
	s = skipSpaces(s)
	if n := len(prog); n > 2 && prog[n-1] == ')' {
		if j := indexByte(prog, '('); j > 0 {
			prog, module = prog[:j], prog[j+1:n-1]
		}
	}
	return prog, module, pid, s
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
