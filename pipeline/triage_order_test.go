package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// TestTriageIncidentIDsDoNotDependOnAlertOrder: the same alerts of one
// entity, written to vigil.alerts in different orders (as detect tasks
// for local and re-keyed rules interleave them), give a fresh triage
// stage the same incident: the id of the earliest alert's incident and
// the same alert set. Without the reorder buffer the first alert to
// arrive named the incident.
func TestTriageIncidentIDsDoNotDependOnAlertOrder(t *testing.T) {
	ent := rules.Entity{Field: "source.ip", Value: "203.0.113.8"}
	at := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	alert := func(i int) rules.Alert {
		var a rules.Alert
		a.Timestamp = at.Add(time.Duration(i) * time.Minute)
		a.Event.Kind = "alert"
		a.Rule = rules.AlertRule{ID: "test-rule-" + string(rune('a'+i)), Name: "test rule"}
		a.Vigil.Alert.ID = "order-alert-" + string(rune('a'+i))
		a.Vigil.Alert.Kind = "match"
		a.Vigil.Alert.Severity = "medium"
		a.Vigil.Alert.Entity = ent
		a.Vigil.Alert.FirstSeen, a.Vigil.Alert.LastSeen = a.Timestamp, a.Timestamp
		a.Vigil.Alert.EventCount = 1
		return a
	}
	wantID := triage.IncidentID(ent, alert(0).Vigil.Alert.ID)
	wantAlerts := []string{alert(0).Vigil.Alert.ID, alert(1).Vigil.Alert.ID, alert(2).Vigil.Alert.ID}
	for _, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 0}} {
		cfg := config.Default()
		cfg.Kafka.Partitions = 1
		cfg.Triage.Engine = "fallback"
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sys, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []bus.Message
		for _, i := range order {
			b, err := json.Marshal(alert(i))
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, bus.Message{Topic: bus.TopicAlerts, Key: []byte(ent.String()), Value: b})
		}
		if err := sys.Producer.Send(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		tctx, tcancel := context.WithCancel(ctx)
		go func() { done <- sys.RunTriage(tctx) }()
		var incs []triage.Incident
		for full := false; !full; {
			recs, err := bus.ReadPartitions(ctx, sys.Bus, bus.TopicVerdicts, []int32{0})
			if err != nil {
				t.Fatal(err)
			}
			incs = incs[:0]
			for _, r := range recs {
				var v triage.Verdict
				if err := json.Unmarshal(r.Value, &v); err != nil {
					t.Fatal(err)
				}
				incs = append(incs, v.Vigil.Incident)
				full = full || v.Vigil.Incident.AlertCount == 3
			}
			if ctx.Err() != nil {
				t.Fatalf("order %v: no verdict of all 3 alerts; verdicts: %+v", order, incs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		tcancel()
		if err := <-done; err != nil {
			t.Errorf("triage: %v", err)
		}
		sys.Close()
		cancel()
		for _, inc := range incs {
			if inc.ID != wantID {
				t.Errorf("order %v: verdict of incident %s (alerts %v), want only %s", order, inc.ID, inc.AlertIDs, wantID)
			}
		}
		if last := incs[len(incs)-1]; !slices.Equal(slices.Sorted(slices.Values(last.AlertIDs)), wantAlerts) {
			t.Errorf("order %v: alerts %v, want %v", order, last.AlertIDs, wantAlerts)
		}
	}
}
