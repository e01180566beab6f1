package suricata

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Values of event.dataset and event.module, as Elastic's Suricata
// integration names them.
const (
	Dataset = "suricata.eve"
	Module  = "suricata"
)

// TagTimestampTrailingData is added to an event whose timestamp had junk
// after a valid time ("...+0100garbage"): the record is kept with the
// valid part.
const TagTimestampTrailingData = "_vigil_timestamp_trailing_data"

// Config configures a Parser. EVE needs no option yet; the struct keeps
// the constructor's shape stable.
type Config struct{}

// Parser turns Suricata EVE JSON lines into ECS events. It keeps no state
// and is safe for concurrent use.
type Parser struct{}

// New returns a parser.
func New(Config) *Parser { return &Parser{} }

// mapped are the top-level EVE keys that become ECS fields and are not
// repeated under suricata.eve.*.
var mapped = map[string]bool{
	"timestamp": true, "src_ip": true, "src_port": true, "dest_ip": true, "dest_port": true,
	"proto": true, "app_proto": true, "in_iface": true, "community_id": true, "ether": true,
}

// Parse turns one EVE line into one event. It never fails: a line that is
// not a JSON object, or has no valid timestamp, comes back flagged.
func (p *Parser) Parse(src parsers.Source, line []byte) event.Event {
	raw := bytes.TrimRight(line, "\r\n")
	e := parsers.Start(src, line, string(raw))
	rec, reason := parsers.DecodeJSONObject(raw, "line")
	if reason != "" {
		return parsers.Flag(e, reason)
	}
	ts, _ := rec["timestamp"].(string)
	t, trailing, ok := parseTime(ts)
	if !ok {
		return parsers.Flag(e, "EVE record: invalid timestamp "+strconv.Quote(ts))
	}
	e.SetTime(t)
	if trailing {
		e["tags"] = []any{TagTimestampTrailingData}
	}
	typ, _ := rec["event_type"].(string)
	e["event.module"] = Module
	e["event.dataset"] = Dataset
	e["event.kind"] = "event"
	if typ != "" {
		e["event.action"] = typ
	}
	for k, v := range rec {
		if !mapped[k] {
			flatten(e, "suricata.eve."+k, v)
		}
	}
	network(e, rec)
	switch typ {
	case "alert", "drop":
		alert(e, rec)
	case "http":
		http(e, rec)
	case "dns":
		dns(e, rec)
	case "tls":
		tls(e, rec)
	case "fileinfo":
		fileinfo(e, rec)
	case "flow", "netflow":
		flow(e, rec, typ)
	case "stats":
		e["event.kind"] = "metric"
	case "anomaly":
		classify(e, "network", "info")
	default:
		if _, ok := rec["app_proto"]; ok || typ != "" {
			classify(e, "network", "protocol")
		}
	}
	// An alert record also carries the app-layer object of its flow.
	if typ == "alert" {
		http(e, rec)
		dns(e, rec)
		tls(e, rec)
		classify(e, "", "")
	}
	return e
}

// parseTime reads EVE's "2017-01-30T16:12:26.985026+0100". When junk
// follows a valid time, the valid part is used and trailing is true.
func parseTime(s string) (t time.Time, trailing, ok bool) {
	t, trailing, ok = parseTimeAnyYear(s)
	if ok && !event.InRange(t) {
		return time.Time{}, false, false
	}
	return t, trailing, ok
}

func parseTimeAnyYear(s string) (t time.Time, trailing, ok bool) {
	const layout = "2006-01-02T15:04:05.999999999-0700"
	if t, err := time.Parse(layout, s); err == nil {
		return t, false, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, true
	}
	// The zone is the first + or - after the seconds, with four digits.
	if len(s) < 20 || s[10] != 'T' {
		return time.Time{}, false, false
	}
	i := strings.IndexAny(s[19:], "+-Z")
	if i < 0 {
		return time.Time{}, false, false
	}
	end := 19 + i + 5
	if s[19+i] == 'Z' {
		end = 19 + i + 1
	}
	if end >= len(s) {
		return time.Time{}, false, false
	}
	for _, l := range []string{layout, time.RFC3339Nano} {
		if t, err := time.Parse(l, s[:end]); err == nil {
			return t, true, true
		}
	}
	return time.Time{}, false, false
}

// flatten stores v at key, objects as dotted paths below it, numbers as
// int64 or float64.
func flatten(e event.Event, key string, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			flatten(e, key+"."+k, x)
		}
	case []any:
		for i := range t {
			t[i] = event.NormalizeNumbers(t[i])
		}
		e[key] = t
	default:
		if v != nil {
			e[key] = event.NormalizeNumbers(v)
		}
	}
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return ""
}

func num(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func set(e event.Event, key string, v any) {
	if s := str(v); s != "" {
		e[key] = s
	}
}

func setNum(e event.Event, key string, v any) {
	if n, ok := num(v); ok {
		e[key] = n
	}
}

func obj(rec map[string]any, key string) map[string]any {
	m, _ := rec[key].(map[string]any)
	return m
}

// classify sets event.category and event.type unless already set; an
// empty category leaves what is there.
func classify(e event.Event, category string, types ...string) {
	if category == "" {
		return
	}
	if _, ok := e["event.category"]; ok {
		return
	}
	e["event.category"] = []any{category}
	list := make([]any, len(types))
	for i, t := range types {
		list[i] = t
	}
	e["event.type"] = list
}

func addRelated(e event.Event, key, v string) {
	if v == "" {
		return
	}
	list, _ := e[key].([]any)
	for _, x := range list {
		if x == v {
			return
		}
	}
	e[key] = append(list, v)
}

// network maps the five-tuple, interface, community id and MACs.
func network(e event.Event, rec map[string]any) {
	for _, side := range [...]struct{ prefix, ip, port string }{{"source", "src_ip", "src_port"}, {"destination", "dest_ip", "dest_port"}} {
		if a, err := netip.ParseAddr(str(rec[side.ip])); err == nil {
			ip := a.Unmap().WithZone("").String()
			e[side.prefix+".ip"] = ip
			addRelated(e, "related.ip", ip)
		}
		if n, ok := num(rec[side.port]); ok && n >= 0 && n <= 65535 {
			e[side.prefix+".port"] = n
		}
	}
	if proto := str(rec["proto"]); proto != "" {
		e["network.transport"] = strings.ToLower(proto)
	}
	if ap := str(rec["app_proto"]); ap != "" && ap != "failed" {
		e["network.protocol"] = strings.ToLower(ap)
	}
	set(e, "observer.ingress.interface.name", rec["in_iface"])
	set(e, "network.community_id", rec["community_id"])
	ether := obj(rec, "ether")
	for k, key := range map[string]string{"src_mac": "source.mac", "dest_mac": "destination.mac"} {
		if m := str(ether[k]); m != "" {
			e[key] = strings.ToUpper(strings.ReplaceAll(m, ":", "-"))
		}
	}
}

// alert maps the rule that fired. Severity 1 is the highest.
func alert(e event.Event, rec map[string]any) {
	a := obj(rec, "alert")
	e["event.kind"] = "alert"
	typ := "allowed"
	if act := str(a["action"]); act == "blocked" || act == "drop" {
		typ = "denied"
	}
	classify(e, "network", typ)
	e["event.category"] = []any{"network", "intrusion_detection"}
	set(e, "rule.id", a["signature_id"])
	set(e, "rule.name", a["signature"])
	set(e, "rule.category", a["category"])
	setNum(e, "event.severity", a["severity"])
	if rev, ok := num(a["rev"]); ok {
		e["rule.version"] = strconv.FormatInt(rev, 10)
	}
	e["message"] = str(a["signature"])
}

func http(e event.Event, rec map[string]any) {
	h := obj(rec, "http")
	if h == nil {
		return
	}
	classify(e, "network", "protocol")
	e["network.protocol"] = "http"
	if u := str(h["url"]); u != "" {
		e["url.original"] = u
		path, query, _ := strings.Cut(u, "?")
		if strings.HasPrefix(path, "/") {
			e["url.path"] = path
		}
		if query != "" {
			e["url.query"] = query
		}
	}
	set(e, "url.domain", h["hostname"])
	set(e, "destination.domain", h["hostname"])
	if m := str(h["http_method"]); m != "" {
		e["http.request.method"] = strings.ToUpper(m)
	}
	setNum(e, "http.response.status_code", h["status"])
	setNum(e, "http.response.body.bytes", h["length"])
	set(e, "http.response.mime_type", h["http_content_type"])
	set(e, "http.request.referrer", h["http_refer"])
	set(e, "user_agent.original", h["http_user_agent"])
	if v, ok := strings.CutPrefix(str(h["protocol"]), "HTTP/"); ok {
		e["http.version"] = v
	}
}

func dns(e event.Event, rec map[string]any) {
	d := obj(rec, "dns")
	if d == nil {
		return
	}
	classify(e, "network", "protocol")
	e["network.protocol"] = "dns"
	set(e, "dns.question.name", d["rrname"])
	set(e, "dns.question.type", d["rrtype"])
	set(e, "dns.id", d["id"])
	set(e, "dns.response_code", d["rcode"])
	switch t := str(d["type"]); t {
	case "query", "request":
		e["dns.type"] = "query"
	case "answer", "response":
		e["dns.type"] = "answer"
	}
	if q, ok := d["queries"].([]any); ok && len(q) > 0 { // EVE v3 answers
		if first, ok := q[0].(map[string]any); ok {
			set(e, "dns.question.name", first["rrname"])
			set(e, "dns.question.type", first["rrtype"])
		}
	}
}

func tls(e event.Event, rec map[string]any) {
	t := obj(rec, "tls")
	if t == nil {
		return
	}
	classify(e, "network", "protocol")
	e["network.protocol"] = "tls"
	set(e, "tls.server.subject", t["subject"])
	set(e, "tls.server.issuer", t["issuerdn"])
	set(e, "tls.client.server_name", t["sni"])
	set(e, "tls.server.ja3s", obj(t, "ja3s")["hash"])
	set(e, "tls.client.ja3", obj(t, "ja3")["hash"])
	if fp := str(t["fingerprint"]); fp != "" {
		e["tls.server.hash.sha1"] = strings.ToUpper(strings.ReplaceAll(fp, ":", ""))
	}
	if v := str(t["version"]); v != "" {
		proto, ver, ok := strings.Cut(v, " ")
		if ok && (proto == "TLS" || proto == "SSL") {
			e["tls.version_protocol"] = strings.ToLower(proto)
			e["tls.version"] = strings.TrimPrefix(ver, "v")
		}
	}
	for k, key := range map[string]string{"notbefore": "tls.server.not_before", "notafter": "tls.server.not_after"} {
		if s := str(t[k]); s != "" {
			if tm, err := time.Parse("2006-01-02T15:04:05", s); err == nil && event.InRange(tm) {
				e[key] = event.FormatTime(tm)
			}
		}
	}
}

func fileinfo(e event.Event, rec map[string]any) {
	f := obj(rec, "fileinfo")
	classify(e, "file", "info")
	if name := str(f["filename"]); name != "" {
		e["file.path"] = name
		e["file.name"] = name[strings.LastIndexByte(name, '/')+1:]
	}
	setNum(e, "file.size", f["size"])
	for _, h := range [...]string{"md5", "sha1", "sha256"} {
		if v := str(f[h]); v != "" {
			e["file.hash."+h] = v
			addRelated(e, "related.hash", v)
		}
	}
	http(e, rec)
	e["event.category"] = []any{"file"}
	e["event.type"] = []any{"info"}
}

// flow maps flow and netflow records: counters per direction and the
// flow's start and end.
func flow(e event.Event, rec map[string]any, typ string) {
	f := obj(rec, typ)
	classify(e, "network", "connection", "end")
	if typ == "netflow" {
		setNum(e, "source.packets", f["pkts"])
		setNum(e, "source.bytes", f["bytes"])
		setNum(e, "network.packets", f["pkts"])
		setNum(e, "network.bytes", f["bytes"])
	} else {
		var pk, by int64
		for _, c := range [...]struct{ key, field string }{
			{"pkts_toserver", "source.packets"}, {"bytes_toserver", "source.bytes"},
			{"pkts_toclient", "destination.packets"}, {"bytes_toclient", "destination.bytes"},
		} {
			if n, ok := num(f[c.key]); ok {
				e[c.field] = n
				if strings.HasPrefix(c.key, "pkts") {
					pk += n
				} else {
					by += n
				}
			}
		}
		e["network.packets"], e["network.bytes"] = pk, by
	}
	const layout = "2006-01-02T15:04:05.999999999-0700"
	var start, end time.Time
	if t, err := time.Parse(layout, str(f["start"])); err == nil && event.InRange(t) {
		start = t
		e["event.start"] = event.FormatTime(t)
	}
	if t, err := time.Parse(layout, str(f["end"])); err == nil && event.InRange(t) {
		end = t
		e["event.end"] = event.FormatTime(t)
	}
	if !start.IsZero() && !end.IsZero() && !end.Before(start) {
		e["event.duration"] = end.Sub(start).Nanoseconds()
	}
}

// Fork implements parsers.Forker: lines are parsed independently, so a
// copy parses the lines that follow as p would.
func (p *Parser) Fork() parsers.Line {
	cp := *p
	return &cp
}

// Skip implements parsers.Forker: a line changes nothing in p.
func (p *Parser) Skip([]byte) {}
