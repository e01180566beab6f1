package syslog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/rfc3164"
	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/collectors/parsers/sshd"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module.
const (
	Dataset = "syslog"
	Module  = "syslog"
)

// FieldWarning says what was wrong with a message that was still parsed.
const FieldWarning = "vigil.parse_warning"

// CEEPrefix is the prefix of the labels holding an @cee payload's keys.
const CEEPrefix = "labels.cee_"

// Config says how to place RFC 3164 timestamps, which carry no year and
// no zone.
type Config struct {
	// Reference gives the year. Default: the time the parser is created.
	Reference time.Time
	// Location is the zone of RFC 3164 timestamps. Default UTC.
	Location *time.Location
}

// Parser turns syslog messages into ECS events. It is not safe for
// concurrent use.
type Parser struct {
	ref     time.Time
	rfc3164 gosyslog.Machine
	rfc5424 gosyslog.Machine
}

// New returns a parser for one stream.
func New(cfg Config) *Parser {
	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	ref := cfg.Reference
	if ref.IsZero() {
		ref = time.Now()
	}
	ref = ref.In(loc)
	return &Parser{
		ref: ref,
		rfc3164: rfc3164.NewMachine(
			rfc3164.WithBestEffort(),
			rfc3164.WithOptionalPriority(),
			rfc3164.WithYear(rfc3164.Year{YYYY: ref.Year()}),
			rfc3164.WithTimezone(loc),
			rfc3164.WithRFC3339(),
			rfc3164.WithSecondFractions(),
		),
		rfc5424: rfc5424.NewMachine(rfc5424.WithBestEffort(), rfc5424.WithOptionalPriority()),
	}
}

// Parse turns one message into one event; it never fails.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	s := strings.TrimRight(string(line), "\r\n\x00")
	e := parsers.Start(src, line, s)
	if s == "" {
		return parsers.Flag(e, "not a syslog message: empty")
	}
	var base *gosyslog.Base
	var version uint16
	var sd *map[string]map[string]string
	var err error
	if isRFC5424(s) {
		var m gosyslog.Message
		m, err = p.rfc5424.Parse([]byte(s))
		if msg, ok := m.(*rfc5424.SyslogMessage); ok && msg != nil {
			base, version, sd = &msg.Base, msg.Version, msg.StructuredData
		}
	} else {
		var m gosyslog.Message
		m, err = p.rfc3164.Parse([]byte(s))
		if msg, ok := m.(*rfc3164.SyslogMessage); ok && msg != nil {
			base = &msg.Base
		}
	}
	if base == nil || base.Timestamp == nil || base.Timestamp.IsZero() {
		reason := "not a syslog message: no timestamp"
		if err != nil {
			reason = "not a syslog message: " + err.Error()
		}
		return parsers.Flag(e, reason)
	}
	if err != nil {
		e[FieldWarning] = err.Error()
	}
	t := *base.Timestamp
	if version == 0 && t.After(p.ref.Add(48*time.Hour)) && t.Year() == p.ref.Year() {
		t = t.AddDate(-1, 0, 0) // a December message read in January
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return parsers.Flag(e, "not a syslog message: timestamp "+t.Format(time.RFC3339)+" out of range")
	}
	e.SetTime(t)
	e["event.kind"] = "event"
	e["event.dataset"] = Dataset
	e["event.module"] = Module
	if base.Priority != nil {
		e["log.syslog.priority"] = int64(*base.Priority)
		e["log.syslog.facility.code"] = int64(*base.Facility)
		e["log.syslog.severity.code"] = int64(*base.Severity)
		if n := base.FacilityLevel(); n != nil {
			e["log.syslog.facility.name"] = *n
		}
		if n := base.SeverityShortLevel(); n != nil {
			e["log.syslog.severity.name"] = *n
			e["log.level"] = *n
		}
	}
	if version != 0 {
		e["log.syslog.version"] = strconv.Itoa(int(version))
	}
	if h := str(base.Hostname); h != "" {
		e["log.syslog.hostname"] = h
		e["host.hostname"] = h
		e["host.name"] = h // the events topic's key, and what triage names hosts by
	}
	app := str(base.Appname)
	if app != "" {
		e["log.syslog.appname"] = app
		e["process.name"] = app
	}
	if pid := str(base.ProcID); pid != "" {
		e["log.syslog.procid"] = pid
		if n, err := strconv.ParseInt(pid, 10, 64); err == nil && n >= 0 {
			e["process.pid"] = n
		}
	}
	e.SetString("log.syslog.msgid", str(base.MsgID))
	if sd != nil && len(*sd) > 0 {
		m := make(map[string]any, len(*sd))
		for id, params := range *sd {
			pm := make(map[string]any, len(params))
			for k, v := range params {
				pm[k] = v
			}
			m[id] = pm
		}
		e["log.syslog.structured_data"] = m
	}
	msg := strings.TrimLeft(str(base.Message), " ")
	if strings.HasPrefix(msg, "\ufeff") { // RFC 5424's BOM before a UTF-8 MSG
		msg = msg[len("\ufeff"):]
	}
	e.SetString("message", msg)
	if rest, ok := strings.CutPrefix(msg, "@cee:"); ok {
		cee(e, strings.TrimSpace(rest))
	}
	if isAuth(app, msg) && sshd.ParseMessage(e, app, msg) {
		e["event.dataset"] = sshd.Dataset
		e["event.module"] = sshd.Module
	}
	return e
}

// isRFC5424 reports whether s is "[<PRI>]VERSION SP ...".
func isRFC5424(s string) bool {
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 0 || end > 4 {
			return false
		}
		s = s[end+1:]
	}
	i := 0
	for i < len(s) && i < 3 && s[i] >= '1' && s[i] <= '9' {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ' '
}

// cee keeps an @cee JSON payload: its scalar values under labels.cee_*,
// its "msg" as message. A payload that is not a JSON object is left in
// message, with a warning.
func cee(e event.Event, payload string) {
	var obj map[string]any
	if err := json.Unmarshal([]byte(payload), &obj); err != nil {
		e[FieldWarning] = "@cee payload is not a JSON object: " + err.Error()
		return
	}
	for k, v := range obj {
		key := CEEPrefix + labelKey(k)
		switch t := v.(type) {
		case string:
			e[key] = t
		case float64, bool:
			e[key] = event.Stringify(t)
		}
	}
	if m, ok := obj["msg"].(string); ok && m != "" {
		e["message"] = m
	}
}

// labelKey makes a key usable as one label name: dots would nest it.
func labelKey(k string) string {
	return strings.NewReplacer(".", "_", " ", "_").Replace(k)
}

// isAuth reports whether a message comes from an auth program whose
// messages package sshd understands.
func isAuth(app, msg string) bool {
	prog, _, _ := strings.Cut(app, "(")
	switch prog {
	case "sshd", "sudo", "su", "useradd", "groupadd", "usermod", "userdel", "gpasswd", "passwd", "login":
		return true
	}
	return strings.HasPrefix(msg, "pam_") || strings.Contains(app, "(pam_")
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Fork implements parsers.Forker: lines are parsed independently (the
// year of a BSD timestamp comes from the reference time, not from the
// lines before), so a parser of the same configuration, with machines of
// its own, parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	return New(Config{Reference: p.ref, Location: p.ref.Location()})
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
