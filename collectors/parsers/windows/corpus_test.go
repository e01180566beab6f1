package windows

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

// corpusFiles returns the flat (one object per line) and nested
// (EVTX-rendered, possibly concatenated) Windows files of the corpus.
func corpusFiles(tb testing.TB) (flat, nested []string) {
	tb.Helper()
	dir := corpus.Dir(tb)
	flat, _ = filepath.Glob(filepath.Join(dir, "otrf-security-datasets", "windows", "*", "host", "*.json"))
	err := filepath.WalkDir(filepath.Join(dir, "sigma", "regression_data"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			nested = append(nested, path)
		}
		return err
	})
	if err != nil || len(flat) < 6 || len(nested) < 200 {
		tb.Fatalf("corpus: %d flat, %d nested files (%v)", len(flat), len(nested), err)
	}
	return flat, nested
}

// lines returns the non-empty lines of a file.
func lines(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// countValues counts the JSON values of a file with encoding/json, a
// count independent of the parser's own splitting.
func countValues(tb testing.TB, path string) int {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))))
	n := 0
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); errors.Is(err, io.EOF) {
			return n
		} else if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		n++
	}
}

func parseDoc(tb testing.TB, path string) []event.Event {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var events []event.Event
	if err := New(Config{}).ParseDocument(path, f, func(e event.Event) error {
		events = append(events, e)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return events
}

// TestCorpusNoRecordLost parses every Windows file of the corpus, the flat
// ones line by line and as documents, the nested ones as documents: each
// record yields one event, none is flagged, and each has a time, an
// event.code and a dataset.
func TestCorpusNoRecordLost(t *testing.T) {
	flat, nested := corpusFiles(t)
	p := New(Config{})
	check := func(name string, i int, e event.Event) {
		t.Helper()
		if e["event.kind"] != "event" {
			t.Errorf("%s record %d flagged: %v", name, i+1, e[event.FieldParseError])
			return
		}
		if _, ok := e.Time(); !ok || e.String("event.code") == "" || e.String("event.dataset") == "" {
			t.Errorf("%s record %d: @timestamp %v event.code %v event.dataset %v", name, i+1,
				e[event.FieldTimestamp], e["event.code"], e["event.dataset"])
		}
	}
	total := 0
	for _, path := range flat {
		in := lines(t, path)
		for i, l := range in {
			check(path, i, p.Parse(parsers.Source{Name: path}, l))
		}
		doc := parseDoc(t, path)
		if len(doc) != len(in) {
			t.Errorf("%s: %d events as a document, %d lines", path, len(doc), len(in))
		}
		total += len(in)
	}
	for _, path := range nested {
		want := countValues(t, path)
		events := parseDoc(t, path)
		if len(events) != want {
			t.Errorf("%s: %d events, %d JSON objects", path, len(events), want)
		}
		for i, e := range events {
			check(path, i, e)
		}
		total += want
	}
	if total < 3000 {
		t.Errorf("only %d records in the corpus", total)
	}
}

func lineOf(t *testing.T, glob string, n int) event.Event {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus.Dir(t), "otrf-security-datasets", "windows", filepath.FromSlash(glob)))
	if len(files) != 1 {
		t.Fatalf("%s: %d files", glob, len(files))
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	all := bytes.Split(data, []byte("\n"))
	return New(Config{}).Parse(parsers.Source{Name: files[0]}, all[n-1])
}

// TestOTRFGroundTruth checks the attack lines SOURCES.md names against
// what the datasets' metadata says the attacker ran.
func TestOTRFGroundTruth(t *testing.T) {
	tests := []struct {
		name, glob string
		line       int
		want       map[string]string // field → exact value
		contains   map[string]string // field → substring
	}{
		{"comsvcs MiniDump", "credential_access/host/psh_lsass_memory_dump_comsvcs_*.json", 107,
			map[string]string{"event.code": "1", "event.action": "process-created", "process.name": "rundll32.exe",
				"process.executable": `C:\Windows\System32\rundll32.exe`, "process.parent.name": "powershell.exe",
				"process.pid": "4824", "process.parent.pid": "6100", "user.name": "wardog", "user.domain": "WORKSTATION5",
				"host.name": "WORKSTATION5", "event.dataset": "windows.sysmon_operational", "@timestamp": "2020-10-18T07:50:05.917Z",
				"process.entity_id": "{39e4a257-d4ad-5f8c-3303-000000000700}", "process.pe.original_file_name": "RUNDLL32.EXE",
				"process.hash.md5": "f68af942fd7ccc0e7bab1a2335d2ad26"},
			map[string]string{"process.command_line": "comsvcs.dll MiniDump 756"}},
		{"reg save sam (Empire)", "credential_access/host/empire_shell_reg_dump_sam_*.json", 227,
			map[string]string{"process.name": "reg.exe", "user.name": "pgustavo", "user.domain": "THESHIRE",
				"@timestamp": "2020-09-22T08:28:41.547Z", "host.name": "WORKSTATION5.theshire.local", "event.action": "process-created"},
			map[string]string{"process.command_line": `save HKLM\sam sam`, "process.parent.command_line": "-enc "}},
		{"reg save secrets via PsExec", "credential_access/host/cmd_psexec_lsa_secrets_dump_*.json", 203,
			map[string]string{"process.name": "reg.exe", "process.parent.name": "PSEXESVC.exe", "user.name": "SYSTEM",
				"user.domain": "NT AUTHORITY"},
			map[string]string{"process.command_line": `save HKLM\security\policy\secrets`}},
		{"esentutl SAM copy", "credential_access/host/cmd_sam_copy_esentutl_*.json", 890,
			map[string]string{"process.name": "esentutl.exe", "process.parent.name": "cmd.exe"},
			map[string]string{"process.command_line": "/vss C:\\windows/system32/config/SAM"}},
		{"dumpert opens lsass", "credential_access/host/cmd_lsass_memory_dumpert_syscalls_*.json", 51,
			map[string]string{"event.action": "process-access", "process.name": "Outflank-Dumpert.exe",
				"winlog.event_data.TargetImage": `C:\windows\system32\lsass.exe`, "winlog.event_data.GrantedAccess": "0x1fffff"}, nil},
		{"dumpert writes the dump", "credential_access/host/cmd_lsass_memory_dumpert_syscalls_*.json", 52,
			map[string]string{"event.action": "file-created", "file.path": `C:\Windows\Temp\dumpert.dmp`, "file.name": "dumpert.dmp",
				"file.extension": "dmp", "process.name": "Outflank-Dumpert.exe"}, nil},
		{"schtasks /create remote", "lateral_movement/host/schtask_create_*.json", 480,
			map[string]string{"process.name": "schtasks.exe", "process.parent.name": "cmd.exe", "user.name": "pgustavo",
				"@timestamp": "2020-12-19T07:00:22.191Z"},
			map[string]string{"process.command_line": "/create /F /tn"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := lineOf(t, tt.glob, tt.line)
			for k, v := range tt.want {
				if got := event.Stringify(e[k]); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for k, v := range tt.contains {
				if got := e.String(k); !strings.Contains(got, v) {
					t.Errorf("%s = %q, want it to contain %q", k, got, v)
				}
			}
		})
	}
}

// TestCorpusActions checks that the Security and System events of the
// corpus that matter to detection are recognized.
func TestCorpusActions(t *testing.T) {
	flat, _ := corpusFiles(t)
	p := New(Config{})
	got := map[string]int{}
	for _, path := range flat {
		for _, l := range lines(t, path) {
			e := p.Parse(parsers.Source{Name: path}, l)
			got[e.String("event.code")+" "+e.String("event.action")]++
		}
	}
	for k, n := range map[string]int{
		"1102 audit-log-cleared": 4, "104 log-cleared": 2, "4697 service-installed": 1, "7045 service-installed": 1,
		"4698 scheduled-task-created": 1, "4624 logged-in": 2, "4688 process-created": 18, "1 process-created": 18,
		"10 process-access": 1200, "22 dns-query": 3, "17 pipe-created": 10,
	} {
		if got[k] != n {
			t.Errorf("%q: %d events, want %d", k, got[k], n)
		}
	}
}
