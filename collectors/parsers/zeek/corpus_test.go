package zeek

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// logs are the WRCCDC 2018 logs present in both writers: TSV file, JSON file.
var logs = [][2]string{
	{"dce_rpc.log", "dce_rpc.json"}, {"ssh.log", "ssh.json"}, {"ntlm.log", "ntlm.json"}, {"rdp.log", "rdp.json"},
	{"ftp.log", "ftp.json"}, {"kerberos.log", "kerberos.json"}, {"known_services.log", "known_services.json"},
	{"notice.log", "notice.json"}, {"pe.log", "pe.json"}, {"smb_files.log", "smb_files.json"},
	{"smb_mapping.log", "smb_mapping.json"}, {"software.log", "software.json"},
	{"syslog.head500.log", "syslog.head500.json"}, {"dns.head3000.log", "dns.head1000.json"},
}

func fileLines(tb testing.TB, rel string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(corpus.Dir(tb), "zeek-wrccdc2018", filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

// parseFile parses a file with one parser; it returns the events and the
// number of lines that gave nil (headers).
func parseFile(tb testing.TB, rel string) (events []event.Event, headers int) {
	tb.Helper()
	p := New(Config{})
	var off int64
	for _, l := range fileLines(tb, rel) {
		if e := p.Parse(parsers.Source{Name: rel, Offset: off}, l); e != nil {
			events = append(events, e)
		} else {
			headers++
		}
		off += int64(len(l)) + 1
	}
	return events, headers
}

// TestCorpusNoRecordLost: every record line of every log, in both writers,
// gives one unflagged event; only '#' lines give nil.
func TestCorpusNoRecordLost(t *testing.T) {
	for _, pair := range logs {
		for _, rel := range []string{"tsv/" + pair[0], "json/" + pair[1]} {
			records, comments := 0, 0
			for _, l := range fileLines(t, rel) {
				if bytes.HasPrefix(l, []byte("#")) {
					comments++
				} else {
					records++
				}
			}
			events, headers := parseFile(t, rel)
			if len(events) != records || headers != comments {
				t.Errorf("%s: %d events + %d headers, want %d records + %d header lines", rel, len(events), headers, records, comments)
			}
			for i, e := range events {
				if e["event.kind"] == parsers.KindPipelineError {
					t.Errorf("%s record %d flagged: %v", rel, i+1, e[event.FieldParseError])
					break
				}
				if !strings.HasPrefix(e.String("event.dataset"), "zeek.") || e.String(event.FieldTimestamp) == "" {
					t.Errorf("%s record %d: dataset %v @timestamp %v", rel, i+1, e["event.dataset"], e[event.FieldTimestamp])
					break
				}
			}
		}
	}
}

// TestTSVAndJSONAgree: both writers of one log give the same events,
// field for field (numbers within the TSV writer's 6 decimals).
func TestTSVAndJSONAgree(t *testing.T) {
	for _, pair := range logs {
		tsv, _ := parseFile(t, "tsv/"+pair[0])
		js, _ := parseFile(t, "json/"+pair[1])
		n := min(len(tsv), len(js))
		if n == 0 || (len(tsv) != len(js) && !strings.HasPrefix(pair[0], "dns.")) {
			t.Errorf("%s: %d TSV events, %d JSON events", pair[0], len(tsv), len(js))
			continue
		}
		diffs := 0
		for i := 0; i < n && diffs < 3; i++ {
			a, b := tsv[i], js[i]
			for _, k := range keys(a, b) {
				if k == event.FieldOriginal || k == event.FieldID {
					continue
				}
				if !same(a[k], b[k]) {
					t.Errorf("%s record %d: %s is %#v in TSV, %#v in JSON", pair[0], i+1, k, a[k], b[k])
					diffs++
				}
			}
		}
	}
}

func keys(a, b event.Event) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

func same(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-6*math.Max(1, math.Abs(y))
	case int64:
		y, ok := b.(int64)
		return ok && (x == y || math.Abs(float64(x-y)) <= 1000) // durations in ns, TSV keeps µs
	case []any:
		y, ok := b.([]any)
		// The TSV writer spells both an empty set and a set holding one
		// empty string "(empty)"; JSON tells them apart.
		if ok && len(x) == 0 && len(y) == 1 && y[0] == "" {
			return true
		}
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !same(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// TestDCERPCServiceCreation checks the remote service creation and task
// registration SOURCES.md observes in dce_rpc.
func TestDCERPCServiceCreation(t *testing.T) {
	for _, rel := range []string{"tsv/dce_rpc.log", "json/dce_rpc.json"} {
		events, _ := parseFile(t, rel)
		got := map[string]int{}
		for _, e := range events {
			got[e.String("zeek.dce_rpc.endpoint")+" "+e.String("event.action")+" from "+e.String("source.ip")]++
		}
		for k, n := range map[string]int{
			"svcctl CreateServiceW from 10.128.0.214": 5, "svcctl StartServiceW from 10.128.0.214": 5,
			"svcctl CreateServiceW from 10.150.0.20": 4, "svcctl StartServiceW from 10.150.0.20": 4,
			"ITaskSchedulerService SchRpcRegisterTask from 10.128.0.233": 3, "ITaskSchedulerService SchRpcRun from 10.128.0.233": 3,
		} {
			if got[k] != n {
				t.Errorf("%s: %q %d times, want %d", rel, k, got[k], n)
			}
		}
	}
}

// TestNTLMAndSSH checks user and outcome mapping on the spraying and SSH logs.
func TestNTLMAndSSH(t *testing.T) {
	events, _ := parseFile(t, "json/ntlm.json")
	users := map[string]bool{}
	for _, e := range events {
		if e["source.ip"] == "10.150.0.20" {
			users[e.String("user.name")] = true
		}
	}
	if !users["vsalt:SugarSw33t"] || len(users) < 5 {
		t.Errorf("ntlm users from 10.150.0.20: %v", users)
	}
	events, _ = parseFile(t, "tsv/ssh.log")
	outcomes := map[any]int{}
	for _, e := range events {
		outcomes[e["event.outcome"]]++
	}
	if outcomes["success"] == 0 || outcomes["failure"] == 0 {
		t.Errorf("ssh outcomes %v, want both", outcomes)
	}
}
