package zeek

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// A conn log in both writers (addresses from documentation ranges).
var tsvConn = []string{
	`#separator \x09`,
	"#set_separator\t,",
	"#empty_field\t(empty)",
	"#unset_field\t-",
	"#path\tconn",
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tlocal_orig\ttunnel_parents\thistory",
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tbool\tset[string]\tstring",
	"1521911725.396014\tCabc\t192.0.2.1\t50000\t198.51.100.2\t445\ttcp\tsmb,gssapi\t1.500000\t300\tT\t(empty)\tSh\\x09Ad\\\\",
	"1521911726.000000\tCdef\t2001:db8::1\t50001\t2001:db8::2\t53\tudp\t-\t-\t-\tF\tA,B\t(empty)",
	"#close\t2024-04-12-19-34-07",
}

const jsonConn = `{"_path":"conn","ts":"2018-03-24T17:15:25.396014Z","uid":"Cabc","id.orig_h":"192.0.2.1","id.orig_p":50000,"id.resp_h":"198.51.100.2","id.resp_p":445,"proto":"tcp","service":"smb,gssapi","duration":1.5,"orig_bytes":300,"local_orig":true,"tunnel_parents":[],"history":"Sh\tAd\\"}`

func TestParseTSV(t *testing.T) {
	p := New(Config{})
	var events []event.Event
	for i, l := range tsvConn {
		e := p.Parse(parsers.Source{Name: "x.log", Offset: int64(i)}, []byte(l))
		if strings.HasPrefix(l, "#") {
			if e != nil {
				t.Errorf("header line %d gave an event", i+1)
			}
			continue
		}
		if e == nil {
			t.Fatalf("record line %d gave nil", i+1)
		}
		events = append(events, e)
	}
	if len(events) != 2 {
		t.Fatalf("%d events", len(events))
	}
	for k, v := range map[string]any{
		"@timestamp": "2018-03-24T17:15:25.396Z", "event.dataset": "zeek.conn", "event.id": "Cabc", "source.ip": "192.0.2.1",
		"source.port": int64(50000), "destination.port": int64(445), "network.transport": "tcp", "network.protocol": "smb",
		"event.duration": int64(1500000000), "source.bytes": int64(300), "zeek.conn.local_orig": true,
		"zeek.conn.history": "Sh\tAd\\", "zeek.conn.service": "smb,gssapi",
	} {
		if events[0][k] != v {
			t.Errorf("%s = %#v, want %#v", k, events[0][k], v)
		}
	}
	if tp, ok := events[0]["zeek.conn.tunnel_parents"].([]any); !ok || len(tp) != 0 {
		t.Errorf("(empty) set = %#v", events[0]["zeek.conn.tunnel_parents"])
	}
	if tp, _ := events[1]["zeek.conn.tunnel_parents"].([]any); len(tp) != 2 || tp[1] != "B" {
		t.Errorf("set = %#v", events[1]["zeek.conn.tunnel_parents"])
	}
	if _, ok := events[1]["event.duration"]; ok {
		t.Error("unset duration was set")
	}
	// The same record from the JSON writer gives the same fields.
	j := New(Config{}).Parse(parsers.Source{Name: "conn.json"}, []byte(jsonConn))
	for k, v := range events[0] {
		if k == event.FieldOriginal || k == event.FieldID {
			continue
		}
		if !same(v, j[k]) {
			t.Errorf("%s: TSV %#v, JSON %#v", k, v, j[k])
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		reason string
	}{
		{"TSV before header", []string{"1521911725.3\tC\t1.2.3.4"}, "before its #fields header"},
		{"wrong field count", append(append([]string{}, tsvConn[:7]...), "1521911725.3\tC"), "has 2 fields"},
		{"bad number", append(append([]string{}, tsvConn[:7]...), "1521911725.3\tC\t1.2.3.4\tport\t5.6.7.8\t1\ttcp\t-\t-\t-\t-\t-\t-"), "is not a port"},
		{"bad JSON", []string{`{"ts":`}, "not JSON"},
		{"JSON without ts", []string{`{"_path":"conn","uid":"C"}`}, "without a valid ts"},
		{"empty", []string{""}, "empty line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{})
			var e event.Event
			for _, l := range tt.lines {
				e = p.Parse(parsers.Source{Name: "conn.log"}, []byte(l))
			}
			if e == nil || e["event.kind"] != parsers.KindPipelineError || !strings.Contains(e.String(event.FieldParseError), tt.reason) {
				t.Errorf("got %v, want flagged with %q", e, tt.reason)
			}
		})
	}
}

func TestPathFromSource(t *testing.T) {
	line := []byte(`{"ts":1521911725.5,"uid":"C","query":"example.org"}`)
	for name, want := range map[string]string{"/var/log/zeek/dns.04:00:00-05:00:00.log": "zeek.dns", "dns.json": "zeek.dns"} {
		if got := New(Config{}).Parse(parsers.Source{Name: name}, line)["event.dataset"]; got != want {
			t.Errorf("%s: dataset %v, want %s", name, got, want)
		}
	}
	if got := New(Config{Path: "weird"}).Parse(parsers.Source{Name: "x.log"}, line)["event.dataset"]; got != "zeek.weird" {
		t.Errorf("Config.Path: dataset %v", got)
	}
}
