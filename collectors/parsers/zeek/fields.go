package zeek

import (
	"net/netip"
	"strings"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// own are the fields that become ECS fields and are not repeated under
// zeek.<path>.*.
var own = map[string]bool{
	"ts": true, "uid": true, "id.orig_h": true, "id.orig_p": true, "id.resp_h": true, "id.resp_p": true,
	"_path": true, "_write_ts": true,
}

// fill writes the ECS fields and zeek.<path>.* of one record.
func fill(e event.Event, path string, rec map[string]any) {
	e["event.kind"] = "event"
	e["event.module"] = Module
	e["event.dataset"] = "zeek." + path
	if uid, ok := rec["uid"].(string); ok && uid != "" {
		e["event.id"] = uid
		e["zeek.session_id"] = uid
	}
	setIP(e, "source", rec["id.orig_h"], rec["id.orig_p"])
	setIP(e, "destination", rec["id.resp_h"], rec["id.resp_p"])
	if s, ok := rec["proto"].(string); ok && s != "" {
		e["network.transport"] = s
	}
	if s, ok := rec["service"].(string); ok && s != "" {
		e["network.protocol"], _, _ = strings.Cut(s, ",")
	}
	if d, ok := rec["duration"].(float64); ok {
		e["event.duration"] = int64(d * 1e9)
	}
	prefix := "zeek." + path + "."
	for k, v := range rec {
		if own[k] {
			continue
		}
		if t, ok := v.(time.Time); ok {
			v = t.Format("2006-01-02T15:04:05.000000Z")
		}
		e[prefix+k] = v
	}
	str := func(k string) string { s, _ := rec[k].(string); return s }
	switch path {
	case "conn":
		classify(e, []string{"network"}, "connection")
		setNum(e, "source.bytes", rec["orig_bytes"])
		setNum(e, "destination.bytes", rec["resp_bytes"])
		setNum(e, "source.packets", rec["orig_pkts"])
		setNum(e, "destination.packets", rec["resp_pkts"])
	case "dce_rpc":
		classify(e, []string{"network"}, "connection", "protocol")
		e["network.protocol"] = "dce_rpc"
		setStr(e, "event.action", str("operation"))
	case "dns":
		classify(e, []string{"network"}, "protocol")
		e["network.protocol"] = "dns"
		setStr(e, "dns.question.name", str("query"))
		setStr(e, "dns.question.type", str("qtype_name"))
		setStr(e, "dns.response_code", str("rcode_name"))
		if id, ok := rec["trans_id"].(int64); ok {
			e["dns.id"] = event.Stringify(id)
		}
	case "ssh":
		classify(e, []string{"network"}, "connection", "protocol")
		e["network.protocol"] = "ssh"
		outcome(e, rec["auth_success"])
	case "rdp":
		classify(e, []string{"network"}, "connection", "protocol")
		e["network.protocol"] = "rdp"
	case "ntlm":
		classify(e, []string{"network", "authentication"}, "info")
		e["network.protocol"] = "ntlm"
		setStr(e, "user.name", str("username"))
		setStr(e, "user.domain", str("domainname"))
		setStr(e, "source.domain", str("hostname"))
		outcome(e, rec["success"])
	case "kerberos":
		classify(e, []string{"network", "authentication"}, "info")
		e["network.protocol"] = "kerberos"
		if user, realm, ok := strings.Cut(str("client"), "/"); ok {
			setStr(e, "user.name", user)
			setStr(e, "user.domain", realm)
		}
		setStr(e, "event.action", str("request_type"))
		outcome(e, rec["success"])
	case "ftp":
		classify(e, []string{"network"}, "protocol")
		e["network.protocol"] = "ftp"
		if u := str("user"); u != "<unknown>" {
			setStr(e, "user.name", u)
		}
		setStr(e, "event.action", str("command"))
	case "smb_mapping":
		classify(e, []string{"network"}, "protocol")
		e["network.protocol"] = "smb"
	case "smb_files":
		classify(e, []string{"file"}, "info")
		e["network.protocol"] = "smb"
		setStr(e, "file.name", str("name"))
		setStr(e, "file.path", str("path"))
		setNum(e, "file.size", rec["size"])
		setStr(e, "event.action", str("action"))
	case "http":
		classify(e, []string{"network", "web"}, "info")
		e["network.protocol"] = "http"
		setStr(e, "url.original", str("uri"))
		setStr(e, "url.domain", str("host"))
		setStr(e, "http.request.method", str("method"))
		setNum(e, "http.response.status_code", rec["status_code"])
		setStr(e, "user_agent.original", str("user_agent"))
	case "notice":
		e["event.kind"] = "alert"
		classify(e, []string{"intrusion_detection"}, "info")
		setStr(e, "rule.name", str("note"))
		setStr(e, "message", str("msg"))
		if _, ok := e["source.ip"]; !ok {
			setIP(e, "source", rec["src"], nil)
			setIP(e, "destination", rec["dst"], rec["p"])
		}
	case "syslog":
		e["network.protocol"] = "syslog"
		setStr(e, "message", str("message"))
		setStr(e, "log.syslog.facility.name", str("facility"))
		setStr(e, "log.syslog.severity.name", str("severity"))
	}
	if u := e.String("user.name"); u != "" {
		e["related.user"] = []any{u}
	}
}

func classify(e event.Event, categories []string, types ...string) {
	c := make([]any, len(categories))
	for i, x := range categories {
		c[i] = x
	}
	t := make([]any, len(types))
	for i, x := range types {
		t[i] = x
	}
	e["event.category"], e["event.type"] = c, t
}

func outcome(e event.Event, v any) {
	if b, ok := v.(bool); ok {
		if b {
			e["event.outcome"] = "success"
		} else {
			e["event.outcome"] = "failure"
		}
	}
}

func setStr(e event.Event, key, s string) {
	if s != "" {
		e[key] = s
	}
}

func setNum(e event.Event, key string, v any) {
	if n, ok := v.(int64); ok {
		e[key] = n
	}
}

// setIP stores an address (and port) when it is an IP.
func setIP(e event.Event, prefix string, addr, port any) {
	s, _ := addr.(string)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return
	}
	ip := a.Unmap().WithZone("").String()
	e[prefix+".ip"] = ip
	if n, ok := port.(int64); ok && n >= 0 && n <= 65535 {
		e[prefix+".port"] = n
	}
	list, _ := e["related.ip"].([]any)
	for _, x := range list {
		if x == ip {
			return
		}
	}
	e["related.ip"] = append(list, ip)
}
