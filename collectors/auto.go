package collectors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// FormatAuto picks the parser per line (or, for whole files, per stream).
const FormatAuto = "auto"

// autoParser recognises the format of each record and hands it to that
// format's parser. It keeps one parser per format, so per-stream state
// (the syslog year, Zeek's #fields header) carries over between lines.
type autoParser struct {
	cfg     ParserConfig
	parsers map[string]Parser
	zeekTSV bool // a Zeek #fields header was seen: tab-separated lines are Zeek records
	// last is the format of the last line recognised for sure: a line that
	// matches nothing (a corrupted record, an empty line) goes to it, so it
	// is flagged by the parser of the stream it belongs to.
	last string
	// The parser of the previous line and its format: most streams are
	// one format, and this skips the map.
	curFormat string
	cur       Parser
}

func newAuto(cfg ParserConfig) *autoParser {
	return &autoParser{cfg: cfg, parsers: map[string]Parser{}}
}

// Parse implements parsers.Line. A line of nothing but white space is not
// a record (JSON-lines files often end with one): it yields no event.
func (a *autoParser) Parse(src Source, line []byte) event.Event {
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	format, sure := a.detectLine(line)
	if sure {
		a.last = format
	} else if a.last != "" {
		format = a.last
	}
	p, err := a.parser(format)
	if err != nil {
		return parsers.Flag(parsers.Start(src, line, string(line)), "auto: "+err.Error())
	}
	return p.Parse(src, line)
}

// ParseDocument implements parsers.Document: a stream that starts with a
// JSON array, a {"Records":[...]} envelope or a pretty-printed object is
// handed whole to the format that reads such documents; anything else is
// read line by line.
func (a *autoParser) ParseDocument(name string, r io.Reader, emit func(event.Event) error) error {
	br := bufio.NewReaderSize(r, maxHead)
	if format := detectDocument(streamHead(br)); format != "" {
		p, err := a.parser(format)
		if err == nil {
			if doc, ok := p.(parsers.Document); ok {
				return doc.ParseDocument(name, br, emit)
			}
		}
	}
	var st ReadStats
	return readLines(name, br, a, &st, emit)
}

// Fork implements parsers.Forker for a stream read line by line (see
// ReadParallel): the copy holds the per-format parsers forked, and what
// the lines so far told about the stream.
func (a *autoParser) Fork() parsers.Line {
	f := &autoParser{cfg: a.cfg, parsers: make(map[string]Parser, len(a.parsers)), zeekTSV: a.zeekTSV, last: a.last}
	for format, p := range a.parsers {
		fork, ok := p.(parsers.Forker)
		if !ok {
			// Every format's parser forks (TestEveryLineFormatForks);
			// a new one would not carry p's state over.
			continue
		}
		f.parsers[format] = fork.Fork()
	}
	return f
}

// Skip implements parsers.Forker: it moves the state past line as Parse
// would, the state of the format's parser included.
func (a *autoParser) Skip(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	format, sure := a.detectLine(line)
	if sure {
		a.last = format
	} else if a.last != "" {
		format = a.last
	}
	if p, err := a.parser(format); err == nil {
		if fork, ok := p.(parsers.Forker); ok {
			fork.Skip(line)
		}
	}
}

// linesOnly says whether the stream that starts with head is read line by
// line (not one JSON document), so that ReadParallel may fork a.
func (a *autoParser) linesOnly(head []byte) bool { return detectDocument(head) == "" }

func (a *autoParser) parser(format string) (Parser, error) {
	if a.cur != nil && format == a.curFormat {
		return a.cur, nil
	}
	if p, ok := a.parsers[format]; ok {
		a.curFormat, a.cur = format, p
		return p, nil
	}
	mk, ok := formats()[format]
	if !ok {
		return nil, fmt.Errorf("looks like %s, which this build cannot parse", format)
	}
	p, err := mk(a.cfg)
	if err != nil {
		return nil, err
	}
	a.parsers[format] = p
	return p, nil
}

// detectDocument names the format of a stream that is one JSON document
// (or a run of pretty-printed objects) rather than lines; "" otherwise.
func detectDocument(head []byte) string {
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return ""
	}
	switch trimmed[0] {
	case '[':
		return jsonFormat(trimmed)
	case '{':
		first, _, _ := bytes.Cut(trimmed, []byte("\n"))
		if jsonValidLine(first) {
			return "" // JSON lines
		}
		if bytes.Contains(trimmed[:min(len(trimmed), 64)], []byte(`"Records"`)) {
			return "cloudtrail"
		}
		return jsonFormat(trimmed)
	}
	return ""
}

// detectLine names the format of one line, and whether it is sure.
func (a *autoParser) detectLine(line []byte) (string, bool) {
	l := bytes.TrimLeft(line, " \t\ufeff")
	if len(l) == 0 {
		return "jsonlines", false // an empty line: flagged by the stream's parser
	}
	switch {
	case l[0] == '{':
		f := jsonFormat(l)
		return f, f != "jsonlines"
	case l[0] == '#' && (bytes.HasPrefix(l, []byte("#separator")) || bytes.HasPrefix(l, []byte("#fields")) ||
		bytes.HasPrefix(l, []byte("#types")) || bytes.HasPrefix(l, []byte("#set_separator")) ||
		bytes.HasPrefix(l, []byte("#empty_field")) || bytes.HasPrefix(l, []byte("#unset_field")) ||
		bytes.HasPrefix(l, []byte("#path")) || bytes.HasPrefix(l, []byte("#open")) || bytes.HasPrefix(l, []byte("#close"))):
		a.zeekTSV = true
		return "zeek", true
	case a.zeekTSV && bytes.IndexByte(l, '\t') > 0:
		return "zeek", true
	case bytes.HasPrefix(l, []byte("type=")) && bytes.Contains(l, []byte("msg=audit(")):
		return "auditd", true
	case l[0] == '<' && len(l) > 2 && l[1] >= '0' && l[1] <= '9':
		return "syslog", true
	case l[0] == '[' && len(l) > 4 && isWeekday(l[1:4]):
		return "apacheerror", true
	case isMonth(l), isRFC3339Syslog(l):
		return "sshd", true
	case looksLikeAccess(l):
		return "access", true
	}
	return "jsonlines", false // flags what is not JSON, with its reason
}

// jsonValidLine says whether a line (its line ending cut) is one JSON
// value.
func jsonValidLine(line []byte) bool { return json.Valid(bytes.TrimSpace(line)) }

// jsonFormatHead is how much of a record jsonFormat looks at.
const jsonFormatHead = 4096

// jsonFormat tells the JSON formats apart by keys only they carry.
func jsonFormat(b []byte) string {
	head := b[:min(len(b), jsonFormatHead)]
	has := func(s string) bool { return bytes.Contains(head, []byte(s)) }
	switch {
	case has(`"eventVersion"`) && has(`"eventSource"`), has(`"Records"`) && has(`"eventName"`):
		return "cloudtrail"
	case has(`"event_type"`) && (has(`"src_ip"`) || has(`"flow_id"`)):
		return "suricata"
	case has(`"_path"`) || has(`"id.orig_h"`):
		return "zeek"
	case has(`"auditID"`) && (has(`audit.k8s.io`) || has(`"verb"`) && has(`"stage"`)):
		// Events without their apiVersion/kind (Falco's traces) still
		// carry the audit id, verb and stage.
		return "k8saudit"
	case has(`"EventID"`) || has(`"Event":`) && has(`"System"`):
		return "windows"
	}
	return "jsonlines"
}

var months = [][]byte{[]byte("Jan "), []byte("Feb "), []byte("Mar "), []byte("Apr "), []byte("May "), []byte("Jun "),
	[]byte("Jul "), []byte("Aug "), []byte("Sep "), []byte("Oct "), []byte("Nov "), []byte("Dec ")}

func isMonth(l []byte) bool {
	for _, m := range months {
		if bytes.HasPrefix(l, m) {
			return true
		}
	}
	return false
}

// isRFC3339Syslog matches a syslog line whose timestamp is RFC 3339, as
// rsyslog writes on newer Debian and Ubuntu: "2025-03-01T10:00:00.123456
// +00:00 host prog[pid]: msg" (without the space). The tag's colon is
// required too, so an application log that only starts with such a time
// ("2025-03-01T10:00:00Z INFO started") is not taken for syslog.
func isRFC3339Syslog(l []byte) bool {
	if len(l) < 20 || l[4] != '-' || l[7] != '-' || l[10] != 'T' || l[13] != ':' || l[16] != ':' {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	// The timestamp, the host, then a tag ending in ':'.
	words := bytes.SplitN(l[:min(len(l), 512)], []byte(" "), 4)
	if len(words) < 4 {
		return false
	}
	tag := words[2]
	return len(tag) > 1 && tag[len(tag)-1] == ':'
}

func isWeekday(b []byte) bool {
	switch string(b) {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
}

// looksLikeAccess matches the start of a combined/common access log line:
// `HOST IDENT USER [` (optionally wrapped in a double quote).
func looksLikeAccess(l []byte) bool {
	l = bytes.TrimPrefix(l, []byte(`"`))
	fields := 0
	for i := 0; i < len(l) && i < 512; i++ {
		if l[i] == ' ' {
			fields++
			if fields == 3 {
				return i+1 < len(l) && l[i+1] == '['
			}
		}
	}
	return false
}
