package suricata

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// Records in EVE's shape (addresses from documentation ranges).
const (
	tlsLine  = `{"timestamp":"2024-03-01T10:00:00.123456+0000","flow_id":1,"event_type":"tls","src_ip":"192.0.2.10","src_port":51000,"dest_ip":"198.51.100.20","dest_port":443,"proto":"TCP","tls":{"subject":"CN=example.org","issuerdn":"CN=Example CA","fingerprint":"ab:cd:ef","sni":"example.org","version":"TLS 1.2","notbefore":"2024-01-01T00:00:00","notafter":"2025-01-01T00:00:00","ja3s":{"hash":"abc"}}}`
	flowLine = `{"timestamp":"2024-03-01T10:00:05.000000+0100","event_type":"flow","src_ip":"2001:db8::1","src_port":53000,"dest_ip":"2001:db8::2","dest_port":53,"proto":"UDP","app_proto":"dns","flow":{"pkts_toserver":2,"pkts_toclient":1,"bytes_toserver":150,"bytes_toclient":90,"start":"2024-03-01T10:00:00.000000+0100","end":"2024-03-01T10:00:01.500000+0100","state":"established"}}`
	dropLine = `{"timestamp":"2024-03-01T10:00:00.000000+0000","event_type":"alert","src_ip":"203.0.113.1","src_port":4444,"dest_ip":"192.0.2.10","dest_port":22,"proto":"TCP","alert":{"action":"blocked","signature_id":1000001,"signature":"LOCAL ssh scan","severity":1,"rev":3}}`
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]any
		reason     string
	}{
		{"tls", tlsLine, map[string]any{
			"@timestamp": "2024-03-01T10:00:00.123Z", "event.kind": "event", "network.protocol": "tls",
			"tls.server.subject": "CN=example.org", "tls.server.issuer": "CN=Example CA", "tls.client.server_name": "example.org",
			"tls.server.hash.sha1": "ABCDEF", "tls.version": "1.2", "tls.version_protocol": "tls",
			"tls.server.not_after": "2025-01-01T00:00:00.000Z", "tls.server.ja3s": "abc", "suricata.eve.flow_id": int64(1),
		}, ""},
		{"flow", flowLine, map[string]any{
			"@timestamp": "2024-03-01T09:00:05.000Z", "source.ip": "2001:db8::1", "network.transport": "udp",
			"network.protocol": "dns", "network.packets": int64(3), "network.bytes": int64(240), "source.bytes": int64(150),
			"destination.packets": int64(1), "event.duration": int64(1500000000), "event.start": "2024-03-01T09:00:00.000Z",
			"suricata.eve.flow.state": "established",
		}, ""},
		{"blocked alert", dropLine, map[string]any{
			"event.kind": "alert", "rule.id": "1000001", "rule.name": "LOCAL ssh scan", "event.severity": int64(1),
			"rule.version": "3", "destination.port": int64(22),
		}, ""},
		{"timestamp with junk keeps the valid time",
			`{"timestamp":"2017-01-30T16:12:26.985026+0100asloefbnjhowebfg","event_type":"dns","dns":{"type":"query","rrname":"a.example"}}`,
			map[string]any{"@timestamp": "2017-01-30T15:12:26.985Z", "dns.question.name": "a.example", "dns.type": "query"}, ""},
		{"escaped slashes", `{"timestamp":"2017-01-30T16:12:26.985026+0100","event_type":"http","http":{"url":"\/a\/b?c=1","hostname":"h"}}`,
			map[string]any{"url.original": "/a/b?c=1", "url.path": "/a/b", "url.query": "c=1"}, ""},
		{"unquoted timestamp", `{"timestamp":2017-01-30T16:12:26.985025+0100,"event_type":"dns"}`, nil, "not JSON"},
		{"doubled quotes", `{"timestamp":""2017-01-30T16:12:27.008466+0100"","event_type":"dns"}`, nil, "not JSON"},
		{"no timestamp", `{"event_type":"dns"}`, nil, "invalid timestamp"},
		{"empty", ``, nil, "empty line"},
		{"binary", "\x00\xff\xfe", nil, "not JSON"},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := p.Parse(parsers.Source{Name: "eve", Offset: 9}, []byte(tt.line))
			if e.ID() != event.MakeID("eve", 9, []byte(tt.line)) {
				t.Error("id not derived from the line")
			}
			if tt.reason != "" {
				if e["event.kind"] != parsers.KindPipelineError || !strings.Contains(e.String(event.FieldParseError), tt.reason) {
					t.Errorf("kind %v reason %q, want flagged with %q", e["event.kind"], e[event.FieldParseError], tt.reason)
				}
				return
			}
			for k, v := range tt.want {
				if e[k] != v {
					t.Errorf("%s = %#v, want %#v", k, e[k], v)
				}
			}
		})
	}
}
