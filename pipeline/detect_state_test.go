package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/gcfloor"
	"github.com/vigil-siem/vigil/rules"
)

// Two sequences: one keyed like vigil.events (host.name, runs where the
// events are), one keyed by source.ip (re-keyed).
const seqRules = `id: test.seq.host
name: Failure then success on one host
kind: sequence
severity: high
by: [host.name]
maxspan: 1h
steps:
  - condition: event.outcome == "failure"
  - condition: event.outcome == "success"
---
id: test.seq.ip
name: Failure then success from one address
kind: sequence
severity: high
by: [source.ip]
maxspan: 1h
steps:
  - condition: event.outcome == "failure"
  - condition: event.outcome == "success"
`

var t0 = time.Date(2025, 12, 10, 9, 0, 0, 0, time.UTC)

// detectTest is a system on the embedded broker with rule files.
type detectTest struct {
	t        *testing.T
	ctx      context.Context
	sys      *System
	rulesDir string
	sent     int
}

func newDetectTest(t *testing.T, partitions int, files map[string]string, edit func(*config.Config)) *detectTest {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.Kafka.Partitions = partitions
	cfg.Detect.Rules = []string{dir}
	cfg.Detect.CheckpointInterval = config.Duration(100 * time.Millisecond)
	cfg.Detect.WatchInterval = -1
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	sys, err := Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Close)
	return &detectTest{t: t, ctx: ctx, sys: sys, rulesDir: dir}
}

// member is one running detect stage.
type member struct {
	stop func() error // cancels it and returns what runDetect returned
}

func (dt *detectTest) start(opt detectOptions) *member {
	ctx, cancel := context.WithCancel(dt.ctx)
	done := make(chan error, 1)
	go func() { done <- dt.sys.runDetect(ctx, opt) }()
	var stopped bool
	var err error
	m := &member{stop: func() error {
		if !stopped {
			cancel()
			err, stopped = <-done, true
		}
		return err
	}}
	dt.t.Cleanup(func() { m.stop() })
	return m
}

// auth sends an authentication event keyed by its host, as collect does.
func (dt *detectTest) auth(id, host, ip, user, outcome string, at time.Time) {
	dt.t.Helper()
	e := event.Event{"event.dataset": "system.auth", "event.action": "ssh_login", "event.outcome": outcome,
		"event.category": []any{"authentication"}, "user.name": user, "source.ip": ip, "host.name": host, "vigil.event_id": id}
	e.SetTime(at)
	b, err := event.Marshal(e)
	if err != nil {
		dt.t.Fatal(err)
	}
	if err := dt.sys.Producer.Send(dt.ctx, []bus.Message{{Topic: bus.TopicEvents, Key: []byte(host), Value: b}}); err != nil {
		dt.t.Fatal(err)
	}
	dt.sent++
}

// waitDetected waits until detect handled every event sent so far (and
// their re-keyed copies) since the counter was last at base.
func (dt *detectTest) waitDetected(base int64) {
	dt.t.Helper()
	waitFor(dt.t, dt.ctx, "events not detected", nil, func() bool { return dt.sys.Progress.DetectIn.Load()-base >= int64(dt.sent) })
}

// counter sums a counter of the system's metrics over the series whose
// labels include want.
func (dt *detectTest) counter(name string, want map[string]string) float64 {
	dt.t.Helper()
	mfs, err := dt.sys.Metrics.Registry.Gather()
	if err != nil {
		dt.t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == k && l.GetValue() == v
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// checkpointedAll says whether the checkpoint of every partition of
// vigil.events and vigil.detect.rekey covers all of its records.
func (dt *detectTest) checkpointedAll() bool {
	dt.t.Helper()
	st, err := newStateStore(dt.sys.Bus)
	if err != nil {
		dt.t.Fatal(err)
	}
	defer st.close()
	parts := make([]int32, dt.sys.Bus.Partitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	for _, topic := range []string{bus.TopicEvents, bus.TopicRekey} {
		recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, topic, parts)
		if err != nil {
			dt.t.Fatal(err)
		}
		end := map[bus.TopicPartition]int64{}
		for _, r := range recs {
			tp := bus.TopicPartition{Topic: topic, Partition: r.Partition}
			end[tp] = max(end[tp], r.Offset+1)
		}
		var tps []bus.TopicPartition
		for tp := range end {
			tps = append(tps, tp)
		}
		saved, err := st.read(dt.ctx, tps)
		if err != nil {
			dt.t.Fatal(err)
		}
		for tp, next := range end {
			if saved[tp] == nil || saved[tp].meta.Next < next {
				return false
			}
		}
	}
	return true
}

// alerts reads every alert on vigil.alerts so far: rule id → alert ids →
// the alert's event ids.
func (dt *detectTest) alerts() map[string]map[string]string {
	dt.t.Helper()
	parts := make([]int32, dt.sys.Bus.Partitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicAlerts, parts)
	if err != nil {
		dt.t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range recs {
		var a rules.Alert
		if err := json.Unmarshal(r.Value, &a); err != nil {
			dt.t.Fatal(err)
		}
		var ids []string
		for _, ev := range a.Vigil.Alert.Events {
			ids = append(ids, ev.ID())
		}
		if out[a.Rule.ID] == nil {
			out[a.Rule.ID] = map[string]string{}
		}
		out[a.Rule.ID][a.Vigil.Alert.ID] = strings.Join(ids, " ")
	}
	return out
}

// waitAlerts waits until the rules have raised the alerts (rule id →
// sorted event id lists of its alerts), then checks that no other alert
// id exists for them.
func (dt *detectTest) waitAlerts(want map[string][]string) {
	dt.t.Helper()
	var got map[string][]string
	ok := func() bool {
		got = map[string][]string{}
		for rule, byID := range dt.alerts() {
			for _, evs := range byID {
				got[rule] = append(got[rule], evs)
			}
			sort.Strings(got[rule])
		}
		for rule, evs := range want {
			if len(got[rule]) < len(evs) {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(dt.ctx, 30*time.Second)
	defer cancel()
	for !ok() {
		select {
		case <-ctx.Done():
			dt.t.Fatalf("alerts by rule (events of each alert id) = %v, want %v", got, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for rule, evs := range want {
		sort.Strings(evs)
		if strings.Join(got[rule], " | ") != strings.Join(evs, " | ") {
			dt.t.Errorf("rule %s: alerts with events %q, want %q (one alert id each)", rule, got[rule], evs)
		}
	}
}

func TestDetectResumesAnOpenSequenceAfterARestart(t *testing.T) {
	for _, c := range []struct {
		name string
		// crash stops without a last checkpoint; waitCheckpoint waits for
		// a periodic one first.
		crash, waitCheckpoint bool
		interval              time.Duration
		// replayed is how many events of the first half are evaluated
		// again after the restart.
		replayed int
	}{
		{name: "stopped", interval: time.Hour, replayed: 0},
		{name: "crashed after a checkpoint", crash: true, waitCheckpoint: true, interval: 100 * time.Millisecond, replayed: 0},
		{name: "crashed before any checkpoint", crash: true, interval: time.Hour, replayed: 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			dt := newDetectTest(t, 3, map[string]string{"seq.yaml": seqRules}, func(cfg *config.Config) {
				cfg.Detect.CheckpointInterval = config.Duration(c.interval)
			})
			m := dt.start(detectOptions{crash: c.crash})
			base := dt.sys.Progress.DetectIn.Load()
			dt.auth("e1", "h1", "198.51.100.7", "root", "failure", t0)
			dt.auth("e2", "h3", "198.51.100.9", "admin", "failure", t0.Add(time.Minute))
			dt.waitDetected(base)
			if c.waitCheckpoint {
				waitFor(t, dt.ctx, "no checkpoint of everything detected", nil, dt.checkpointedAll)
			}
			if err := m.stop(); err != nil {
				t.Fatal(err)
			}
			if got := dt.alerts(); len(got) != 0 {
				t.Fatalf("alerts before the second half: %v", got)
			}
			evaluated := dt.counter("vigil_detect_rule_evaluations_total", nil)
			dt.start(detectOptions{})
			// The second half: the success on another host completes the
			// address's sequence, the one on h3 the host's.
			dt.auth("e3", "h2", "198.51.100.7", "root", "success", t0.Add(2*time.Minute))
			dt.auth("e4", "h3", "203.0.113.5", "admin", "success", t0.Add(3*time.Minute))
			dt.waitAlerts(map[string][]string{
				"test.seq.ip":   {"e1 e3"},
				"test.seq.host": {"e2 e4"},
			})
			// At most the first half is replayed: a partition revoked in
			// a rebalance while the first member ran (the group changes as
			// the re-key topic's partitions appear) is checkpointed then,
			// and not replayed, even when the member later crashes.
			if n := dt.counter("vigil_detect_rule_evaluations_total", nil) - evaluated; n < 2 || n > float64(2+c.replayed) || (!c.crash && n != 2) {
				t.Errorf("%v events evaluated after the restart, want the 2 new ones and at most %d replayed", n, c.replayed)
			}
		})
	}
}

// TestDetectKeepsBufferedEventsAcrossACrash: with an allowed lateness,
// events wait in the engines' reorder buffers; a crash after they were
// checkpointed there loses none of them and replays nothing.
func TestDetectKeepsBufferedEventsAcrossACrash(t *testing.T) {
	dt := newDetectTest(t, 3, map[string]string{"seq.yaml": seqRules}, func(cfg *config.Config) {
		cfg.Detect.AllowedLateness = config.Duration(5 * time.Minute)
	})
	m := dt.start(detectOptions{crash: true})
	base := dt.sys.Progress.DetectIn.Load()
	dt.auth("e1", "h1", "198.51.100.7", "root", "failure", t0)
	dt.auth("e2", "h1", "198.51.100.8", "root", "success", t0.Add(time.Minute))
	dt.waitDetected(base)
	waitFor(t, dt.ctx, "no checkpoint of everything detected", nil, dt.checkpointedAll)
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	evaluated := dt.counter("vigil_detect_rule_evaluations_total", nil)
	dt.start(detectOptions{})
	// Later events move the watermarks of the host's partition and of the
	// address's re-key partition past the buffered ones.
	dt.auth("e3", "h2", "198.51.100.7", "root", "success", t0.Add(2*time.Minute))
	dt.auth("e4", "h1", "198.51.100.7", "root", "logout", t0.Add(20*time.Minute))
	dt.waitAlerts(map[string][]string{
		"test.seq.host": {"e1 e2"},
		"test.seq.ip":   {"e1 e3"},
	})
	if n := dt.counter("vigil_detect_rule_evaluations_total", nil) - evaluated; n != 2 {
		t.Errorf("%v events evaluated after the restart, want the 2 new ones", n)
	}
}

func TestDetectThresholdKeyedByAddressAcrossHosts(t *testing.T) {
	spray := `id: test.spray
name: Failures from one address on many hosts
kind: threshold
severity: high
by: [source.ip]
condition: event.outcome == "failure"
threshold: {window: 10m, gte: 6}
`
	dt := newDetectTest(t, 3, map[string]string{"spray.yaml": spray}, nil)
	dt.start(detectOptions{})
	for i := range 6 {
		host := fmt.Sprintf("web-%02d", i+1)
		dt.auth(fmt.Sprintf("a%d", i), host, "192.0.2.66", "root", "failure", t0.Add(time.Duration(i)*time.Second))
		if i < 5 { // another address fails only five times
			dt.auth(fmt.Sprintf("b%d", i), host, "192.0.2.77", "root", "failure", t0.Add(time.Duration(i)*time.Second))
		}
	}
	events, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicEvents, []int32{0, 1, 2})
	if err != nil {
		t.Fatal(err)
	}
	parts := map[int32]bool{}
	for _, r := range events {
		parts[r.Partition] = true
	}
	if len(parts) < 2 {
		t.Fatalf("the hosts' events are all on one partition: the test proves nothing")
	}
	dt.waitAlerts(map[string][]string{"test.spray": {"a0 a1 a2 a3 a4 a5"}})
}

func TestDetectRebalanceBetweenTwoMembersMidSequence(t *testing.T) {
	dt := newDetectTest(t, 3, map[string]string{"seq.yaml": seqRules}, nil)
	a := dt.start(detectOptions{stage: "detect-a"})
	base := dt.sys.Progress.DetectIn.Load()
	const keys = 6
	for i := range keys {
		dt.auth(fmt.Sprintf("f%d", i), fmt.Sprintf("h%d", i), fmt.Sprintf("198.51.100.%d", i), "root", "failure", t0.Add(time.Duration(i)*time.Second))
	}
	dt.waitDetected(base)
	// A second member joins: the partitions are shared between the two.
	dt.start(detectOptions{stage: "detect-b"})
	assigned := func(stage string) int {
		dt.sys.mu.Lock()
		defer dt.sys.mu.Unlock()
		if c := dt.sys.consumers[stage]; c != nil {
			n, _ := c.Assigned()
			return n
		}
		return 0
	}
	waitFor(t, dt.ctx, "the second member got no partition", nil, func() bool { return assigned("detect-b") > 0 && assigned("detect-a") > 0 })
	second := func(i int) {
		// One success on the host, one from the address on another host.
		// Times rise in the order sent: a partition's events are in order.
		at := t0.Add(time.Minute + time.Duration(2*i)*time.Second)
		dt.auth(fmt.Sprintf("s%d", i), fmt.Sprintf("h%d", i), "203.0.113.1", "root", "success", at)
		dt.auth(fmt.Sprintf("t%d", i), fmt.Sprintf("g%d", i), fmt.Sprintf("198.51.100.%d", i), "root", "success", at.Add(time.Second))
	}
	for i := range keys / 2 {
		second(i)
	}
	// The first member leaves: everything moves to the second.
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	for i := keys / 2; i < keys; i++ {
		second(i)
	}
	want := map[string][]string{}
	for i := range keys {
		want["test.seq.host"] = append(want["test.seq.host"], fmt.Sprintf("f%d s%d", i, i))
		want["test.seq.ip"] = append(want["test.seq.ip"], fmt.Sprintf("f%d t%d", i, i))
	}
	dt.waitAlerts(want)
}

func TestDetectWatchesRuleFiles(t *testing.T) {
	match := func(user string) string {
		return fmt.Sprintf("id: test.login\nname: Login of %[1]s\nkind: match\nseverity: low\ncondition: event.outcome == \"success\" && user.name == %[1]q\nby: [user.name]\n", user)
	}
	dt := newDetectTest(t, 2, map[string]string{"seq.yaml": seqRules, "login.yaml": match("alice")}, func(cfg *config.Config) {
		cfg.Detect.WatchInterval = config.Duration(50 * time.Millisecond)
	})
	dt.start(detectOptions{})
	base := dt.sys.Progress.DetectIn.Load()
	dt.auth("e1", "h1", "198.51.100.7", "bob", "failure", t0)
	dt.waitDetected(base)
	if err := os.WriteFile(filepath.Join(dt.rulesDir, "login.yaml"), []byte(match("bob")), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, dt.ctx, "the edited rule file was not reloaded", nil, func() bool {
		return dt.counter("vigil_detect_rule_reloads_total", map[string]string{"result": "ok"}) >= 1
	})
	dt.auth("e2", "h1", "198.51.100.7", "bob", "success", t0.Add(time.Minute))
	dt.waitAlerts(map[string][]string{
		"test.login":    {"e2"},    // the edited rule
		"test.seq.host": {"e1 e2"}, // open before the reload, kept
		"test.seq.ip":   {"e1 e2"},
	})
}

func TestPartitionFields(t *testing.T) {
	for _, c := range []struct {
		name string
		rule string
		want string // fields, or "local"
	}{
		{"match without suppress", "kind: match\ncondition: 'true'\nby: [source.ip]", "local"},
		{"threshold by the events key", "kind: threshold\nby: [host.name, user.name]\nthreshold: {window: 1m, gte: 2}", "local"},
		{"threshold by an address", "kind: threshold\nby: [source.ip]\nthreshold: {window: 1m, gte: 2}", "source.ip"},
		{"threshold without key", "kind: threshold\nthreshold: {window: 1m, gte: 2}", ""},
		{"suppress by an address", "kind: match\ncondition: 'true'\nsuppress: {by: [source.ip, destination.ip], for: 1h}", "source.ip"},
		{"suppress by the events key", "kind: match\ncondition: 'true'\nsuppress: {by: [host.name, process.pid], for: 1h}", "local"},
		{"keyed by host, suppressed by address", "kind: threshold\nby: [host.name, source.ip]\nthreshold: {window: 1m, gte: 2}\nsuppress: {by: [source.ip], for: 1h}", "source.ip"},
		{"sequence joined by step keys", "kind: sequence\nmaxspan: 1h\nsteps:\n  - {condition: 'true', by: [user.target.name]}\n  - {condition: 'true', by: [user.name]}", "user.name,user.target.name"},
		{"sequence by the events key and step keys", "kind: sequence\nby: [host.name]\nmaxspan: 1h\nsteps:\n  - {condition: 'true', by: [user.target.name]}\n  - {condition: 'true', by: [user.name]}", "local"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs, errs := rules.Parse("r.yaml", []byte("id: r\nname: r\nseverity: low\n"+c.rule+"\n"))
			if len(errs) > 0 || len(cs) != 1 {
				t.Fatalf("rule does not load: %v", errs)
			}
			fields, local := partitionFields(cs[0].Rule, "host.name")
			got := strings.Join(fields, ",")
			if local {
				got = "local"
			}
			if got != c.want {
				t.Errorf("partition fields %q, want %q", got, c.want)
			}
		})
	}
}

func TestRuleFilesStateSeesChanges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "id: a")
	write("notes.txt", "x")
	before := ruleFilesState([]string{dir})
	for _, c := range []struct {
		name   string
		change func()
		seen   bool
	}{
		{"a file that is not a rule file", func() { write("notes.txt", "longer text") }, false},
		{"a rule file added", func() { write("b.yml", "id: b") }, true},
		{"a rule file edited", func() { write("a.yaml", "id: a2") }, true},
		{"a rule file removed", func() { os.Remove(filepath.Join(dir, "b.yml")) }, true},
	} {
		c.change()
		after := ruleFilesState([]string{dir})
		if (after != before) != c.seen {
			t.Errorf("%s: seen %v, want %v", c.name, after != before, c.seen)
		}
		before = after
	}
}

func TestStateStoreChunksAndTombstones(t *testing.T) {
	dt := newDetectTest(t, 2, map[string]string{"seq.yaml": seqRules}, nil)
	st, err := newStateStore(dt.sys.Bus)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	tp := bus.TopicPartition{Topic: bus.TopicEvents, Partition: 1}
	big := []byte(strings.Repeat("0123456789", 70000)) // 700 kB: three chunks
	small := []byte(`{"version":1}`)
	live, _, err := st.write(dt.ctx, tp, stateMeta{Next: 42}, []engineState{{id: "", recs: []rules.StateRecord{{Key: "engine", Value: small}, {Key: "rule/x", Value: big}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 4 {
		t.Fatalf("%d chunks written, want 1 + 3", len(live))
	}
	got, err := st.read(dt.ctx, []bus.TopicPartition{tp, {Topic: bus.TopicRekey, Partition: 1}})
	if err != nil {
		t.Fatal(err)
	}
	r := got[tp]
	if r == nil || r.meta.Next != 42 || len(r.engines[""]) != 2 || string(r.engines[""][1].Value) != string(big) || len(r.errs) > 0 {
		t.Fatalf("read back: %+v", r)
	}
	if got[bus.TopicPartition{Topic: bus.TopicRekey, Partition: 1}] != nil {
		t.Fatal("a checkpoint for a partition never written")
	}
	// The big record changes: its old chunks are tombstoned, the small
	// one is not written again.
	live2, size, err := st.write(dt.ctx, tp, stateMeta{Next: 50}, []engineState{{id: "", recs: []rules.StateRecord{{Key: "engine", Value: small}, {Key: "rule/x", Value: big[:10]}}}}, live)
	if err != nil {
		t.Fatal(err)
	}
	if len(live2) != 2 || size > 1000 {
		t.Fatalf("%d live chunks, %d bytes written: want 2 chunks, the unchanged one not rewritten", len(live2), size)
	}
	recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicState, []int32{st.partitionOf(tp)})
	if err != nil {
		t.Fatal(err)
	}
	tombstones := 0
	for _, rec := range recs {
		if rec.Value == nil {
			tombstones++
		}
	}
	if tombstones != 3 {
		t.Errorf("%d tombstones, want the 3 chunks of the old record", tombstones)
	}
	got, err = st.read(dt.ctx, []bus.TopicPartition{tp})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[tp]; r == nil || r.meta.Next != 50 || string(r.engines[""][1].Value) != "0123456789" {
		t.Fatalf("second checkpoint read back: %+v", r)
	}
}

// BenchmarkDetectStage measures the detect stage over the demo auth.log
// (repeated) already on vigil.events: enrichment, the built-in pack, the
// re-key topic and checkpoints, in events/s, with the stage's heap floor
// (VIGIL_DETECT_HEAP_FLOOR_MB=0: Go's default GC). "local" runs every
// rule where the events are (no re-keying, one member only), for
// comparison.
func BenchmarkDetectStage(b *testing.B) {
	cfg, err := config.Load("")
	if err != nil {
		b.Fatal(err)
	}
	defer gcfloor.Start(cfg.Detect.HeapFloorBytes(), 100)()
	for _, c := range []struct {
		name     string
		allLocal bool
	}{{"rekeyed", false}, {"local", true}} {
		b.Run(c.name, func(b *testing.B) {
			path, lines := benchLog(b, 20_000)
			events := 0
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				sys := benchSystem(b, path)
				ctx, cancel := context.WithCancel(context.Background())
				if err := sys.RunCollect(ctx); err != nil {
					b.Fatal(err)
				}
				want := sys.Progress.Collected.Load()
				b.StartTimer()
				done := make(chan error, 1)
				go func() { done <- sys.runDetect(ctx, detectOptions{allLocal: c.allLocal}) }()
				for sys.Progress.DetectIn.Load() < want {
					select {
					case err := <-done:
						b.Fatal(err)
					case <-time.After(5 * time.Millisecond):
					}
				}
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				events += int(want)
				b.StartTimer()
			}
			_ = lines
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// FuzzParseSource: the source header of a re-key record is read back
// from Kafka, where anyone with access may have written it.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"0/0", "2/1234567", "1/", "/5", "x/y", "-1/-2", "3/9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		part, off, ok := parseSource(h)
		if !ok {
			return
		}
		// What it read is what the detect stage would have written.
		if p2, o2, ok2 := parseSource(fmt.Sprintf("%d/%d", part, off)); !ok2 || p2 != part || o2 != off {
			t.Errorf("parseSource(%q) = %d/%d, which does not read back", h, part, off)
		}
	})
}
