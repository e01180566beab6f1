package triage

import (
	"encoding/json"

	"github.com/vigil-siem/vigil/rules"
	"testing"
	"time"
)

// TestGrouperMaxSpanCutsAStormThatNeverPauses: an alert every 15 s for
// 30 h is cut into incidents of at most MaxSpan, so every incident closes.
func TestGrouperMaxSpanCutsAStormThatNeverPauses(t *testing.T) {
	tests := []struct {
		name    string
		maxSpan time.Duration
		want    int
	}{
		{"default 24h", 0, 2},
		{"6h", 6 * time.Hour, 6},
		{"longer than the storm", 48 * time.Hour, 1},
	}
	storm := bruteForceStorm(&authLog{host: "LabSZ"}, "183.62.140.253", t0, 30*60*4) // 30 h
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGrouper(GrouperConfig{MaxSpan: tc.maxSpan})
			spans := map[string]*Incident{}
			for _, a := range storm {
				inc, _ := g.Add(a)
				spans[inc.ID] = inc
			}
			if len(spans) != tc.want {
				t.Fatalf("%d incidents, want %d", len(spans), tc.want)
			}
			limit := tc.maxSpan
			if limit == 0 {
				limit = DefaultMaxSpan
			}
			total := 0
			for id, inc := range spans {
				total += inc.AlertCount
				if span := inc.LastSeen.Sub(inc.FirstSeen); span > limit {
					t.Errorf("incident %s spans %v, more than %v", id, span, limit)
				}
				if !g.Reach(inc).After(inc.LastSeen) || g.Reach(inc).After(inc.FirstSeen.Add(limit)) {
					t.Errorf("incident %s: reach %v outside (%v, first+%v]", id, g.Reach(inc), inc.LastSeen, limit)
				}
			}
			if total != len(storm) {
				t.Errorf("incidents hold %d alerts, want %d", total, len(storm))
			}
		})
	}
}

// TestGrouperRebuildsTheSameIncidentFromTheSameAlerts is what a triage
// restart relies on: a fresh Grouper fed the same alerts in the same order
// makes the same incidents, and alerts fed twice count once.
func TestGrouperRebuildsTheSameIncidentFromTheSameAlerts(t *testing.T) {
	log := &authLog{host: "LabSZ"}
	alerts := bruteForceStorm(log, "5.188.10.180", t0, 40)
	alerts = append(alerts, bruteForceStorm(log, "112.95.230.3", t0, 40)...)
	alerts = append(alerts, sudoAlertsForRebuild(log)...)

	build := func(feed [][]int) map[string]string {
		g := NewGrouper(GrouperConfig{MaxAlertsKept: 10, MaxAlertIDs: 25})
		out := map[string]string{}
		for _, part := range feed {
			for _, i := range part {
				if inc, _ := g.Add(alerts[i]); inc != nil {
					b, err := json.Marshal(inc)
					if err != nil {
						t.Fatal(err)
					}
					out[inc.ID] = string(b)
				}
			}
		}
		return out
	}
	all := make([]int, len(alerts))
	for i := range all {
		all[i] = i
	}
	once := build([][]int{all})
	// The same alerts with the first third replayed (a detect restart).
	twice := build([][]int{all[:len(all)/3], all[:len(all)/3], all[len(all)/3:]})
	if len(once) < 2 {
		t.Fatalf("%d incidents, want several", len(once))
	}
	for id, want := range once {
		if twice[id] != want {
			t.Errorf("incident %s differs when its alerts are replayed:\n%s\nwant\n%s", id, twice[id], want)
		}
	}
	if len(twice) != len(once) {
		t.Errorf("%d incidents with a replay, %d without", len(twice), len(once))
	}
}

func sudoAlertsForRebuild(log *authLog) []rules.Alert {
	return bruteForceStorm(log, "103.99.0.122", t0.Add(2*time.Hour), 5)
}

// TestGrouperCloseAndForget: a closed incident's alerts replayed are
// recognised (nil, nothing reopens); a forgotten incident's alerts
// replayed rebuild it under the same id and count.
func TestGrouperCloseAndForget(t *testing.T) {
	alerts := bruteForceStorm(&authLog{host: "LabSZ"}, "183.62.140.253", t0, 5)
	tests := []struct {
		name      string
		forget    bool
		wantCount int // of the incident after replaying every alert; 0: none
	}{
		{"closed", false, 0},
		{"forgotten", true, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGrouper(GrouperConfig{})
			var inc *Incident
			for _, a := range alerts {
				inc, _ = g.Add(a)
			}
			if tc.forget {
				g.Forget(inc.ID)
			} else {
				g.Close(inc.ID)
			}
			if g.Open(inc.ID) || g.Len() != 0 {
				t.Fatalf("incident still open after %s", tc.name)
			}
			var again *Incident
			for _, a := range alerts {
				again, _ = g.Add(a)
			}
			switch {
			case tc.wantCount == 0 && again != nil:
				t.Fatalf("replayed alerts of a closed incident reopened %s with %d alerts", again.ID, again.AlertCount)
			case tc.wantCount > 0 && (again == nil || again.ID != inc.ID || again.AlertCount != tc.wantCount):
				t.Fatalf("replay rebuilt %+v, want incident %s with %d alerts", again, inc.ID, tc.wantCount)
			}
		})
	}
}
