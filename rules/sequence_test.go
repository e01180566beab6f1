package rules

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// act builds an event with an action, a user, an optional target user
// and an id.
func act(id string, at time.Duration, action, user, target string) event.Event {
	e := event.Event{"event.dataset": "test", "event.action": action, "user.name": user, "host.name": "h1", "vigil.event_id": id}
	if target != "" {
		e["user.target.name"] = target
	}
	e.SetTime(t0.Add(at))
	return e
}

const seqRule = `
id: t.seq
name: A then B
kind: sequence
severity: high
where: event.dataset == "test"
by: [user.name]
maxspan: 5m
%s
steps:
  - condition: event.action == "a"
%s
  - condition: event.action == "b"
%s
`

func seqRuleWith(t testing.TB, until, stepA, stepB string) *Compiled {
	return parseRule(t, fmt.Sprintf(seqRule, until, stepA, stepB))
}

func alertIDs(as []Alert) []string {
	var out []string
	for _, a := range as {
		evs := ids(a.Vigil.Alert.Events)
		out = append(out, a.Rule.ID+":"+strings.Join(evs, ","))
	}
	return out
}

func TestSequenceSemantics(t *testing.T) {
	cases := []struct {
		name        string
		until, a, b string
		lateness    time.Duration
		evs         []event.Event
		want        []string // rule:event ids, in order
		flush       bool
	}{
		{name: "a then b within maxspan", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", time.Minute, "b", "u", "")}, want: []string{"t.seq:1,2"}},
		{name: "b exactly at maxspan fires", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", 5*time.Minute, "b", "u", "")}, want: []string{"t.seq:1,2"}},
		{name: "b a millisecond past maxspan does not", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", 5*time.Minute+time.Millisecond, "b", "u", "")}},
		{name: "b before a does not", evs: []event.Event{act("2", 0, "b", "u", ""), act("1", time.Minute, "a", "u", "")}},
		{name: "b of another key does not", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", time.Minute, "b", "v", "")}},
		{name: "equal times are ordered by arrival", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", 0, "b", "u", "")}, want: []string{"t.seq:1,2"}},
		{name: "a newer a replaces the older at the same stage", evs: []event.Event{act("1", 0, "a", "u", ""), act("3", time.Minute, "a", "u", ""), act("2", 2*time.Minute, "b", "u", "")}, want: []string{"t.seq:3,2"}},
		{name: "runs: a count of 3 needs three a", a: "    count: 3", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", time.Second, "a", "u", ""), act("9", 2*time.Second, "b", "u", "")}},
		{name: "runs: three a then b", a: "    count: 3", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", time.Second, "a", "u", ""), act("3", 2*time.Second, "a", "u", ""), act("9", 3*time.Second, "b", "u", "")}, want: []string{"t.seq:1,2,3,9"}},
		{name: "until discards the pending sequence", until: "until: {condition: event.action == \"logout\"}", evs: []event.Event{act("1", 0, "a", "u", ""), act("x", time.Minute, "logout", "u", ""), act("2", 2*time.Minute, "b", "u", "")}},
		{name: "until of another key does not", until: "until: {condition: event.action == \"logout\"}", evs: []event.Event{act("1", 0, "a", "u", ""), act("x", time.Minute, "logout", "v", ""), act("2", 2*time.Minute, "b", "u", "")}, want: []string{"t.seq:1,2"}},
		{name: "a sequence can start again after until", until: "until: {condition: event.action == \"logout\"}", evs: []event.Event{act("1", 0, "a", "u", ""), act("x", time.Minute, "logout", "u", ""), act("3", 2*time.Minute, "a", "u", ""), act("2", 3*time.Minute, "b", "u", "")}, want: []string{"t.seq:3,2"}},
		{name: "missing last step fires when the watermark passes first+maxspan", b: "    missing: true", evs: []event.Event{act("1", 0, "a", "u", ""), act("z", 5*time.Minute, "other", "w", ""), act("y", 5*time.Minute+time.Second, "other", "w", "")}, want: []string{"t.seq:1"}},
		{name: "missing last step: not before the watermark passes", b: "    missing: true", evs: []event.Event{act("1", 0, "a", "u", ""), act("z", 5*time.Minute, "other", "w", "")}},
		{name: "missing last step: its event within maxspan cancels", b: "    missing: true", evs: []event.Event{act("1", 0, "a", "u", ""), act("2", 5*time.Minute, "b", "u", ""), act("y", 6*time.Minute, "other", "w", "")}},
		{name: "missing last step: flush decides it", b: "    missing: true", flush: true, evs: []event.Event{act("1", 0, "a", "u", "")}, want: []string{"t.seq:1"}},
		{name: "out of order within lateness", lateness: time.Minute, flush: true, evs: []event.Event{act("2", 30*time.Second, "b", "u", ""), act("1", 0, "a", "u", "")}, want: []string{"t.seq:1,2"}},
		{name: "out of order without lateness", evs: []event.Event{act("2", 30*time.Second, "b", "u", ""), act("1", 0, "a", "u", "")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := seqRuleWith(t, c.until, c.a, c.b)
			e := NewEngine([]*Compiled{r}, EngineConfig{AllowedLateness: c.lateness})
			var got []Alert
			for _, ev := range c.evs {
				got = append(got, e.Process(ev)...)
			}
			if c.flush {
				got = append(got, e.Flush()...)
			}
			if g := alertIDs(got); !reflect.DeepEqual(g, c.want) && (len(g) > 0 || len(c.want) > 0) {
				t.Fatalf("alerts %v, want %v", g, c.want)
			}
		})
	}
}

func TestSequenceMissingMiddleStep(t *testing.T) {
	r := parseRule(t, `
id: t.gap
name: A then C without B between
kind: sequence
severity: high
by: [user.name]
maxspan: 5m
steps:
  - condition: event.action == "a"
  - condition: event.action == "b"
    missing: true
  - condition: event.action == "c"
`)
	cases := []struct {
		name string
		evs  []event.Event
		want []string
	}{
		{"a then c", []event.Event{act("1", 0, "a", "u", ""), act("3", time.Minute, "c", "u", "")}, []string{"t.gap:1,3"}},
		{"a, b, c", []event.Event{act("1", 0, "a", "u", ""), act("2", 30*time.Second, "b", "u", ""), act("3", time.Minute, "c", "u", "")}, nil},
		{"a, b of another user, c", []event.Event{act("1", 0, "a", "u", ""), act("2", 30*time.Second, "b", "v", ""), act("3", time.Minute, "c", "u", "")}, []string{"t.gap:1,3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if g := alertIDs(runAll(r, EngineConfig{}, c.evs)); !reflect.DeepEqual(g, c.want) {
				t.Fatalf("alerts %v, want %v", g, c.want)
			}
		})
	}
}

func TestSequencePerStepKeys(t *testing.T) {
	// EQL: sequence by host.name [a] by user.name [b] by user.target.name
	r := parseRule(t, `
id: t.perstep
name: A by a user, then B on that user as target
kind: sequence
severity: high
by: [host.name]
maxspan: 5m
steps:
  - condition: event.action == "a"
    by: [user.name]
  - condition: event.action == "b"
    by: [user.target.name]
`)
	cases := []struct {
		name string
		evs  []event.Event
		want []string
	}{
		{"target is the first user", []event.Event{act("1", 0, "a", "alice", ""), act("2", time.Minute, "b", "mallory", "alice")}, []string{"t.perstep:1,2"}},
		{"target is someone else", []event.Event{act("1", 0, "a", "alice", ""), act("2", time.Minute, "b", "alice", "bob")}, nil},
		{"b has no target", []event.Event{act("1", 0, "a", "alice", ""), act("2", time.Minute, "b", "alice", "")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runAll(r, EngineConfig{}, c.evs)
			if g := alertIDs(got); !reflect.DeepEqual(g, c.want) {
				t.Fatalf("alerts %v, want %v", g, c.want)
			}
			if len(got) > 0 {
				keys := got[0].Vigil.Alert.GroupKeys
				if len(keys) != 2 || keys[0] != (Entity{"host.name", "h1"}) || keys[1] != (Entity{"user.target.name", "alice"}) {
					t.Fatalf("group keys %v", keys)
				}
			}
		})
	}
	// Per-step keys of different lengths are a load error.
	_, errs := Parse("bad.yaml", []byte(`
id: t.bad
name: Bad
kind: sequence
severity: low
maxspan: 5m
steps:
  - {condition: 'event.action == "a"', by: [user.name]}
  - {condition: 'event.action == "b"', by: [user.name, host.name]}
`))
	if len(errs) == 0 || !strings.Contains(errs[0].Error(), "steps[1].by") {
		t.Fatalf("errors %v, want one about steps[1].by", errs)
	}
}

func TestLateEventsBeyondLatenessAreReturnedAndCounted(t *testing.T) {
	r := seqRuleWith(t, "", "", "")
	var late []event.Event
	e := NewEngine([]*Compiled{r}, EngineConfig{AllowedLateness: time.Minute, OnLate: func(ev event.Event) { late = append(late, ev) }})
	var got []Alert
	for _, ev := range []event.Event{
		act("1", 0, "a", "u", ""),
		act("z", 10*time.Minute, "other", "w", ""), // watermark 9m
		act("2", 2*time.Minute, "b", "u", ""),      // 7 minutes late
	} {
		got = append(got, e.Process(ev)...)
	}
	got = append(got, e.Flush()...)
	if len(got) != 0 {
		t.Fatalf("a late event took part: %v", alertIDs(got))
	}
	if len(late) != 1 || late[0].ID() != "2" || e.Stats().LateEvents != 1 {
		t.Fatalf("late events %v (stats %d), want event 2 once", ids(late), e.Stats().LateEvents)
	}
}

func TestSequenceKeysAreBounded(t *testing.T) {
	r := seqRuleWith(t, "", "", "")
	e := NewEngine([]*Compiled{r}, EngineConfig{MaxKeys: 10})
	for i := range 25 {
		e.Process(act(fmt.Sprint(i), time.Duration(i)*time.Second, "a", fmt.Sprintf("user%d", i), ""))
	}
	if n := e.StateKeys()["t.seq"]; n != 10 {
		t.Fatalf("%d keys held, want 10", n)
	}
	if ev := e.Stats().Evictions; ev != 15 {
		t.Fatalf("%d evictions, want 15", ev)
	}
	// The most recent keys are kept: user24's sequence completes.
	if got := e.Process(act("b", 30*time.Second, "b", "user24", "")); len(got) != 1 {
		t.Fatalf("%d alerts for the most recent key, want 1", len(got))
	}
}

// statefulRules is one rule of each stateful kind, with suppression.
func statefulRules(t testing.TB) []*Compiled {
	seq := seqRuleWith(t, "", "    count: 2", "")
	thr := parseRule(t, fmt.Sprintf(countRule, "lt", 5))
	nt := parseRule(t, fmt.Sprintf(newTermsRule, ""))
	sup := parseRule(t, `
id: t.sup
name: Any failure
kind: match
severity: low
condition: event.outcome == "failure"
suppress: {by: [source.ip], for: 1h}
`)
	return []*Compiled{seq, thr, nt, sup}
}

func TestRestoreResumesMidSequenceExactly(t *testing.T) {
	first := []event.Event{
		act("1", 0, "a", "u", ""), act("2", 10*time.Second, "a", "u", ""),
		loginAt(3, t0.Add(20*time.Second), "203.0.113.9", "root", "failure"),
		loginAt(4, t0.Add(25*time.Second), "203.0.113.9", "root", "failure"),
	}
	first[2]["source.geo.country_iso_code"] = "DE"
	rest := []event.Event{
		act("5", time.Minute, "b", "u", ""),
		loginAt(6, t0.Add(70*time.Second), "203.0.113.9", "root", "failure"),
		loginAt(7, t0.Add(80*time.Second), "203.0.113.9", "root", "success"),
	}
	rest[2]["source.geo.country_iso_code"] = "DE"
	whole := func(lateness time.Duration) []Alert {
		e := NewEngine(statefulRules(t), EngineConfig{AllowedLateness: lateness, Now: func() time.Time { return t0 }})
		var out []Alert
		for _, ev := range append(append([]event.Event{}, first...), rest...) {
			out = append(out, e.Process(ev)...)
		}
		return append(out, e.Flush()...)
	}
	restarted := func(lateness time.Duration) []Alert {
		e := NewEngine(statefulRules(t), EngineConfig{AllowedLateness: lateness, Now: func() time.Time { return t0 }})
		var out []Alert
		for _, ev := range first {
			out = append(out, e.Process(ev)...)
		}
		snap, err := e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		// A new process: new rules, new engine, the snapshot.
		e2 := NewEngine(statefulRules(t), EngineConfig{AllowedLateness: lateness, Now: func() time.Time { return t0 }})
		if err := e2.Restore(snap); err != nil {
			t.Fatal(err)
		}
		for _, ev := range rest {
			out = append(out, e2.Process(ev)...)
		}
		return append(out, e2.Flush()...)
	}
	for _, lateness := range []time.Duration{0, 2 * time.Minute} {
		t.Run(fmt.Sprint("lateness ", lateness), func(t *testing.T) {
			want, got := whole(lateness), restarted(lateness)
			if len(want) < 4 {
				t.Fatalf("the uninterrupted run raised %d alerts (%v), the test needs one per rule", len(want), alertIDs(want))
			}
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				t.Fatalf("restarted run differs:\n got %v\nwant %v", alertIDs(got), alertIDs(want))
			}
		})
	}
}

func TestRestoreIgnoresStateOfRulesGoneOrChanged(t *testing.T) {
	e := NewEngine([]*Compiled{seqRuleWith(t, "", "", "")}, EngineConfig{})
	e.Process(act("1", 0, "a", "u", ""))
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	changed := seqRuleWith(t, "", "", "    by: []") // same id, other content
	e2 := NewEngine([]*Compiled{changed}, EngineConfig{})
	if err := e2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := e2.Process(act("2", time.Minute, "b", "u", "")); len(got) != 0 {
		t.Fatalf("state of a changed rule was restored: %v", alertIDs(got))
	}
	if err := NewEngine(nil, EngineConfig{}).Restore(snap); err != nil {
		t.Fatalf("restore with no rules: %v", err)
	}
	if err := e2.Restore([]byte(`{"version": 99}`)); err == nil {
		t.Fatal("a snapshot of another version was accepted")
	}
}

func TestReloadKeepsStateOfUnchangedRules(t *testing.T) {
	e := NewEngine([]*Compiled{seqRuleWith(t, "", "", "")}, EngineConfig{})
	e.Process(act("1", 0, "a", "u", ""))
	// Reloaded from the files: new *Compiled values, same content.
	e.Reload([]*Compiled{seqRuleWith(t, "", "", ""), parseRule(t, fmt.Sprintf(countRule, "gte", 2))})
	if got := alertIDs(e.Process(act("2", time.Minute, "b", "u", ""))); !reflect.DeepEqual(got, []string{"t.seq:1,2"}) {
		t.Fatalf("after a reload, alerts %v, want the open sequence to complete", got)
	}
	e.Process(act("3", 2*time.Minute, "a", "u", ""))
	e.Reload([]*Compiled{seqRuleWith(t, "until: {condition: event.action == \"x\"}", "", "")})
	if got := e.Process(act("4", 3*time.Minute, "b", "u", "")); len(got) != 0 {
		t.Fatalf("a changed rule kept its state: %v", alertIDs(got))
	}
	if len(e.Rules()) != 1 {
		t.Fatalf("%d rules after reload, want 1", len(e.Rules()))
	}
}

func TestIndexedEngineRaisesTheSameAlerts(t *testing.T) {
	rules := append(loadPack(t), statefulRules(t)...)
	rules = append(rules, parseRule(t, `
id: t.index
name: In list and or
kind: match
severity: low
where: event.dataset in ["test", "system.auth"] && ('authentication' in event.category || 'process' in event.category)
condition: event.outcome == "success" || event.action == "b"
`), parseRule(t, `
id: t.index2
name: Array field
kind: match
severity: low
condition: "'authentication' in event.category && event.outcome == 'failure' && user.name == 'deploy'"
`))
	for _, c := range rules {
		if c.Rule.ID == "t.index" && (c.require == nil || c.require.field != "event.dataset") {
			t.Fatalf("t.index is indexed by %+v, want event.dataset", c.require)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[rng.IntN(len(vs))] }
	var evs []event.Event
	for i := range 3000 {
		e := event.Event{
			"event.dataset":  pick("system.auth", "test", "other", ""),
			"event.action":   pick("ssh_login", "sudo", "a", "b", "logout"),
			"event.outcome":  pick("success", "failure"),
			"event.category": []any{pick("authentication", "process", "network")},
			"source.ip":      fmt.Sprintf("198.51.100.%d", rng.IntN(5)),
			"user.name":      pick("root", "u", "deploy"),
			"host.name":      "h1",
			"vigil.event_id": fmt.Sprint(i),
		}
		if e["event.dataset"] == "" {
			delete(e, "event.dataset")
		}
		e.SetTime(t0.Add(time.Duration(i) * 7 * time.Second))
		evs = append(evs, e)
	}
	cfg := EngineConfig{Now: func() time.Time { return t0 }}
	plain, indexed := cfg, cfg
	plain.NoIndex = true
	a, b := NewEngine(rules, plain), NewEngine(rules, indexed)
	var ga, gb []Alert
	for _, ev := range evs {
		ga = append(ga, a.Process(ev)...)
		gb = append(gb, b.Process(ev)...)
	}
	ga, gb = append(ga, a.Flush()...), append(gb, b.Flush()...)
	if len(ga) < 20 {
		t.Fatalf("only %d alerts: the events do not exercise the rules", len(ga))
	}
	ja, _ := json.Marshal(ga)
	jb, _ := json.Marshal(gb)
	if string(ja) != string(jb) {
		t.Fatalf("indexed engine raised %d alerts, unindexed %d, or different ones", len(gb), len(ga))
	}
}

func TestAlertJSONKeepsFieldsApartFromTheStruct(t *testing.T) {
	a := run(NewEngine(loadPack(t), EngineConfig{}), failures(10, t0, time.Second, "203.0.113.45"))["vigil.ssh.brute_force"][0]
	a.Fields["event.outcome"] = "must not appear" // a key of the struct's objects
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if n := topLevelKeys(t, b)["event"]; n != 1 || strings.Contains(string(b), "must not appear") {
		t.Fatalf("the document repeats or overrides the struct's event object: %s", b)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc["event"].(map[string]any)["dataset"] != "system.auth" || doc["source"].(map[string]any)["ip"] != "203.0.113.45" {
		t.Fatalf("event.dataset or source.ip missing: %s", b)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != string(b) {
		t.Fatalf("round trip changed the document:\n%s\n%s", b, again)
	}
}

// topLevelKeys counts the keys of a JSON object's top level (a key
// written twice counts 2, which encoding/json would hide).
func topLevelKeys(t *testing.T, b []byte) map[string]int {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out[k.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
