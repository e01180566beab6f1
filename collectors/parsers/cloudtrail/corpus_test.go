package cloudtrail

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/corpus"
)

func stratusFiles(tb testing.TB) []string {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus.Dir(tb), "stratus-red-team", "detonation-logs", "*.json"))
	if len(files) != 35 {
		tb.Fatalf("%d Stratus files, want 35", len(files))
	}
	return files
}

func otrfLines(tb testing.TB) [][]byte {
	tb.Helper()
	files, _ := filepath.Glob(filepath.Join(corpus.Dir(tb), "otrf-security-datasets", "aws", "collection", "*.json"))
	if len(files) != 1 {
		tb.Fatalf("%d OTRF AWS files", len(files))
	}
	data, err := os.ReadFile(files[0])
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

// TestStratusNoRecordLost parses every Stratus detonation log (a JSON
// array per file): each record, counted with encoding/json, gives one
// unflagged event whose event.action is the record's eventName.
func TestStratusNoRecordLost(t *testing.T) {
	total := 0
	for _, path := range stratusFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var recs []struct {
			EventName string `json:"eventName"`
		}
		if err := json.Unmarshal(data, &recs); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		events := parseDoc(t, path)
		if len(events) != len(recs) {
			t.Errorf("%s: %d events, %d records", filepath.Base(path), len(events), len(recs))
			continue
		}
		for i, e := range events {
			if e["event.kind"] != "event" {
				t.Errorf("%s[%d] flagged: %v", filepath.Base(path), i, e[event.FieldParseError])
			}
			if e["event.action"] != recs[i].EventName {
				t.Errorf("%s[%d]: event.action %v, want %s", filepath.Base(path), i, e["event.action"], recs[i].EventName)
			}
			if !idMatchesOffset(e, path, data) {
				t.Errorf("%s[%d]: id not derived from the record's offset", filepath.Base(path), i)
			}
		}
		total += len(recs)
	}
	if total < 300 {
		t.Errorf("only %d records", total)
	}
}

// idMatchesOffset reports whether e's id is derived from path and an
// offset at which its event.original (the record's exact bytes) starts.
func idMatchesOffset(e event.Event, path string, data []byte) bool {
	orig := []byte(e.String(event.FieldOriginal))
	for off := 0; ; {
		i := bytes.Index(data[off:], orig)
		if i < 0 {
			return false
		}
		if e.ID() == event.MakeID(path, int64(off+i), orig) {
			return true
		}
		off += i + 1
	}
}

func TestStratusGroundTruth(t *testing.T) {
	dir := filepath.Join(corpus.Dir(t), "stratus-red-team", "detonation-logs")
	byAction := func(name string) map[string][]event.Event {
		m := map[string][]event.Event{}
		for _, e := range parseDoc(t, filepath.Join(dir, name)) {
			m[e.String("event.action")] = append(m[e.String("event.action")], e)
		}
		return m
	}
	if got := byAction("aws.defense-evasion.cloudtrail-stop.json")["StopLogging"]; len(got) != 1 ||
		got[0]["event.provider"] != "cloudtrail.amazonaws.com" || got[0]["event.outcome"] != "success" {
		t.Errorf("cloudtrail-stop: StopLogging events %v", got)
	}
	logins := byAction("aws.initial-access.console-login-without-mfa.json")["ConsoleLogin"]
	if len(logins) != 1 {
		t.Fatalf("console-login-without-mfa: %d ConsoleLogin events", len(logins))
	}
	for k, v := range map[string]any{
		"aws.cloudtrail.console_login.additional_eventdata.mfa_used": false, "event.outcome": "success",
		"event.category": nil, "user.name": "stratus-red-team-nmfalu-jfzdtsvchl", "source.ip": "225.1.0.16",
		"event.provider": "signin.amazonaws.com", "cloud.account.id": "562283505220", "cloud.region": "eu-west-2r",
	} {
		if v == nil {
			if cat, _ := logins[0][k].([]any); len(cat) != 1 || cat[0] != "authentication" {
				t.Errorf("ConsoleLogin %s = %v, want [authentication]", k, logins[0][k])
			}
			continue
		}
		if logins[0][k] != v {
			t.Errorf("ConsoleLogin %s = %#v, want %#v", k, logins[0][k], v)
		}
	}
	pw := byAction("aws.credential-access.ec2-get-password-data.json")["GetPasswordData"]
	failed := 0
	for _, e := range pw {
		if e["event.outcome"] == "failure" && e["aws.cloudtrail.error_code"] == "Client.UnauthorizedOperation" {
			failed++
		}
	}
	if len(pw) != 30 || failed != 30 {
		t.Errorf("ec2-get-password-data: %d GetPasswordData, %d failed with Client.UnauthorizedOperation; want 30, 30", len(pw), failed)
	}
	admin := byAction("aws.persistence.iam-create-admin-user.json")
	for _, a := range []string{"CreateUser", "AttachUserPolicy", "CreateAccessKey"} {
		if len(admin[a]) == 0 {
			t.Errorf("iam-create-admin-user: no %s", a)
		}
	}
}

// TestOTRFLines parses the OTRF CloudTrail export (Logstash JSON lines):
// every line is a record, the attacker's S3 calls come from 1.2.3.4 as
// the stolen role.
func TestOTRFLines(t *testing.T) {
	p := New(Config{})
	calls := map[string]int{}
	for i, l := range otrfLines(t) {
		e := p.Parse(parsers.Source{Name: "otrf", Offset: int64(i)}, l)
		if e["event.kind"] != "event" {
			t.Errorf("line %d flagged: %v", i+1, e[event.FieldParseError])
			continue
		}
		if e.String("aws.cloudtrail.user_identity.type") == "AssumedRole" && strings.Contains(
			e.String("aws.cloudtrail.user_identity.session_context.session_issuer.user_name"), "BankingWAFRole") {
			calls[e.String("event.action")+" from "+e.String("source.ip")]++
		}
	}
	for k, n := range map[string]int{"ListBuckets from 1.2.3.4": 1, "ListObjects from 1.2.3.4": 7, "GetObject from 1.2.3.4": 2} {
		if calls[k] < n {
			t.Errorf("%s: %d, want at least %d (all: %v)", k, calls[k], n, calls)
		}
	}
}
