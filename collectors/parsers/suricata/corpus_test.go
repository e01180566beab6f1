package suricata

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

var corpusNames = []string{"surevego_eve.json", "surevego_eve_broken.json", "tenzir_ctu_malware_eve.json", "beats_eve-6.0.log"}

// fileLines returns every line of a corpus file (empty ones included:
// they are records of the stream too), without the final newline's empty
// remainder.
func fileLines(tb testing.TB, name string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(corpus.Dir(tb), "suricata-eve", name))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func parseFile(tb testing.TB, name string) []event.Event {
	tb.Helper()
	p := New(Config{})
	var events []event.Event
	var off int64
	for _, l := range fileLines(tb, name) {
		events = append(events, p.Parse(parsers.Source{Name: name, Offset: off}, l))
		off += int64(len(l)) + 1
	}
	return events
}

// TestCorpusNoRecordLost: every line of every EVE file gives one event;
// only the broken file has flagged ones, and exactly at the corrupted
// lines SOURCES.md lists, each with a reason.
func TestCorpusNoRecordLost(t *testing.T) {
	wantFlagged := map[string][]int{"surevego_eve_broken.json": {1, 4, 5, 103, 104, 157, 158, 159, 160, 270}}
	for _, name := range corpusNames {
		in := fileLines(t, name)
		events := parseFile(t, name)
		var flagged []int
		ok := 0
		for i, e := range events {
			switch e["event.kind"] {
			case parsers.KindPipelineError:
				flagged = append(flagged, i+1)
				if e.String(event.FieldParseError) == "" || e[event.FieldOriginal] != string(in[i]) {
					t.Errorf("%s:%d: flagged without reason or original", name, i+1)
				}
			default:
				ok++
				if e.String("event.action") == "" || e.String(event.FieldTimestamp) == "" {
					t.Errorf("%s:%d: no event.action or @timestamp", name, i+1)
				}
			}
		}
		if ok+len(flagged) != len(in) {
			t.Errorf("%s: %d events + %d flagged != %d lines", name, ok, len(flagged), len(in))
		}
		if !slices.Equal(flagged, wantFlagged[name]) {
			t.Errorf("%s: flagged lines %v, want %v", name, flagged, wantFlagged[name])
		}
	}
}

// TestCorpusContent checks what SOURCES.md says the files hold.
func TestCorpusContent(t *testing.T) {
	types := map[string]int{}
	for i, e := range parseFile(t, "surevego_eve.json") {
		types[e.String("event.action")]++
		switch e["event.action"] {
		case "alert":
			if e["event.kind"] != "alert" || !strings.HasPrefix(e.String("rule.name"), "ET POLICY GNU/Linux APT User-Agent Outbound") ||
				e["source.ip"] != "172.17.0.2" || e.String("rule.id") == "" {
				t.Errorf("line %d: alert kind %v rule %v source %v", i+1, e["event.kind"], e["rule.name"], e["source.ip"])
			}
		case "http":
			// Old EVE escapes / as \/.
			if u := e.String("url.original"); !strings.HasPrefix(u, "/") || strings.Contains(u, `\`) {
				t.Errorf("line %d: url.original %q", i+1, u)
			}
		case "dns":
			if e["dns.type"] == "query" && e.String("dns.question.name") == "" || e.String("dns.id") == "" {
				t.Errorf("line %d: dns query without question or id", i+1)
			}
		}
	}
	for typ, n := range map[string]int{"alert": 68, "fileinfo": 68, "http": 68, "dns": 48, "flow": 13, "stats": 1} {
		if types[typ] != n {
			t.Errorf("%s: %d records, want %d", typ, types[typ], n)
		}
	}
	ctu := parseFile(t, "tenzir_ctu_malware_eve.json")
	for k, v := range map[string]any{
		"event.kind": "alert", "rule.id": "2017318", "event.severity": int64(2), "source.ip": "147.32.84.165",
		"destination.ip": "78.40.125.4", "destination.port": int64(6667), "network.transport": "tcp",
		"rule.category": "Potentially Bad Traffic", "@timestamp": "2011-08-12T12:52:57.716Z",
		"suricata.eve.payload_printable": "PRIVMSG #zarasa48 : smss.exe (368)\r\n",
	} {
		if ctu[0][k] != v {
			t.Errorf("CTU alert %s = %#v, want %#v", k, ctu[0][k], v)
		}
	}
	if !strings.Contains(ctu[0].String("rule.name"), "PRIVMSG") {
		t.Errorf("CTU alert rule.name %q", ctu[0]["rule.name"])
	}
	beats := parseFile(t, "beats_eve-6.0.log")[0]
	for k, v := range map[string]any{
		"rule.name": "GPL ATTACK_RESPONSE id check returned root", "url.original": "/uid/index.html",
		"url.domain": "testmynids.org", "http.response.status_code": int64(200), "source.mac": "00-03-2D-3F-E5-63",
		"observer.ingress.interface.name": "enp6s0", "network.protocol": "http",
	} {
		if beats[k] != v {
			t.Errorf("beats alert %s = %#v, want %#v", k, beats[k], v)
		}
	}
}
