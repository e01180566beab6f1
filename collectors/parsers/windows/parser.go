package windows

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Module is the event.module of every Windows event; event.dataset is
// "windows." plus the channel (see Dataset).
const Module = "windows"

// Config configures a Parser.
type Config struct {
	// Location is the zone of timestamps written without an offset
	// (NXLog's "2020-10-18 07:50:06.220"). Default UTC.
	Location *time.Location
}

// Parser turns Windows event records (JSON) into ECS events. It keeps no
// per-stream state and is safe for concurrent use.
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

// record is one Windows event in either JSON shape, normalized.
type record struct {
	id, channel, computer, provider, providerGUID string
	recordID, task, opcode, level, keywords       string
	version, pid, tid, userSID, message           string
	stamp                                         string // @timestamp, formatted
	data                                          map[string]string
}

// Parse turns one JSON record (flat or {"Event":{"System":...}}) into one
// event. It never fails: a record that is not JSON, has no EventID or no
// time comes back flagged with event.original holding the line.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	raw := bytes.TrimRight(line, "\r\n")
	e := parsers.Start(src, line, string(raw))
	obj, reason := parsers.DecodeJSONObject(raw, "record")
	if reason != "" {
		return parsers.Flag(e, reason)
	}
	r := &record{data: make(map[string]string, len(obj))}
	if ev, ok := obj["Event"].(map[string]any); ok {
		p.nested(r, ev)
	} else {
		p.flat(r, obj)
	}
	if r.id == "" {
		return parsers.Flag(e, "windows event: no EventID")
	}
	if r.stamp == "" {
		return parsers.Flag(e, "windows event "+r.id+": no valid event time (TimeCreated, @timestamp, UtcTime)")
	}
	e[event.FieldTimestamp] = r.stamp
	fill(e, r)
	return e
}

// envelope are the keys of the flat (NXLog, winlogbeat-ish) shape that
// describe the record rather than its EventData.
var envelope = map[string]bool{
	"EventID": true, "Channel": true, "Hostname": true, "Computer": true, "SourceName": true,
	"ProviderName": true, "ProviderGuid": true, "TimeCreated": true, "@timestamp": true,
	"EventTime": true, "EventReceivedTime": true, "Message": true, "RecordNumber": true,
	"EventRecordID": true, "Task": true, "Opcode": true, "Level": true, "Keywords": true,
	"Version": true, "ExecutionProcessID": true, "ThreadID": true, "UserID": true,
	"@version": true, "host": true, "port": true, "tags": true, "SeverityValue": true,
	"Severity": true, "SourceModuleName": true, "SourceModuleType": true, "OpcodeValue": true,
	"Category": true, "AccountName": true, "AccountType": true, "Domain": true,
}

func (p *Parser) flat(r *record, obj map[string]any) {
	for k, v := range obj {
		if !envelope[k] {
			if s := text(v); s != "" {
				r.data[k] = s
			}
		}
	}
	r.id = text(obj["EventID"])
	r.channel = text(obj["Channel"])
	r.computer = first(text(obj["Hostname"]), text(obj["Computer"]))
	r.provider = first(text(obj["SourceName"]), text(obj["ProviderName"]))
	r.providerGUID = text(obj["ProviderGuid"])
	r.recordID = first(text(obj["EventRecordID"]), text(obj["RecordNumber"]))
	r.task, r.opcode, r.level = text(obj["Task"]), text(obj["Opcode"]), text(obj["Level"])
	r.keywords, r.version = text(obj["Keywords"]), text(obj["Version"])
	r.pid, r.tid, r.userSID = text(obj["ExecutionProcessID"]), text(obj["ThreadID"]), text(obj["UserID"])
	r.message = text(obj["Message"])
	for _, k := range [...]string{"@timestamp", "TimeCreated"} {
		if r.stamp = p.stamp(text(obj[k])); r.stamp != "" {
			return
		}
	}
	r.stamp = p.stamp(r.data["UtcTime"]) // Sysmon writes UTC
	if r.stamp == "" {
		r.stamp = p.stamp(text(obj["EventTime"]))
	}
}

func (p *Parser) nested(r *record, ev map[string]any) {
	sys, _ := ev["System"].(map[string]any)
	r.id = text(unwrap(sys["EventID"]))
	r.channel = text(sys["Channel"])
	r.computer = text(sys["Computer"])
	r.provider = text(attr(sys["Provider"], "Name"))
	r.providerGUID = text(attr(sys["Provider"], "Guid"))
	r.recordID = text(sys["EventRecordID"])
	r.task, r.opcode, r.level = text(unwrap(sys["Task"])), text(unwrap(sys["Opcode"])), text(unwrap(sys["Level"]))
	r.keywords, r.version = text(unwrap(sys["Keywords"])), text(unwrap(sys["Version"]))
	r.pid, r.tid = text(attr(sys["Execution"], "ProcessID")), text(attr(sys["Execution"], "ThreadID"))
	r.userSID = text(attr(sys["Security"], "UserID"))
	r.stamp = p.stamp(text(attr(sys["TimeCreated"], "SystemTime")))
	if ri, ok := ev["RenderingInfo"].(map[string]any); ok {
		r.message = text(ri["Message"])
	}
	addData(r.data, ev["EventData"])
	// UserData holds one element named after the event (LogFileCleared, ...).
	if ud, ok := ev["UserData"].(map[string]any); ok {
		for k, v := range ud {
			if k != "#attributes" {
				addData(r.data, v)
			}
		}
	}
	if r.stamp == "" {
		r.stamp = p.stamp(r.data["UtcTime"])
	}
}

// addData copies EventData into m: named values, and the <Data Name="x">
// list form ({"Data":[{"#attributes":{"Name":"x"},"#text":"v"}]}).
func addData(m map[string]string, v any) {
	d, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, v := range d {
		switch {
		case k == "#attributes":
		case k == "Data":
			list, isList := v.([]any)
			if !isList {
				list = []any{v}
			}
			for i, item := range list {
				name := text(attr(item, "Name"))
				if name == "" {
					name = "Data" + strconv.Itoa(i)
				}
				if s := text(unwrap(item)); s != "" {
					m[name] = s
				}
			}
		default:
			if s := text(unwrap(v)); s != "" {
				m[k] = s
			}
		}
	}
}

// unwrap returns the #text of an XML element rendered as an object.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok {
		if t, ok := m["#text"]; ok {
			return t
		}
	}
	return v
}

// attr returns an XML attribute of an element rendered as an object.
func attr(v any, name string) any {
	m, _ := v.(map[string]any)
	a, _ := m["#attributes"].(map[string]any)
	return a[name]
}

// text renders a JSON value as EventData text: strings as they are,
// numbers in their JSON spelling, other values as JSON.
func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	case map[string]any:
		if len(t) == 0 {
			return ""
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stamp parses the timestamp spellings of the two shapes: RFC 3339 (with
// up to 7 fractional digits, as EVTX renders SystemTime) and NXLog's
// "2006-01-02 15:04:05.000" in the configured zone.
func (p *Parser) stamp(s string) string {
	if len(s) < 19 {
		return ""
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return event.FormatTime(t)
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, p.loc); err == nil {
		return event.FormatTime(t)
	}
	if t, err := time.ParseInLocation("2006-01-02T15:04:05.999999999", s, p.loc); err == nil {
		return event.FormatTime(t)
	}
	return ""
}

// Dataset returns the event.dataset of a channel: "windows." and the
// channel in lower case without "Microsoft-Windows-", with separators as
// underscores: Security → windows.security, Microsoft-Windows-Sysmon/Operational
// → windows.sysmon_operational.
func Dataset(channel string) string {
	c := strings.ToLower(channel)
	c = strings.TrimPrefix(c, "microsoft-windows-")
	var b strings.Builder
	b.WriteString("windows.")
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') {
			b.WriteByte(ch)
		} else if b.Len() > len("windows.") && !strings.HasSuffix(b.String(), "_") {
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
