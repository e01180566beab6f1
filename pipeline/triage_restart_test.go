package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/rules"
	"github.com/vigil-siem/vigil/triage"
)

// TestTriageRestartRebuildsOpenIncidents: the triage stage stops without
// any last word (a killed process) while an incident is open; detect then
// sends the incident's first alert again (its own replay) and one more
// alert. The restarted stage re-reads the open incident's alerts (they
// were never committed), so the last verdict of the incident holds all
// three alerts once each, and no verdict after the first full one is
// smaller.
func TestTriageRestartRebuildsOpenIncidents(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.Partitions = 2
	h := newTriageHarness(t, cfg, rules.Entity{Field: "source.ip", Value: "203.0.113.7"}, "restart-alert-", time.Minute)
	incID := triage.IncidentID(h.ent, h.alert(0).Vigil.Alert.ID)
	ofIncident := func() []triage.Incident {
		var out []triage.Incident
		for _, inc := range h.verdicts() {
			if inc.ID == incID {
				out = append(out, inc)
			}
		}
		return out
	}

	h.send(h.alert(0), h.alert(1))
	stop := h.runTriage()
	h.waitFor("a verdict with the second alert", h.hasAlert(h.alert(1).Vigil.Alert.ID))
	stop()

	h.send(h.alert(0), h.alert(2)) // detect's replay of the first alert, then a new one
	stop = h.runTriage()
	h.waitFor("a verdict with the third alert", h.hasAlert(h.alert(2).Vigil.Alert.ID))
	stop()

	vs := ofIncident()
	want := []string{h.alert(0).Vigil.Alert.ID, h.alert(1).Vigil.Alert.ID, h.alert(2).Vigil.Alert.ID}
	last := vs[len(vs)-1]
	if last.AlertCount != 3 || !slices.Equal(last.AlertIDs, want) {
		t.Fatalf("last verdict: alert_count %d, alert_ids %v; want 3, %v (counts of every verdict: %v)",
			last.AlertCount, last.AlertIDs, want, counts(vs))
	}
	full := false
	for _, inc := range vs {
		if full && inc.AlertCount < 3 {
			t.Fatalf("a verdict with %d alerts came after the full one (counts of every verdict: %v)", inc.AlertCount, counts(vs))
		}
		full = full || inc.AlertCount == 3
	}
}

// triageHarness runs the triage stage of a System against alerts of one
// entity sent straight to vigil.alerts, and reads the verdicts back.
type triageHarness struct {
	t      *testing.T
	ctx    context.Context
	sys    *System
	ent    rules.Entity
	prefix string        // of the alert ids
	step   time.Duration // event time between alert i and i+1
	parts  []int32
}

func newTriageHarness(t *testing.T, cfg config.Config, ent rules.Entity, prefix string, step time.Duration) *triageHarness {
	t.Helper()
	cfg.Triage.Engine = "fallback"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	sys, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	var parts []int32
	for p := range int32(cfg.Kafka.Partitions) {
		parts = append(parts, p)
	}
	return &triageHarness{t: t, ctx: ctx, sys: sys, ent: ent, prefix: prefix, step: step, parts: parts}
}

// alert is the i-th alert of the entity, i steps after the first.
func (h *triageHarness) alert(i int) rules.Alert {
	var a rules.Alert
	a.Timestamp = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * h.step)
	a.Event.Kind = "alert"
	a.Rule = rules.AlertRule{ID: "test-ssh-brute-force", Name: "SSH brute force"}
	a.Vigil.Alert.ID = h.prefix + string(rune('a'+i))
	a.Vigil.Alert.Kind = "threshold"
	a.Vigil.Alert.Severity = "medium"
	a.Vigil.Alert.Entity = h.ent
	a.Vigil.Alert.FirstSeen, a.Vigil.Alert.LastSeen = a.Timestamp.Add(-30*time.Second), a.Timestamp
	a.Vigil.Alert.EventCount = 5
	return a
}

func (h *triageHarness) send(as ...rules.Alert) {
	h.t.Helper()
	var msgs []bus.Message
	for _, a := range as {
		b, err := json.Marshal(a)
		if err != nil {
			h.t.Fatal(err)
		}
		msgs = append(msgs, bus.Message{Topic: bus.TopicAlerts, Key: []byte(a.Vigil.Alert.Entity.String()), Value: b})
	}
	if err := h.sys.Producer.Send(h.ctx, msgs); err != nil {
		h.t.Fatal(err)
	}
}

// verdicts returns every incident judged on vigil.verdicts, in order.
func (h *triageHarness) verdicts() []triage.Incident {
	h.t.Helper()
	recs, err := bus.ReadPartitions(h.ctx, h.sys.Bus, bus.TopicVerdicts, h.parts)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []triage.Incident
	for _, r := range recs {
		var v triage.Verdict
		if err := json.Unmarshal(r.Value, &v); err != nil {
			h.t.Fatalf("verdict at offset %d: %v", r.Offset, err)
		}
		out = append(out, v.Vigil.Incident)
	}
	return out
}

// runTriage starts the stage; the returned func stops it by cancelling
// its context: triage has no final work, so this is what a kill leaves.
// The cancel may catch a send waiting for its acknowledgement, which the
// stage reports as the cancel it is (vigil's commands ignore it too).
func (h *triageHarness) runTriage() (stop func()) {
	tctx, tcancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.sys.RunTriage(tctx) }()
	return func() {
		tcancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("triage: %v", err)
		}
	}
}

func (h *triageHarness) waitFor(what string, ok func() bool) {
	h.t.Helper()
	for !ok() {
		if h.ctx.Err() != nil {
			h.t.Fatalf("timed out waiting for %s; alert counts of the verdicts: %v", what, counts(h.verdicts()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hasAlert is true once some verdict holds alert id.
func (h *triageHarness) hasAlert(id string) func() bool {
	return func() bool {
		return slices.ContainsFunc(h.verdicts(), func(inc triage.Incident) bool { return slices.Contains(inc.AlertIDs, id) })
	}
}

// oneIncident checks that every verdict so far is of the incident of the
// entity's first alert (none split off) and that the last one holds its
// first n alerts, in order; it returns the verdicts.
func (h *triageHarness) oneIncident(n int) []triage.Incident {
	h.t.Helper()
	vs := h.verdicts()
	want := triage.IncidentID(h.ent, h.alert(0).Vigil.Alert.ID)
	for _, inc := range vs {
		if inc.ID != want {
			h.t.Errorf("verdict of incident %s (alerts %v): incident %s was split", inc.ID, inc.AlertIDs, want)
		}
	}
	var ids []string
	for i := range n {
		ids = append(ids, h.alert(i).Vigil.Alert.ID)
	}
	if last := vs[len(vs)-1]; !slices.Equal(last.AlertIDs, ids) {
		h.t.Errorf("last verdict holds %v, want %v", last.AlertIDs, ids)
	}
	return vs
}

// committed returns the triage group's committed offset of tp, -1 for
// none. It asks with a consumer of its own that never joins the group.
func (h *triageHarness) committed(tp bus.TopicPartition) int64 {
	h.t.Helper()
	c, err := bus.NewConsumer(h.sys.Bus, bus.ConsumerConfig{Group: GroupTriage, Topics: []string{bus.TopicAlerts}})
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Committed([]bus.TopicPartition{tp}, 10*time.Second)
	if kerr := (kafka.Error{}); errors.As(err, &kerr) && kerr.Code() == kafka.ErrGroupIDNotFound {
		return -1 // nothing committed yet
	}
	if err != nil {
		h.t.Fatal(err)
	}
	if off, ok := got[tp]; ok {
		return off
	}
	return -1
}

func counts(vs []triage.Incident) []int {
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = v.AlertCount
	}
	return out
}

// TestTriageCommitFloorNeverSplitsAnIncident: the offset triage lets the
// consumer commit is below every open incident's first alert and every
// alert held for reordering, and never inside a closed incident that a
// replay from it would see part of.
func TestTriageCommitFloorNeverSplitsAnIncident(t *testing.T) {
	type span struct {
		id          string
		first, last int64
		open        bool
		holdFrom    int64 // 0: first
		joinable    bool  // with open false: released by a quiet partition
	}
	tests := []struct {
		name    string
		spans   []span
		held    []int64 // offsets of alerts held for reordering
		floor   int64   // -1: no floor
		rebuild int64   // -1: no commit metadata
		kept    int     // spans still tracked afterwards
	}{
		{"nothing open", nil, nil, -1, -1, 0},
		{"one open incident", []span{{id: "a", first: 5, last: 9, open: true}}, nil, 5, -1, 1},
		{"closed incidents before it are forgotten", []span{{id: "a", first: 2, last: 4}, {id: "b", first: 6, last: 9, open: true}}, nil, 6, -1, 1},
		{"a closed incident the floor cuts is rebuilt", []span{{id: "a", first: 2, last: 8}, {id: "b", first: 6, last: 9, open: true}}, nil, 6, 2, 2},
		{"cuts cascade", []span{{id: "a", first: 1, last: 3}, {id: "b", first: 3, last: 7}, {id: "c", first: 6, last: 9, open: true}}, nil, 6, 1, 3},
		{"all closed", []span{{id: "a", first: 2, last: 8}, {id: "b", first: 6, last: 9}}, nil, -1, -1, 0},
		{"held alerts alone", nil, []int64{12, 10, 11}, 10, -1, 0},
		{"a held alert is below the open incidents", []span{{id: "a", first: 5, last: 9, open: true}}, []int64{3}, 3, -1, 1},
		{"a closed incident a held alert cuts is rebuilt", []span{{id: "a", first: 2, last: 8}}, []int64{7}, 7, 2, 1},
		{"a quiet incident holds nothing but is rebuilt", []span{{id: "a", first: 5, last: 9, joinable: true}}, nil, -1, 5, 1},
		{"a quiet incident that took an alert again holds from that alert", []span{{id: "a", first: 5, last: 20, open: true, holdFrom: 20}}, nil, 20, 5, 1},
	}
	tp := bus.TopicPartition{Topic: bus.TopicAlerts, Partition: 1}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := newOpenIncidents(triage.NewGrouper(triage.GrouperConfig{}), 0, 0, triage.ReorderConfig{Delay: time.Hour})
			p := o.part(tp)
			for _, s := range tc.spans {
				hold := s.holdFrom
				if hold == 0 {
					hold = s.first
				}
				p.incs[s.id] = &incidentSpan{first: s.first, last: s.last, holdFrom: hold, open: s.open, joinable: s.open || s.joinable}
			}
			for _, off := range tc.held {
				a := rules.Alert{Timestamp: time.Unix(off, 0)}
				a.Vigil.Alert.ID = fmt.Sprint(off)
				if out := p.held.Push(a, bus.Record{Topic: tp.Topic, Partition: tp.Partition, Offset: off}, time.Now()); len(out) > 0 {
					t.Fatalf("released %d alerts at once", len(out))
				}
			}
			f, ok := o.floor(tp)
			if got := map[bool]int64{true: f, false: -1}[ok]; got != tc.floor {
				t.Fatalf("floor %d (ok %v), want %d", f, ok, tc.floor)
			}
			wantMeta := ""
			if tc.rebuild >= 0 {
				wantMeta = rebuildKey + fmt.Sprint(tc.rebuild)
			}
			if got := o.metadata(tp); got != wantMeta {
				t.Errorf("commit metadata %q, want %q", got, wantMeta)
			}
			if len(p.incs) != tc.kept {
				t.Errorf("%d spans tracked after, want %d", len(p.incs), tc.kept)
			}
		})
	}
}

// TestTriageQuietPartitionKeepsItsIncidentsOpen: a partition that got no
// alert for idle_close releases its hold on the commit (its lag can reach
// 0) but not its incidents: an alert of the window after the pause (a
// detect restart, say) joins the same incident, as in a time-ordered run,
// and the commit is held from the incident's first alert again. An
// incident whose window the partition's alerts moved past is closed.
func TestTriageQuietPartitionKeepsItsIncidentsOpen(t *testing.T) {
	g := triage.NewGrouper(triage.GrouperConfig{Window: 30 * time.Minute})
	o := newOpenIncidents(g, 30*time.Minute, 15*time.Second, triage.ReorderConfig{Delay: -1})
	tp := bus.TopicPartition{Topic: bus.TopicAlerts, Partition: 0}
	t0 := time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)
	wall := time.Now()
	alert := func(id, ip string, at time.Time) rules.Alert {
		a := rules.Alert{Timestamp: at}
		a.Vigil.Alert.ID = id
		a.Vigil.Alert.FirstSeen, a.Vigil.Alert.LastSeen = at, at
		a.Vigil.Alert.Entity = rules.Entity{Field: "source.ip", Value: ip}
		return a
	}
	feed := func(a rules.Alert, offset int64, now time.Time) *triage.Incident {
		t.Helper()
		r := bus.Record{Topic: tp.Topic, Partition: tp.Partition, Offset: offset}
		var inc *triage.Incident
		for _, h := range o.hold(r, a, now) {
			got, _ := g.Add(h.Alert)
			if got == nil {
				t.Fatalf("alert %s joined no incident", h.Alert.Vigil.Alert.ID)
			}
			o.add(h.Value, got, h.Alert)
			inc = got
		}
		if inc == nil {
			t.Fatalf("alert %s was held back with reordering off", a.Vigil.Alert.ID)
		}
		return inc
	}
	floor := func() int64 {
		f, ok := o.floor(tp)
		if !ok {
			return -1
		}
		return f
	}

	first := feed(alert("a1", "203.0.113.9", t0), 10, wall)
	if f := floor(); f != 10 {
		t.Fatalf("floor %d with the incident open, want 10", f)
	}
	o.closeExpired(wall.Add(20 * time.Second)) // quiet past idle_close
	if f := floor(); f != -1 {
		t.Fatalf("floor %d after the partition went quiet, want none (lag may reach 0)", f)
	}
	if !g.Open(first.ID) {
		t.Fatal("the quiet partition's incident was closed: a later alert of its window would open a second incident")
	}
	later := feed(alert("a2", "203.0.113.9", t0.Add(5*time.Minute)), 20, wall.Add(40*time.Second))
	if later.ID != first.ID || later.AlertCount != 2 {
		t.Fatalf("after the pause the alert went to incident %s with %d alerts, want %s with 2", later.ID, later.AlertCount, first.ID)
	}
	if f := floor(); f != 20 {
		t.Fatalf("floor %d after the incident took an alert again, want that alert's 20 (the committed offset never goes back)", f)
	}
	if m := o.metadata(tp); m != rebuildKey+"10" {
		t.Fatalf("commit metadata %q, want a replay to rebuild the incident from its first alert 10", m)
	}
	// Alerts of another entity two hours on: the incident's window is
	// past, it closes and stops being tracked once committed past.
	feed(alert("b1", "198.51.100.7", t0.Add(2*time.Hour)), 30, wall.Add(50*time.Second))
	o.closeExpired(wall.Add(51 * time.Second))
	if g.Open(first.ID) {
		t.Error("the incident stayed open after its partition's alerts moved past its window")
	}
	if f := floor(); f != 30 {
		t.Errorf("floor %d, want 30 (the open incident's first alert)", f)
	}
	if _, tracked := o.part(tp).incs[first.ID]; tracked {
		t.Error("the closed incident is still tracked after the floor passed it")
	}
}

// TestTriageRestartAfterAQuietPeriodKeepsTheIncident: a partition quiet
// for idle_close commits past its incident's alerts (lag 0), but the
// incident stays open for its window; the stage is then killed, and the
// next alert of that window, read by the restarted stage, joins the same
// incident (same id, both alerts) instead of opening a second one: the
// commit's metadata told the restarted stage where to re-read from.
func TestTriageRestartAfterAQuietPeriodKeepsTheIncident(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.Partitions = 1
	cfg.Triage.IdleClose = triage.Duration(300 * time.Millisecond)
	cfg.Triage.ReorderDelay = triage.Duration(-1)
	h := newTriageHarness(t, cfg, rules.Entity{Field: "source.ip", Value: "203.0.113.8"}, "quiet-alert-", 5*time.Minute)
	tp := bus.TopicPartition{Topic: bus.TopicAlerts, Partition: 0}
	committed := func() bool { return h.committed(tp) == 1 }

	h.send(h.alert(0))
	stop := h.runTriage()
	h.waitFor("the first verdict", func() bool { return len(h.verdicts()) == 1 })
	// Quiet: the partition releases the incident's hold, the commit
	// passes its alert.
	h.waitFor("the commit past the quiet incident", committed)
	stop()

	h.send(h.alert(1)) // five minutes later in event time: the same incident's window
	stop = h.runTriage()
	h.waitFor("a verdict with the second alert", h.hasAlert(h.alert(1).Vigil.Alert.ID))
	stop()

	vs := h.oneIncident(2)
	if len(vs) != 2 {
		t.Errorf("%d verdicts (alert counts %v), want 2: the re-read alert was judged again", len(vs), counts(vs))
	}
}

// TestTriageQuietIncidentTakingAnAlertKeepsTheCommit: when an incident a
// quiet partition released takes an alert again, the committed offset
// stays where it is (held from the new alert, not from the incident's
// first: the lag does not rise with no new input), and a stage killed
// then still rebuilds the whole incident from the commit's metadata, so
// the next alert joins it with all its alerts under the same id.
func TestTriageQuietIncidentTakingAnAlertKeepsTheCommit(t *testing.T) {
	cfg := config.Default()
	cfg.Kafka.Partitions = 1
	cfg.Triage.IdleClose = triage.Duration(300 * time.Millisecond)
	cfg.Triage.ReorderDelay = triage.Duration(-1)
	h := newTriageHarness(t, cfg, rules.Entity{Field: "source.ip", Value: "203.0.113.12"}, "rejoin-alert-", 5*time.Minute)
	tp := bus.TopicPartition{Topic: bus.TopicAlerts, Partition: 0}
	committed := func() int64 { return h.committed(tp) }

	h.send(h.alert(0))
	stop := h.runTriage()
	h.waitFor("the commit past the quiet incident", func() bool { return committed() == 1 })
	stop()

	// The partition stays busy now: only the new alert's hold matters.
	h.sys.Config.Triage.IdleClose = triage.Duration(time.Minute)
	stop = h.runTriage()
	h.send(h.alert(1))
	lowest := committed()
	h.waitFor("a verdict with the second alert", func() bool {
		lowest = min(lowest, committed())
		return h.hasAlert(h.alert(1).Vigil.Alert.ID)()
	})
	// The batch's commit follows its verdict's acknowledgement.
	for range 20 {
		lowest = min(lowest, committed())
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if lowest < 1 {
		t.Errorf("the committed offset went back to %d when the quiet incident took an alert: want it held at the new alert, 1", lowest)
	}

	h.send(h.alert(2))
	stop = h.runTriage()
	h.waitFor("a verdict with the third alert", h.hasAlert(h.alert(2).Vigil.Alert.ID))
	stop()
	h.oneIncident(3)
}
