package triage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/rules"
)

// withSuppressed returns a as the rule engine re-emits it when its
// suppression window ends: same id, with the final count.
func withSuppressed(a rules.Alert, n int) rules.Alert {
	a.Vigil.Alert.SuppressedCount = n
	return a
}

// TestGrouperCountsSuppressedAlerts: the alert re-emitted with its
// suppressed count when the suppression window ends adds the count to
// its incident (open or closed), once, without changing alert_count, and
// is a material change so the incident is judged again.
func TestGrouperCountsSuppressedAlerts(t *testing.T) {
	log := &authLog{host: "bastion-01"}
	storm := bruteForceStorm(log, "203.0.113.45", t0, 2) // the opener and one more alert
	sudo := ruleSudoAfter.alert("source.ip", log.sshd(t0.Add(time.Minute), "success", "root", "203.0.113.45"),
		log.sudo(t0.Add(2*time.Minute), "root", "/usr/bin/id", true))
	opener := storm[0]
	tests := []struct {
		name         string
		alerts       []rules.Alert
		close        bool // close the incident before the last alert
		wantCount    int  // alert_count after the last alert
		wantSupp     int  // suppressed_count after the last alert
		wantMaterial bool // of the last alert
		wantNil      bool // the last alert returns no incident
	}{
		{"re-emitted while open", []rules.Alert{opener, storm[1], withSuppressed(opener, 3)}, false, 2, 3, true, false},
		{"re-emitted after the incident closed", []rules.Alert{opener, storm[1], withSuppressed(opener, 3)}, true, 2, 3, true, false},
		{"re-emitted twice with the same count", []rules.Alert{opener, withSuppressed(opener, 3), withSuppressed(opener, 3)}, false, 1, 3, false, false},
		{"a higher count adds the difference", []rules.Alert{opener, withSuppressed(opener, 3), withSuppressed(opener, 7)}, false, 1, 7, true, false},
		{"a lower count (an older copy) changes nothing", []rules.Alert{withSuppressed(opener, 7), storm[1], withSuppressed(opener, 3)}, false, 2, 7, false, false},
		{"first seen with its count (a replay)", []rules.Alert{withSuppressed(opener, 3), storm[1], sudo}, false, 3, 3, true, false},
		{"plain replay of a closed incident", []rules.Alert{opener, storm[1], storm[1]}, true, 0, 0, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGrouper(GrouperConfig{})
			var inc *Incident
			for _, a := range tc.alerts[:len(tc.alerts)-1] {
				inc, _ = g.Add(a)
			}
			if tc.close {
				g.Close(inc.ID)
			}
			got, material := g.Add(tc.alerts[len(tc.alerts)-1])
			if tc.wantNil {
				if got != nil {
					t.Fatalf("got incident %s with %d alerts, want none", got.ID, got.AlertCount)
				}
				return
			}
			if got == nil {
				t.Fatal("no incident")
			}
			if got.ID != inc.ID || got.AlertCount != tc.wantCount || got.SuppressedCount != tc.wantSupp || material != tc.wantMaterial {
				t.Fatalf("incident %s: alert_count %d, suppressed_count %d, material %v; want %s, %d, %d, %v",
					got.ID, got.AlertCount, got.SuppressedCount, material, inc.ID, tc.wantCount, tc.wantSupp, tc.wantMaterial)
			}
			if got.Represented() != tc.wantCount+tc.wantSupp {
				t.Errorf("Represented() = %d, want %d", got.Represented(), tc.wantCount+tc.wantSupp)
			}
			var ruleSupp int
			for _, r := range got.Rules {
				if r.ID == opener.Rule.ID {
					ruleSupp = r.Suppressed
				}
			}
			if ruleSupp != tc.wantSupp {
				t.Errorf("rule %s: suppressed %d, want %d", opener.Rule.ID, ruleSupp, tc.wantSupp)
			}
			// The kept copy of the opener carries the count, so engines
			// reading the alerts see it too.
			for _, a := range got.Alerts {
				if a.Vigil.Alert.ID == opener.Vigil.Alert.ID && a.Vigil.Alert.SuppressedCount != tc.wantSupp {
					t.Errorf("kept opener: suppressed_count %d, want %d", a.Vigil.Alert.SuppressedCount, tc.wantSupp)
				}
			}
			if tc.close && g.Open(got.ID) {
				t.Error("the update reopened a closed incident")
			}
		})
	}
}

// TestGrouperSuppressedUpdateLeavesSnapshotsAlone: a snapshot taken
// before the update keeps its counts and its kept alerts.
func TestGrouperSuppressedUpdateLeavesSnapshotsAlone(t *testing.T) {
	storm := bruteForceStorm(&authLog{host: "bastion-01"}, "203.0.113.45", t0, 2)
	g := NewGrouper(GrouperConfig{})
	g.Add(storm[0])
	before, _ := g.Add(storm[1])
	after, _ := g.Add(withSuppressed(storm[0], 4))
	if before.SuppressedCount != 0 || before.Alerts[0].Vigil.Alert.SuppressedCount != 0 {
		t.Fatalf("earlier snapshot changed: suppressed_count %d, kept opener %d",
			before.SuppressedCount, before.Alerts[0].Vigil.Alert.SuppressedCount)
	}
	if after.SuppressedCount != 4 || after.Alerts[0].Vigil.Alert.SuppressedCount != 4 {
		t.Fatalf("update: suppressed_count %d, kept opener %d; want 4, 4", after.SuppressedCount, after.Alerts[0].Vigil.Alert.SuppressedCount)
	}
	// 2 alerts and 2+4: another size bucket, so a cached answer for the
	// smaller incident does not answer the bigger one.
	if Fingerprint(before) == Fingerprint(after) {
		t.Error("the suppressed alerts did not change the incident's fingerprint")
	}
}

// TestGrouperMaxClosed: only the MaxClosed most recently closed
// incidents take suppression updates.
func TestGrouperMaxClosed(t *testing.T) {
	log := &authLog{host: "bastion-01"}
	g := NewGrouper(GrouperConfig{MaxClosed: 2})
	var openers []rules.Alert
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		a := bruteForceStorm(log, ip, t0.Add(time.Duration(i)*time.Minute), 1)[0]
		inc, _ := g.Add(a)
		g.Close(inc.ID)
		openers = append(openers, a)
	}
	for i, a := range openers {
		inc, _ := g.Add(withSuppressed(a, 5))
		if kept := i > 0; (inc != nil) != kept {
			t.Errorf("closed incident %d of 3: update returned %v, want an incident: %v", i+1, inc, kept)
		}
	}
}

// TestSuppressedAlertsOnTheDemoScenario: the demo's failed brute force
// (40 password attempts from 203.0.113.45, ground truth in the
// scenario's README) is one ssh.brute_force alert of ten failures with
// three more suppressed, and one PAM burst alert with two suppressed.
// The incident, the fallback engine's notes and the prompt show the real
// size, not the ten failures of the first alert.
func TestSuppressedAlertsOnTheDemoScenario(t *testing.T) {
	events := scenarioEvents(t)
	compiled, errs := rules.LoadFS(rules.Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	eng := rules.NewEngine(compiled, rules.EngineConfig{})
	var alerts []rules.Alert
	for _, e := range events {
		alerts = append(alerts, eng.Process(e)...)
	}
	alerts = append(alerts, eng.Flush()...) // ends the suppression windows
	g := NewGrouper(GrouperConfig{})
	var inc *Incident
	for _, a := range alerts {
		if got, _ := g.Add(a); got != nil && got.Entity.Value == "203.0.113.45" {
			inc = got
		}
	}
	if inc == nil {
		t.Fatal("no incident for source.ip=203.0.113.45")
	}
	if inc.AlertCount != 2 || inc.SuppressedCount != 5 {
		t.Fatalf("incident: alert_count %d, suppressed_count %d; want 2 and 5 (rules %+v)", inc.AlertCount, inc.SuppressedCount, inc.Rules)
	}
	tr, err := NewFallback().Triage(context.Background(), inc)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Verdict != Suspicious {
		t.Errorf("verdict %s, want suspicious", tr.Verdict)
	}
	for _, want := range []string{
		"≈40 failed logins (10 in the alerts' events, ≈30 more in the alerts suppression held back)",
		"2 alert(s) and 5 more held back by suppression",
		"`vigil.ssh.brute_force` SSH brute force: 1 alert(s) and 3 more held back by suppression",
		"Suppression held back 5 more alert(s) (vigil.linux.pam_brute_force +2, vigil.ssh.brute_force +3)",
	} {
		if !strings.Contains(tr.Notes, want) {
			t.Errorf("notes lack %q:\n%s", want, tr.Notes)
		}
	}

	prompt, _, err := Explain(inc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"alert_count":2,"suppressed_alerts":5`, `"id":"vigil.ssh.brute_force"`, `"alerts":1,"suppressed_alerts":3`} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %s:\n%s", want, prompt)
		}
	}
}
