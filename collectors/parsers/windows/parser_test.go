package windows

import (
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// A Sysmon 13 record as EVTX renders it (shape of SigmaHQ's regression data).
const nestedRegistry = `{"Event":{"#attributes":{"xmlns":"http://schemas.microsoft.com/win/2004/08/events/event"},
"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon","Guid":"5770385F-C22A-43E0-BF4C-06F5698FFBD9"}},
"EventID":13,"Version":2,"Level":4,"Task":13,"Opcode":0,"Keywords":"0x8000000000000000",
"TimeCreated":{"#attributes":{"SystemTime":"2025-11-27T07:40:10.1653245Z"}},"EventRecordID":571146,
"Execution":{"#attributes":{"ProcessID":3544,"ThreadID":4272}},"Channel":"Microsoft-Windows-Sysmon/Operational",
"Computer":"ws-01","Security":{"#attributes":{"UserID":"S-1-5-18"}}},
"EventData":{"RuleName":"-","EventType":"SetValue","UtcTime":"2025-11-27 07:40:10.132","ProcessGuid":"{0197231E-005A-6928-A50B-000000000D00}",
"ProcessId":4460,"Image":"C:\\Windows\\regedit.exe","TargetObject":"HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\SystemRestore\\DisableSR",
"Details":"DWORD (0x00000001)","User":"CORP\\alice"}}}`

// A Security 4625 in the flat shape, with the Data list form nested
// exporters also write checked separately below.
const flatLogonFailed = `{"EventID":4625,"Channel":"security","Hostname":"DC-01","SourceName":"Microsoft-Windows-Security-Auditing",
"TimeCreated":"2020-10-18 07:50:06.220","Keywords":"0x8010000000000000","TargetUserName":"administrator","TargetDomainName":"CORP",
"IpAddress":"::ffff:203.0.113.7","IpPort":"50123","LogonType":"3","WorkstationName":"KALI","SubjectUserName":"-","Status":"0xc000006d"}`

const nestedDataList = `{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Channel":"System","Computer":"srv",
"Provider":{"#attributes":{"Name":"Service Control Manager"}},"TimeCreated":{"#attributes":{"SystemTime":"2024-01-02T03:04:05Z"}}},
"EventData":{"Data":[{"#attributes":{"Name":"ServiceName"},"#text":"PSEXESVC"},{"#attributes":{"Name":"ImagePath"},"#text":"%SystemRoot%\\PSEXESVC.exe"}]}}}`

func TestParse(t *testing.T) {
	tests := []struct {
		name, line string
		want       map[string]any
		reason     string // a flagged event's vigil.parse_error contains it
	}{
		{"nested sysmon registry value set", nestedRegistry, map[string]any{
			"@timestamp": "2025-11-27T07:40:10.165Z", "event.code": "13", "event.action": "registry-value-set",
			"event.dataset": "windows.sysmon_operational", "event.provider": "Microsoft-Windows-Sysmon", "host.name": "ws-01",
			"registry.hive": "HKLM", "registry.key": `SOFTWARE\Policies\Microsoft\Windows NT\SystemRestore`, "registry.value": "DisableSR",
			"registry.path": `HKLM\SOFTWARE\Policies\Microsoft\Windows NT\SystemRestore\DisableSR`,
			"process.name":  "regedit.exe", "process.pid": int64(4460), "user.name": "alice", "user.domain": "CORP",
			"winlog.event_data.ProcessId": "4460", "winlog.event_data.Details": "DWORD (0x00000001)", "winlog.record_id": "571146",
			"winlog.process.pid": int64(3544), "winlog.user.identifier": "S-1-5-18", "winlog.channel": "Microsoft-Windows-Sysmon/Operational",
		}, ""},
		{"flat security logon failure", flatLogonFailed, map[string]any{
			"@timestamp": "2020-10-18T07:50:06.220Z", "event.code": "4625", "event.action": "logon-failed", "event.outcome": "failure",
			"event.dataset": "windows.security", "user.name": "administrator", "user.domain": "CORP", "source.ip": "203.0.113.7",
			"source.port": int64(50123), "source.domain": "KALI", "winlog.event_data.LogonType": "3", "winlog.computer_name": "DC-01",
		}, ""},
		{"service installed, Data list and #text id", nestedDataList, map[string]any{
			"event.code": "7045", "event.action": "service-installed", "service.name": "PSEXESVC",
			"winlog.event_data.ImagePath": `%SystemRoot%\PSEXESVC.exe`, "event.dataset": "windows.system",
		}, ""},
		{"not JSON", "EventID=4624 garbage", nil, "not JSON"},
		{"truncated", flatLogonFailed[:80], nil, "not JSON"},
		{"trailing data", `{"EventID":1,"@timestamp":"2020-01-01T00:00:00Z"} {}`, nil, "data after the object"},
		{"no event id", `{"Channel":"Security","@timestamp":"2020-01-01T00:00:00Z"}`, nil, "no EventID"},
		{"no time", `{"EventID":4624,"Channel":"Security"}`, nil, "no valid event time"},
		{"empty", "", nil, "empty record"},
	}
	p := New(Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := parsers.Source{Name: "test.json", Offset: 42}
			e := p.Parse(src, []byte(tt.line))
			if e.ID() != event.MakeID(src.Name, src.Offset, []byte(tt.line)) || e[event.FieldOriginal] != strings.TrimRight(tt.line, "\r\n") {
				t.Errorf("id/original not derived from the record")
			}
			if tt.reason != "" {
				if e["event.kind"] != parsers.KindPipelineError || !strings.Contains(e.String(event.FieldParseError), tt.reason) {
					t.Errorf("kind %v reason %q, want flagged with %q", e["event.kind"], e[event.FieldParseError], tt.reason)
				}
				return
			}
			if e["event.kind"] != "event" {
				t.Fatalf("flagged: %v", e[event.FieldParseError])
			}
			for k, v := range tt.want {
				if e[k] != v {
					t.Errorf("%s = %#v, want %#v", k, e[k], v)
				}
			}
		})
	}
}

func TestParseDocument(t *testing.T) {
	// Two pretty-printed objects, junk between them, an array of two
	// records, and a truncated object at the end.
	doc := nestedRegistry + "\n\n garbage here \n" + "[" + flatLogonFailed + ",\n " + nestedDataList + "]\n" + `{"EventID": 4`
	var events []event.Event
	err := New(Config{}).ParseDocument("doc.json", strings.NewReader(doc), func(e event.Event) error {
		events = append(events, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		code, reason string
		off          int
	}{
		{"13", "", 0},
		{"", "data between records", strings.Index(doc, "garbage")},
		{"4625", "", strings.Index(doc, flatLogonFailed)},
		{"7045", "", strings.Index(doc, nestedDataList)},
		{"", "truncated", strings.LastIndex(doc, `{"EventID": 4`)},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if w.reason != "" {
			if !strings.Contains(e.String(event.FieldParseError), w.reason) {
				t.Errorf("event %d: reason %q, want %q", i, e[event.FieldParseError], w.reason)
			}
		} else if e.String("event.code") != w.code {
			t.Errorf("event %d: code %v (%v), want %s", i, e["event.code"], e[event.FieldParseError], w.code)
		}
		orig := e.String(event.FieldOriginal)
		if e.ID() != event.MakeID("doc.json", int64(w.off), []byte(orig)) && e.ID() != event.MakeID("doc.json", int64(w.off), []byte(doc[w.off:w.off+len(orig)])) {
			t.Errorf("event %d: id not derived from offset %d", i, w.off)
		}
		if !strings.HasPrefix(doc[w.off:], strings.TrimSpace(orig)[:1]) {
			t.Errorf("event %d: offset %d does not start its record", i, w.off)
		}
	}
}

func TestDataset(t *testing.T) {
	for in, want := range map[string]string{
		"Security": "windows.security", "security": "windows.security",
		"Microsoft-Windows-Sysmon/Operational":           "windows.sysmon_operational",
		"Windows PowerShell":                             "windows.windows_powershell",
		"Microsoft-Windows-Windows Defender/Operational": "windows.windows_defender_operational",
	} {
		if got := Dataset(in); got != want {
			t.Errorf("Dataset(%q) = %q, want %q", in, got, want)
		}
	}
}
