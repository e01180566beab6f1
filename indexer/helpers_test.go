package indexer_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/corpus"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// sshAttempt is one "Failed password" line of the OpenSSH log.
type sshAttempt struct {
	lineNo          int
	line            string
	host, user, ip  string
	port, pid       int
	ts              time.Time
	fromRealCorpus  bool
	invalidUsername bool
}

var failedPassword = regexp.MustCompile(`^(\w{3} +\d+ [\d:]+) (\S+) sshd\[(\d+)\]: Failed password for (invalid user )?(\S+) from (\S+) port (\d+)`)

// sshAttempts returns the failed logins of loghub's OpenSSH_2k.log. When
// the corpus is absent it returns lines in the same format for made-up
// documentation addresses, so the sink tests still run.
func sshAttempts(tb testing.TB) []sshAttempt {
	tb.Helper()
	var lines []string
	real := false
	if c := corpus.Root(); c != "" {
		f, err := os.Open(filepath.Join(c, "loghub", "OpenSSH_2k.log"))
		if err == nil {
			defer f.Close()
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			real = sc.Err() == nil
		}
	}
	if !real {
		lines = nil
		for i := range 600 {
			lines = append(lines, fmt.Sprintf("Dec 10 %02d:%02d:%02d LabSZ sshd[%d]: Failed password for invalid user u%d from 198.51.100.%d port %d ssh2",
				6+i/3600, i/60%60, i%60, 24000+i, i%40, i%200, 30000+i))
		}
	}
	var out []sshAttempt
	for i, l := range lines {
		m := failedPassword.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ts, err := time.Parse("Jan _2 15:04:05 2006", strings.Join(strings.Fields(m[1]), " ")+" 2024")
		if err != nil {
			ts, _ = time.Parse("Jan 2 15:04:05 2006", strings.Join(strings.Fields(m[1]), " ")+" 2024")
		}
		pid, _ := strconv.Atoi(m[3])
		port, _ := strconv.Atoi(m[7])
		out = append(out, sshAttempt{lineNo: i + 1, line: l, host: m[2], pid: pid, user: m[5], ip: m[6],
			port: port, ts: ts, fromRealCorpus: real, invalidUsername: m[4] != ""})
	}
	if len(out) < 100 {
		tb.Fatalf("only %d failed-password lines found", len(out))
	}
	return out
}

// sshEvent is the ECS event a collector would make of the line.
func sshEvent(a sshAttempt) event.Event {
	e := event.New()
	e.SetTime(a.ts)
	e.Set(event.FieldID, event.MakeID("loghub/OpenSSH_2k.log", int64(a.lineNo), []byte(a.line)))
	e.SetString(event.FieldOriginal, a.line)
	e.Set("event.kind", "event")
	e.Set("event.category", []any{"authentication"})
	e.Set("event.type", []any{"start"})
	e.Set("event.action", "ssh_login")
	e.Set("event.outcome", "failure")
	e.Set("event.dataset", "system.auth")
	e.Set("host.name", a.host)
	e.Set("user.name", a.user)
	e.Set("source.ip", a.ip)
	e.Set("source.port", a.port)
	e.Set("process.name", "sshd")
	e.Set("process.pid", a.pid)
	return e
}

func sshAlert(a sshAttempt) rules.Alert {
	ev := sshEvent(a)
	const ruleID = "vigil-ssh-failed-password"
	return rules.Alert{
		Timestamp: a.ts,
		Event: rules.AlertEvent{Kind: "alert", Category: []string{"authentication"}, Created: a.ts.Add(time.Second),
			Start: a.ts, End: a.ts, Severity: 47, RiskScore: 47},
		Rule: rules.AlertRule{ID: ruleID, Name: "SSH failed password", Version: "1", Ruleset: "linux"},
		Threat: []rules.Threat{{Framework: "MITRE ATT&CK",
			Tactic:    rules.ThreatRef{ID: "TA0006", Name: "Credential Access"},
			Technique: []rules.Technique{{ID: "T1110", Name: "Brute Force"}}}},
		Vigil: rules.AlertVigil{Alert: rules.AlertDetail{
			ID: rules.AlertID(ruleID, []event.Event{ev}), Kind: "match", Severity: "medium", RiskScore: 47,
			GroupKeys: []rules.Entity{{Field: "source.ip", Value: a.ip}},
			Entity:    rules.Entity{Field: "source.ip", Value: a.ip},
			FirstSeen: a.ts, LastSeen: a.ts, EventCount: 1, Events: []event.Event{ev}}},
		Fields: event.Event{"source.ip": a.ip, "user.name": a.user, "host.name": a.host},
	}
}

func alertDoc(tb testing.TB, a sshAttempt) indexer.Doc {
	tb.Helper()
	al := sshAlert(a)
	body, err := json.Marshal(al)
	if err != nil {
		tb.Fatal(err)
	}
	return indexer.Doc{Kind: indexer.KindAlert, ID: al.Vigil.Alert.ID, Body: body}
}

// sshVerdict is the verdict on the incident of one failed login; the same
// attempt always gives the same incident id, so a second verdict on it is
// a re-triage.
func sshVerdict(a sshAttempt, verdict string) triage.Verdict {
	al := sshAlert(a)
	h := sha256.Sum256([]byte("source.ip=" + a.ip + "\x00" + al.Vigil.Alert.ID))
	inc := triage.Incident{
		ID: hex.EncodeToString(h[:16]), Entity: rules.Entity{Field: "source.ip", Value: a.ip},
		FirstSeen: a.ts, LastSeen: a.ts, Severity: "medium", RiskScore: 47, AlertCount: 1,
		AlertIDs: []string{al.Vigil.Alert.ID},
		Rules:    []triage.RuleSummary{{ID: al.Rule.ID, Name: al.Rule.Name, Severity: "medium", Count: 1, Kind: "match"}},
		Users:    []string{a.user}, Hosts: []string{a.host}, IPs: []string{a.ip},
	}
	return triage.Verdict{
		Timestamp: a.ts.Add(2 * time.Second),
		Event:     triage.VerdictEvent{Kind: "alert", Created: a.ts.Add(2 * time.Second), Start: a.ts, End: a.ts},
		Vigil:     triage.VerdictVigil{Incident: inc},
		Triage: triage.Triage{
			Verdict: verdict, Confidence: 0.72, Severity: "medium",
			Summary: fmt.Sprintf("%s failed a password login as %q on %s; the address tried several accounts, a pattern of SSH password guessing.", a.ip, a.user, a.host),
			Notes: fmt.Sprintf("## What happened\nA failed SSH password login from %s for user `%s` on %s (sshd pid %d).\n\n"+
				"## Evidence\n```\n%s\n```\n\n## Timeline\n- %s first failure\n\n"+
				"## What to do next\n1. Check whether %s is a known scanner.\n2. Block it at the edge if the guessing continues.\n3. Confirm no login from it succeeded.",
				a.ip, a.user, a.host, a.pid, a.line, a.ts.Format(time.RFC3339), a.ip),
			Attack:             []string{"T1110.001"},
			RecommendedActions: []string{"block " + a.ip, "review sshd logs on " + a.host},
			Engine:             "fallback", Tokens: triage.Tokens{}, LatencyMS: 3,
		},
	}
}

func verdictDoc(tb testing.TB, a sshAttempt, verdict string) indexer.Doc {
	tb.Helper()
	v := sshVerdict(a, verdict)
	body, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return indexer.Doc{Kind: indexer.KindVerdict, ID: v.ID(), Body: body}
}

// verdictOf decodes the triage.verdict of a stored verdict document.
func verdictOf(tb testing.TB, body []byte) string {
	tb.Helper()
	var v triage.Verdict
	if err := json.Unmarshal(body, &v); err != nil {
		tb.Fatalf("stored verdict does not decode: %v\n%s", err, body)
	}
	return v.Triage.Verdict
}

// sameJSON reports whether two JSON documents are equal as values.
func sameJSON(tb testing.TB, a, b []byte) bool {
	tb.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		tb.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		tb.Fatalf("invalid JSON %q: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// storedVersion is the _version a document has after writes writes of
// it: a verdict carries its incident's alert count (external versioning,
// see indexer.Doc), an alert counts its writes.
func storedVersion(tb testing.TB, d indexer.Doc, writes int64) int64 {
	tb.Helper()
	if d.Kind != indexer.KindVerdict {
		return writes
	}
	var v triage.Verdict
	if err := json.Unmarshal(d.Body, &v); err != nil {
		tb.Fatalf("verdict %s does not decode: %v", d.ID, err)
	}
	if n := v.Vigil.Incident.AlertCount; n > 0 {
		return int64(n)
	}
	return writes
}
