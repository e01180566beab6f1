package pipeline

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/vigil-siem/vigil/bus"
	"github.com/vigil-siem/vigil/config"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// scannerRule is the shape of the pack's vigil.web.scanner_user_agent: a
// match rule suppressed by an address that is not the events' key, so it
// runs on the re-key topic.
const scannerRule = `id: test.scanner
name: Scanner user agent
kind: match
severity: medium
where: event.dataset == "apache.access"
condition: user_agent.original contains "Nikto"
by: [source.ip]
suppress: {by: [source.ip], for: 1h}
`

// scannerGroup is the re-key group scannerRule runs in.
const scannerGroup = "source.ip"

// webEvent is an access log event from ip; a Nikto user agent when scan.
func webEvent(id, ip string, scan bool, at time.Time) event.Event {
	ua := "Mozilla/5.0 (X11; Linux x86_64)"
	if scan {
		ua = "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)"
	}
	e := event.Event{"event.dataset": "apache.access", "event.category": []any{"web"}, "source.ip": ip,
		"url.original": "/admin/backup.zip", "http.response.status_code": int64(404), "user_agent.original": ua,
		"vigil.event_id": id}
	e.SetTime(at)
	return e
}

// rekeyCopy is an event copied to the re-key topic from a vigil.events
// partition and offset, as the detect stage writes it.
type rekeyCopy struct {
	src    int32
	offset int64
	ev     event.Event
}

// sendRekeyed writes copies to vigil.detect.rekey in the order given and
// returns the partition they went to (they share a key) and its end.
func (dt *detectTest) sendRekeyed(key string, copies []rekeyCopy) (bus.TopicPartition, int64) {
	dt.t.Helper()
	var msgs []bus.Message
	for _, c := range copies {
		v, err := dt.sys.Wire.Encode(bus.TopicRekey, c.ev)
		if err != nil {
			dt.t.Fatal(err)
		}
		msgs = append(msgs, bus.Message{Topic: bus.TopicRekey, Key: []byte(key), Value: v, Headers: map[string]string{
			headerRekeyGroup: scannerGroup, headerRekeySource: fmt.Sprintf("%d/%d", c.src, c.offset)}})
	}
	if err := dt.sys.Producer.Send(dt.ctx, msgs); err != nil {
		dt.t.Fatal(err)
	}
	parts := make([]int32, dt.sys.Bus.Partitions)
	for i := range parts {
		parts[i] = int32(i)
	}
	recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicRekey, parts)
	if err != nil {
		dt.t.Fatal(err)
	}
	var tp bus.TopicPartition
	var end int64
	for _, r := range recs {
		if string(r.Key) == key {
			tp, end = bus.TopicPartition{Topic: bus.TopicRekey, Partition: r.Partition}, max(end, r.Offset+1)
		}
	}
	return tp, end
}

// waitCommitted waits until the detect stage named stage committed tp up
// to end: everything before end was handled and its output acknowledged.
func (dt *detectTest) waitCommitted(stage string, tp bus.TopicPartition, end int64) {
	dt.t.Helper()
	waitFor(dt.t, dt.ctx, fmt.Sprintf("%s not committed up to %d", tp, end), nil, func() bool {
		dt.sys.mu.Lock()
		c := dt.sys.consumers[stage]
		dt.sys.mu.Unlock()
		if c == nil {
			return false
		}
		got, err := c.Committed([]bus.TopicPartition{tp}, 5*time.Second)
		return err == nil && got[tp] >= end
	})
}

// scannerAlerts returns the alert ids of test.scanner with their events.
func (dt *detectTest) scannerAlerts() []string {
	var out []string
	for id, evs := range dt.alerts()["test.scanner"] {
		out = append(out, id+" ("+evs+")")
	}
	sort.Strings(out)
	return out
}

// TestDetectRekeyedSuppressionSameForEveryInterleaving is the chaos
// test's duplicate alert (issue #8), made deterministic: a re-key
// partition takes the copies of two vigil.events partitions, and after a
// restart one of them may be replayed far ahead of the other (here: to a
// record two hours later in event time). Whatever the interleaving, the
// suppressed scanner gets the one alert of its first event, as `vigil
// scan` of the same events gives.
func TestDetectRekeyedSuppressionSameForEveryInterleaving(t *testing.T) {
	const ip = "100.64.0.9"
	// Both sources were heard from before (a restored checkpoint knows
	// them): each has an earlier, benign request from the address.
	b0 := rekeyCopy{0, 10, webEvent("b0", ip, false, t0.Add(-time.Minute))}
	b1 := rekeyCopy{1, 20, webEvent("b1", ip, false, t0.Add(-time.Minute))}
	// Source 0: the scan's first request, then a request two hours later
	// (what moves event time on, as the chaos test's last lines do).
	e1 := rekeyCopy{0, 11, webEvent("e1", ip, true, t0)}
	p0 := rekeyCopy{0, 12, webEvent("p0", ip, false, t0.Add(2*time.Hour+15*time.Minute))}
	// Source 1: the scan's later request, inside the suppression window.
	e2 := rekeyCopy{1, 21, webEvent("e2", ip, true, t0.Add(30*time.Minute))}
	p1 := rekeyCopy{1, 22, webEvent("p1", ip, false, t0.Add(2*time.Hour+16*time.Minute))}

	// The oracle: the rule over the events in event-time order, as scan.
	cs, errs := rules.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(scannerRule)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	oracle := rules.NewEngine(cs, rules.EngineConfig{})
	var want []string
	ordered := []rekeyCopy{b0, b1, e1, e2, p0, p1}
	for _, c := range ordered {
		for _, a := range oracle.Process(c.ev.Clone()) {
			want = append(want, a.Vigil.Alert.ID)
		}
	}
	for _, a := range oracle.Flush() {
		want = append(want, a.Vigil.Alert.ID)
	}
	if len(want) == 0 || want[0] != rules.AlertID("test.scanner", []event.Event{e1.ev}) {
		t.Fatalf("oracle alerts %v: want the alert of e1 (and its update)", want)
	}
	wantSet := []string{want[0] + " (e1)"}

	for _, c := range []struct {
		name  string
		order []rekeyCopy
	}{
		{"in event time", []rekeyCopy{b0, b1, e1, e2, p0, p1}},
		{"first source replayed ahead", []rekeyCopy{b0, b1, e1, p0, e2, p1}},
		{"second source replayed ahead", []rekeyCopy{b0, b1, e2, p1, e1, p0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dt := newDetectTest(t, 3, map[string]string{"scanner.yaml": scannerRule}, func(cfg *config.Config) {
				cfg.Detect.AllowedLateness = config.Duration(10 * time.Minute)
			})
			tp, end := dt.sendRekeyed(ip, c.order)
			dt.start(detectOptions{})
			dt.waitCommitted("detect", tp, end)
			if got := dt.scannerAlerts(); strings.Join(got, ", ") != strings.Join(wantSet, ", ") {
				t.Errorf("alerts %v, want %v", got, wantSet)
			}
		})
	}
}

// interleavings returns every merge of the sources' sequences that keeps
// each source's own order.
func interleavings(srcs [][]rekeyCopy) [][]rekeyCopy {
	var out [][]rekeyCopy
	var walk func(pos []int, acc []rekeyCopy)
	walk = func(pos []int, acc []rekeyCopy) {
		done := true
		for i, s := range srcs {
			if pos[i] == len(s) {
				continue
			}
			done = false
			next := append([]int(nil), pos...)
			next[i]++
			walk(next, append(append([]rekeyCopy(nil), acc...), s[pos[i]]))
		}
		if done {
			out = append(out, acc)
		}
	}
	walk(make([]int, len(srcs)), nil)
	return out
}

// finalAlerts runs alert ids through to their last suppressed count.
func finalAlerts(as []rules.Alert, into map[string]int) {
	for _, a := range as {
		into[a.Vigil.Alert.ID] = a.Vigil.Alert.SuppressedCount
	}
}

// TestRekeyMergeEveryInterleavingGivesScansAlerts feeds every
// interleaving of two sources' copies to an engine with an allowed
// lateness, through the merge and, for comparison, directly: through the
// merge, each gives the alerts (ids and final suppressed counts) of the
// events in event-time order; directly, some do not (what the chaos test
// saw). Both sources were heard from first (b0, b1), as a restored
// checkpoint knows them: a source never heard from cannot be waited for.
func TestRekeyMergeEveryInterleavingGivesScansAlerts(t *testing.T) {
	const ip = "100.64.0.9"
	known := []rekeyCopy{
		{0, 10, webEvent("b0", ip, false, t0.Add(-time.Minute))},
		{1, 20, webEvent("b1", ip, false, t0.Add(-time.Minute))},
	}
	src0 := []rekeyCopy{
		{0, 11, webEvent("e1", ip, true, t0)},
		{0, 12, webEvent("p0", ip, false, t0.Add(2*time.Hour+15*time.Minute))},
	}
	src1 := []rekeyCopy{
		{1, 21, webEvent("e2", ip, true, t0.Add(30*time.Minute))},
		{1, 22, webEvent("e3", ip, true, t0.Add(90*time.Minute))}, // a second window
		{1, 23, webEvent("p1", ip, false, t0.Add(2*time.Hour+16*time.Minute))},
	}
	cs, errs := rules.LoadFS(fstest.MapFS{"s.yaml": {Data: []byte(scannerRule)}}, ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	ordered := append(append(append([]rekeyCopy(nil), known...), src0...), src1...)
	sort.SliceStable(ordered, func(i, j int) bool {
		a, _ := ordered[i].ev.Time()
		b, _ := ordered[j].ev.Time()
		return a.Before(b)
	})
	oracle := rules.NewEngine(cs, rules.EngineConfig{})
	want := map[string]int{}
	for _, c := range ordered {
		finalAlerts(oracle.Process(c.ev.Clone()), want)
	}
	finalAlerts(oracle.Flush(), want)
	if len(want) != 2 {
		t.Fatalf("oracle: %v, want the alerts of e1 and e3", want)
	}
	const lateness = 10 * time.Minute
	now := time.Now()
	directWrong := 0
	all := interleavings([][]rekeyCopy{src0, src1})
	for _, rest := range all {
		order := append(append([]rekeyCopy(nil), known...), rest...)
		var names []string
		for _, c := range order {
			names = append(names, c.ev.ID())
		}
		merged := rules.NewEngine(cs, rules.EngineConfig{AllowedLateness: lateness})
		direct := rules.NewEngine(cs, rules.EngineConfig{AllowedLateness: lateness})
		m := newRekeyMerge()
		got, gotDirect := map[string]int{}, map[string]int{}
		for _, c := range order {
			finalAlerts(direct.Process(c.ev.Clone()), gotDirect)
			if !m.add(scannerGroup, c.src, c.ev.Clone(), now) {
				t.Fatalf("%s has a time but was not held", c.ev.ID())
			}
			for _, h := range m.release(now, time.Hour, false) {
				finalAlerts(merged.Process(h.ev), got)
			}
		}
		for _, h := range m.release(now, time.Hour, true) {
			finalAlerts(merged.Process(h.ev), got)
		}
		finalAlerts(merged.Flush(), got)
		finalAlerts(direct.Flush(), gotDirect)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("order %v: alerts (id: suppressed count) %v, want %v", names, got, want)
		}
		if fmt.Sprint(gotDirect) != fmt.Sprint(want) {
			directWrong++
		}
	}
	t.Logf("%d interleavings; without the merge %d of them give other alerts", len(all), directWrong)
	if directWrong == 0 {
		t.Errorf("no interleaving gives other alerts without the merge: the test proves nothing")
	}
}

// TestRekeyMergeBoundAndIdleSources: copies wait for the slowest active
// source, not for one that has been quiet for the idle time, and every
// copy waits only while some source is behind it.
func TestRekeyMergeBoundAndIdleSources(t *testing.T) {
	now := time.Now()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	ev := func(id string, m int) event.Event { return webEvent(id, "192.0.2.1", false, at(m)) }
	for _, c := range []struct {
		name string
		add  []rekeyCopy // all at now, except source 2's, idle seconds earlier
		idle time.Duration
		want []string // released after the last add, at now
	}{
		{"one source: nothing waits", []rekeyCopy{{0, 1, ev("a", 1)}, {0, 2, ev("b", 3)}}, time.Minute, []string{"a", "b"}},
		{"the slower source bounds", []rekeyCopy{{0, 1, ev("a", 1)}, {0, 2, ev("b", 5)}, {1, 1, ev("c", 3)}}, time.Minute, []string{"a", "c"}},
		{"equal times in arrival order", []rekeyCopy{{0, 1, ev("a", 2)}, {1, 1, ev("b", 2)}, {0, 2, ev("c", 2)}}, time.Minute, []string{"a", "b", "c"}},
		{"a quiet source is not waited for", []rekeyCopy{{2, 1, ev("q", 0)}, {0, 1, ev("a", 1)}, {0, 2, ev("b", 5)}}, 2 * time.Second, []string{"q", "a", "b"}},
		{"a source quiet for less than idle is", []rekeyCopy{{2, 1, ev("q", 0)}, {0, 1, ev("a", 1)}, {0, 2, ev("b", 5)}}, time.Minute, []string{"q"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newRekeyMerge()
			var got []string
			for _, rc := range c.add {
				when := now
				if rc.src == 2 {
					when = now.Add(-10 * time.Second)
				}
				m.add(scannerGroup, rc.src, rc.ev, when)
				if rc.src == 2 {
					continue // released with the others below
				}
			}
			for _, h := range m.release(now, c.idle, false) {
				got = append(got, h.ev.ID())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("released %v, want %v", got, c.want)
			}
			// Every source idle: nothing is waited for.
			for _, h := range m.release(now.Add(time.Hour), c.idle, false) {
				got = append(got, h.ev.ID())
			}
			if len(got) != len(c.add) || len(m.held) != 0 {
				t.Errorf("after every source went idle, released %v of %d copies", got, len(c.add))
			}
		})
	}
}

// TestDetectKeepsMergedEventsAcrossACrash: copies waiting in a re-key
// partition's merge for a slower source are in its checkpoint; a crash
// after it loses none of them, and the slower source's copies written
// after the restart still come before them.
func TestDetectKeepsMergedEventsAcrossACrash(t *testing.T) {
	const ip = "100.64.0.10"
	dt := newDetectTest(t, 3, map[string]string{"scanner.yaml": scannerRule}, func(cfg *config.Config) {
		cfg.Detect.AllowedLateness = config.Duration(10 * time.Minute)
	})
	first := []rekeyCopy{
		{0, 10, webEvent("b0", ip, false, t0.Add(-time.Minute))},
		{1, 20, webEvent("b1", ip, false, t0.Add(-time.Minute))},
		{0, 11, webEvent("e1", ip, true, t0)},
		{0, 12, webEvent("p0", ip, false, t0.Add(2*time.Hour+15*time.Minute))},
	}
	tp, end := dt.sendRekeyed(ip, first)
	m := dt.start(detectOptions{crash: true, idle: time.Hour})
	dt.waitCommitted("detect", tp, end)
	waitFor(t, dt.ctx, "no checkpoint of everything detected", nil, dt.checkpointedAll)
	if err := m.stop(); err != nil {
		t.Fatal(err)
	}
	if got := dt.scannerAlerts(); len(got) != 0 {
		t.Fatalf("alerts while source 1 is behind: %v", got)
	}
	tp, end = dt.sendRekeyed(ip, []rekeyCopy{
		{1, 21, webEvent("e2", ip, true, t0.Add(30*time.Minute))},
		{1, 22, webEvent("p1", ip, false, t0.Add(2*time.Hour+16*time.Minute))},
	})
	dt.start(detectOptions{idle: time.Hour})
	dt.waitCommitted("detect", tp, end)
	want := rules.AlertID("test.scanner", []event.Event{first[2].ev}) + " (e1)"
	if got := dt.scannerAlerts(); strings.Join(got, ", ") != want {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

// TestDetectReleasesMergedEventsOfAnIdleSource: a source that sends
// nothing more is waited for only the idle time; then what waited for it
// is evaluated, without another record coming.
func TestDetectReleasesMergedEventsOfAnIdleSource(t *testing.T) {
	const ip = "100.64.0.11"
	dt := newDetectTest(t, 3, map[string]string{"scanner.yaml": scannerRule}, func(cfg *config.Config) {
		cfg.Detect.AllowedLateness = config.Duration(10 * time.Minute)
	})
	copies := []rekeyCopy{
		{0, 10, webEvent("b0", ip, false, t0.Add(-time.Minute))},
		{1, 20, webEvent("b1", ip, false, t0.Add(-time.Minute))},
		{0, 11, webEvent("e1", ip, true, t0)},
		{0, 12, webEvent("e2", ip, true, t0.Add(time.Minute))},
		{0, 13, webEvent("p0", ip, false, t0.Add(2*time.Hour))},
	}
	dt.sendRekeyed(ip, copies)
	dt.start(detectOptions{idle: 300 * time.Millisecond})
	// e1 opens the window, e2 is suppressed; p0 closes it: the alert
	// again, with its count.
	id := rules.AlertID("test.scanner", []event.Event{copies[2].ev})
	waitFor(t, dt.ctx, "the events waiting for the idle source were not evaluated", nil, func() bool {
		return len(dt.alerts()["test.scanner"]) > 0 && dt.counter("vigil_detect_alerts_total", map[string]string{"rule": "test.scanner"}) >= 2
	})
	if got := dt.scannerAlerts(); strings.Join(got, ", ") != id+" (e1)" {
		t.Errorf("alerts %v, want the one of e1", got)
	}
}

// TestDetectStartsOverAfterACorruptCheckpoint: a meta record of
// vigil.state that cannot be read does not stop the detect stage on every
// restart: the partition starts with empty state at the group's committed
// offset, the record goes to the DLQ (and its metric) named in the
// reason, and the next checkpoint replaces it. A checkpoint of another
// version is intact state of another release: the stage stops, naming it.
func TestDetectStartsOverAfterACorruptCheckpoint(t *testing.T) {
	match := "id: test.login\nname: Login\nkind: match\nseverity: low\ncondition: event.outcome == \"success\"\nby: [user.name]\n"
	tp := bus.TopicPartition{Topic: bus.TopicEvents, Partition: 0}
	for _, c := range []struct {
		name string
		meta string
		exit bool // the stage stops with an error naming the record
	}{
		{name: "not JSON", meta: "{\"version\":1,\"topic\":\"vigil.ev\x00"},
		{name: "another partition's", meta: `{"version":1,"topic":"vigil.events","partition":7,"next":3,"records":[]}`},
		{name: "a negative offset", meta: `{"version":1,"topic":"vigil.events","partition":0,"next":-9,"records":[]}`},
		{name: "another version", meta: `{"version":99,"topic":"vigil.events","partition":0,"next":0,"records":[]}`, exit: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dt := newDetectTest(t, 1, map[string]string{"login.yaml": match}, nil)
			st, err := newStateStore(dt.sys.Bus)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			// An orphan chunk of the checkpoint the meta record stood for.
			orphan := chunkKey(tp, "0123abcd", 0)
			if err := st.w.Send(dt.ctx, st.partitionOf(tp), []bus.KeyValue{{Key: []byte(orphan), Value: []byte("{}")}, {Key: []byte(metaKey(tp)), Value: []byte(c.meta)}}); err != nil {
				t.Fatal(err)
			}
			dt.auth("e1", "h1", "198.51.100.7", "alice", "success", t0)
			if c.exit {
				done := make(chan error, 1)
				go func() { done <- dt.sys.runDetect(dt.ctx, detectOptions{}) }()
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), metaKey(tp)) || !strings.Contains(err.Error(), "version 99") {
						t.Errorf("detect stopped with %v, want an error naming %s and its version", err, metaKey(tp))
					}
				case <-time.After(time.Minute):
					t.Fatal("detect did not stop on a checkpoint of another version")
				}
				return
			}
			dt.start(detectOptions{})
			dt.waitAlerts(map[string][]string{"test.login": {"e1"}})
			// The DLQ holds the record, with what was wrong and where.
			var reasons []string
			waitFor(t, dt.ctx, "the corrupt checkpoint is not on the DLQ", nil, func() bool {
				recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicDLQ, []int32{0})
				if err != nil {
					t.Fatal(err)
				}
				reasons = reasons[:0]
				for _, r := range recs {
					if string(r.Key) == metaKey(tp) && string(r.Value) == c.meta && r.Headers[bus.HeaderDLQTopic] == bus.TopicState {
						reasons = append(reasons, r.Headers[bus.HeaderDLQReason])
					}
				}
				return len(reasons) > 0
			})
			if len(reasons) != 1 || !strings.Contains(reasons[0], "vigil.events[0]") || !strings.Contains(reasons[0], metaKey(tp)) {
				t.Errorf("DLQ reasons %q: want one naming the partition and the record", reasons)
			}
			if n := dt.counter("vigil_dlq_records_total", map[string]string{"stage": "detect"}); n != 1 {
				t.Errorf("vigil_dlq_records_total{stage=detect} = %v, want 1", n)
			}
			// The first checkpoint replaced the record and dropped the
			// orphan: the next start reads it.
			waitFor(t, dt.ctx, "no valid checkpoint replaced the corrupt one", nil, func() bool {
				got, err := st.read(dt.ctx, []bus.TopicPartition{tp})
				return err == nil && got[tp] != nil && got[tp].corrupt == nil && got[tp].meta.Next >= 1
			})
			recs, err := bus.ReadPartitions(dt.ctx, dt.sys.Bus, bus.TopicState, []int32{st.partitionOf(tp)})
			if err != nil {
				t.Fatal(err)
			}
			tombstoned := false
			for _, r := range recs {
				tombstoned = tombstoned || string(r.Key) == orphan && r.Value == nil
			}
			if !tombstoned {
				t.Errorf("the orphan chunk %s of the corrupt checkpoint was not tombstoned", orphan)
			}
		})
	}
}

// FuzzDecodeMeta: a checkpoint's meta record is read back from
// vigil.state, where anyone with access may have written it. What is
// accepted is for the partition it names and reads back the same.
func FuzzDecodeMeta(f *testing.F) {
	tp := bus.TopicPartition{Topic: bus.TopicRekey, Partition: 2}
	good, err := json.Marshal(stateMeta{Version: stateVersion, Topic: tp.Topic, Partition: tp.Partition, Next: 42,
		SourceHW: map[string]map[int32]int64{"source.ip": {0: 7, 1: 9}}, SourceTime: map[int32]time.Time{0: t0, 1: t0.Add(time.Minute)},
		Records: []stateRecordRef{{Engine: "source.ip", Key: "engine", Hash: "00ff", Chunks: 1}}, Written: t0})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{string(good), `{"version":1}`, `{"version":1,"topic":"vigil.detect.rekey","partition":2,"next":-2}`, `null`, `[]`, "{\"version\":1,\"topic\":\"x\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		meta, err := decodeMeta(tp, b)
		if err != nil {
			return
		}
		if meta.Topic != tp.Topic || meta.Partition != tp.Partition || meta.Version != stateVersion || meta.Next < bus.OffsetBeginning {
			t.Fatalf("accepted %+v for %s", meta, tp)
		}
		again, err := json.Marshal(meta)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeMeta(tp, again); err != nil {
			t.Fatalf("an accepted meta record does not read back: %v", err)
		}
	})
}

// FuzzRekeyMergeRestore: the merge's held copies are read back from
// vigil.state too; whatever is restored is released whole, in order.
func FuzzRekeyMergeRestore(f *testing.F) {
	m := newRekeyMerge()
	now := time.Now()
	m.add(scannerGroup, 0, webEvent("a", "192.0.2.1", true, t0.Add(time.Minute)), now)
	m.add(scannerGroup, 1, webEvent("b", "192.0.2.1", false, t0), now)
	recs, err := m.checkpoint()
	if err != nil || len(recs) != 1 {
		f.Fatalf("checkpoint: %v, %d records", err, len(recs))
	}
	for _, s := range []string{string(recs[0].Value), `{"version":1,"events":[{"group":"g","event":{}}]}`, `{"version":2}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newRekeyMerge()
		if err := m.restore([]rules.StateRecord{{Key: "held", Value: b}}); err != nil {
			return
		}
		n := len(m.held)
		out := m.release(time.Now(), time.Second, true)
		if len(out) != n || len(m.held) != 0 {
			t.Fatalf("released %d of %d restored copies", len(out), n)
		}
		for i := 1; i < len(out); i++ {
			if out[i].t.Before(out[i-1].t) {
				t.Fatalf("released out of event-time order: %v after %v", out[i].t, out[i-1].t)
			}
		}
	})
}

// BenchmarkRekeyMerge measures the merge's cost per re-keyed copy with an
// allowed lateness: three sources in step, each copy held and released.
func BenchmarkRekeyMerge(b *testing.B) {
	evs := make([]event.Event, 3000)
	for i := range evs {
		evs[i] = webEvent(strconv.Itoa(i), "192.0.2.1", false, t0.Add(time.Duration(i)*time.Millisecond))
	}
	m := newRekeyMerge()
	now := time.Now()
	n := 0
	for b.Loop() {
		for i, ev := range evs {
			m.add(scannerGroup, int32(i%3), ev, now)
			n += len(m.release(now, time.Hour, false))
		}
	}
	n += len(m.release(now, time.Hour, true))
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
