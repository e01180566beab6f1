package rules

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// parseRule compiles one rule from YAML, failing the test on any error.
func parseRule(t testing.TB, src string, opts ...LoadOption) *Compiled {
	t.Helper()
	rs, errs := Parse("test.yaml", []byte(src), opts...)
	if len(errs) > 0 || len(rs) != 1 {
		t.Fatalf("rule does not load: %v", errs)
	}
	return rs[0]
}

// runAll feeds the events to a fresh engine and flushes it.
func runAll(c *Compiled, cfg EngineConfig, evs []event.Event) []Alert {
	e := NewEngine([]*Compiled{c}, cfg)
	var out []Alert
	for _, ev := range evs {
		out = append(out, e.Process(ev)...)
	}
	return append(out, e.Flush()...)
}

func loginAt(n int, at time.Time, ip, user, outcome string) event.Event {
	return sshEvent(n, at, ip, user, outcome)
}

const sprayRule = `
id: t.spray
name: Password spraying
kind: threshold
severity: high
condition: event.outcome == "failure"
by: [source.ip]
threshold: {window: 10m, distinct: user.name, %s: %d}
`

const countRule = `
id: t.count
name: Failures
kind: threshold
severity: medium
condition: event.outcome == "failure"
by: [source.ip]
threshold: {window: 10m, %s: %d}
`

func TestThresholdSlidingWindow(t *testing.T) {
	ip := "203.0.113.5"
	// n failures, the i-th at t0 + i*step, users u0..u(users-1) cycling.
	evs := func(n int, step time.Duration, users int) []event.Event {
		var out []event.Event
		for i := range n {
			out = append(out, loginAt(i, t0.Add(time.Duration(i)*step), ip, fmt.Sprintf("u%d", i%users), "failure"))
		}
		return out
	}
	// 10 events with the last exactly 10m after the first (step 10m/9).
	edge := 10 * time.Minute / 9
	cases := []struct {
		name      string
		rule      string
		evs       []event.Event
		wantN     int
		wantCount int
	}{
		{"gte 10, ten in the window", fmt.Sprintf(countRule, "gte", 10), evs(10, time.Second, 1), 1, 10},
		{"gte 10, nine", fmt.Sprintf(countRule, "gte", 10), evs(9, time.Second, 1), 0, 0},
		{"gt 10 needs eleven", fmt.Sprintf(countRule, "gt", 10), evs(10, time.Second, 1), 0, 0},
		{"gt 10, eleven", fmt.Sprintf(countRule, "gt", 10), evs(11, time.Second, 1), 1, 11},
		{"last exactly at the window edge counts", fmt.Sprintf(countRule, "gte", 10), evs(10, edge, 1), 1, 10},
		{"one millisecond past the edge slides the first out", fmt.Sprintf(countRule, "gte", 10), evs(10, edge+time.Millisecond, 1), 0, 0},
		{"window slides: 10 within any 10m of a longer run", fmt.Sprintf(countRule, "gte", 10), evs(30, 2*time.Minute, 1), 0, 0},
		{"the key starts over after firing", fmt.Sprintf(countRule, "gte", 10), evs(25, time.Second, 1), 2, 10},
		{"distinct users gte 5, five users", fmt.Sprintf(sprayRule, "gte", 5), evs(7, time.Second, 5), 1, 5},
		{"distinct users gte 5, four users many times", fmt.Sprintf(sprayRule, "gte", 5), evs(40, time.Second, 4), 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runAll(parseRule(t, c.rule), EngineConfig{}, c.evs)
			if len(got) != c.wantN {
				t.Fatalf("%d alerts, want %d", len(got), c.wantN)
			}
			if c.wantN == 0 {
				return
			}
			th := got[0].Vigil.Alert.Threshold
			n := th.Count
			if th.Distinct != "" {
				n = th.DistinctCount
			}
			if n != c.wantCount {
				t.Fatalf("alert counted %d, want %d (%+v)", n, c.wantCount, th)
			}
			if k := got[0].Vigil.Alert.GroupKeys; len(k) != 1 || k[0].Value != ip {
				t.Fatalf("group keys %v", k)
			}
			if len(got[0].Vigil.Alert.Events) == 0 || got[0].Vigil.Alert.EventCount < c.wantCount {
				t.Fatalf("events %d, count %d", len(got[0].Vigil.Alert.Events), got[0].Vigil.Alert.EventCount)
			}
		})
	}
}

func TestThresholdAlertHoldsABoundedSampleAndTheExactCount(t *testing.T) {
	var evs []event.Event
	for i := range 500 {
		evs = append(evs, loginAt(i, t0.Add(time.Duration(i)*time.Millisecond), "192.0.2.1", "root", "failure"))
	}
	got := runAll(parseRule(t, fmt.Sprintf(countRule, "gte", 500)), EngineConfig{}, evs)
	if len(got) != 1 {
		t.Fatalf("%d alerts", len(got))
	}
	d := got[0].Vigil.Alert
	if d.EventCount != 500 || d.Threshold.Count != 500 || len(d.Events) != sampleSize {
		t.Fatalf("count %d/%d with %d events, want 500 with a sample of %d", d.EventCount, d.Threshold.Count, len(d.Events), sampleSize)
	}
	if !d.FirstSeen.Equal(t0) || d.Events[len(d.Events)-1].ID() != "ev-0499" {
		t.Fatalf("first seen %v, last sampled %s", d.FirstSeen, d.Events[len(d.Events)-1].ID())
	}
}

func TestThresholdLtAndEqFireWhenTheWindowCloses(t *testing.T) {
	const heartbeat = `
id: t.quiet
name: Few events
kind: threshold
severity: low
by: [host.name]
threshold: {window: 10m, %s: %d}
`
	ev := func(n int, at time.Duration, host string) event.Event {
		e := event.Event{"host.name": host, "vigil.event_id": fmt.Sprintf("e%d", n)}
		e.SetTime(t0.Add(at))
		return e
	}
	three := []event.Event{ev(1, 0, "a"), ev(2, time.Minute, "a"), ev(3, 2*time.Minute, "a")}
	cases := []struct {
		name      string
		op        string
		value     int
		evs       []event.Event
		flush     bool
		lateness  time.Duration
		wantAlert int
	}{
		{"lt: open window does not fire", "lt", 5, three, false, 0, 0},
		{"lt: flush closes the window", "lt", 5, three, true, 0, 1},
		{"lt: an event past the end closes it (watermark)", "lt", 5, append(three[:3:3], ev(9, 11*time.Minute, "b")), false, 0, 1},
		{"lt: an event exactly at the end does not close it", "lt", 5, append(three[:3:3], ev(9, 10*time.Minute, "b")), false, 0, 0},
		{"lt: lateness holds the window open", "lt", 5, append(three[:3:3], ev(9, 11*time.Minute, "b")), false, 2 * time.Minute, 0},
		{"lt: its own key past the end closes it", "lt", 5, append(three[:3:3], ev(9, 11*time.Minute, "a")), false, 0, 1},
		{"lt: an event within lateness waits in the buffer", "lt", 5, append(three[:3:3], ev(9, 11*time.Minute, "a")), false, 5 * time.Minute, 0},
		{"lt: the buffer is released at flush (and the second window closes too)", "lt", 5, append(three[:3:3], ev(9, 11*time.Minute, "a")), true, 5 * time.Minute, 2},
		{"lt: not fewer", "lt", 3, three, true, 0, 0},
		{"eq: exactly", "eq", 3, three, true, 0, 1},
		{"eq: not exactly", "eq", 2, three, true, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parseRule(t, fmt.Sprintf(heartbeat, c.op, c.value))
			e := NewEngine([]*Compiled{r}, EngineConfig{AllowedLateness: c.lateness})
			var got []Alert
			for _, x := range c.evs {
				got = append(got, e.Process(x)...)
			}
			if c.flush {
				got = append(got, e.Flush()...)
			}
			if len(got) != c.wantAlert {
				t.Fatalf("%d alerts, want %d", len(got), c.wantAlert)
			}
			if c.wantAlert > 0 && (got[0].Vigil.Alert.Threshold.Count != 3 || got[0].Vigil.Alert.GroupKeys[0].Value != "a") {
				t.Fatalf("alert %+v keys %v", got[0].Vigil.Alert.Threshold, got[0].Vigil.Alert.GroupKeys)
			}
		})
	}
}

const newTermsRule = `
id: t.new_country
name: Login from a new country
kind: new_terms
severity: medium
condition: event.outcome == "success"
by: [user.name]
new_terms: {fields: [source.geo.country_iso_code], history_window: 7d%s}
`

func TestNewTerms(t *testing.T) {
	login := func(n int, at time.Duration, user, country string) event.Event {
		e := sshEvent(n, t0.Add(at), "192.0.2.1", user, "success")
		e["source.geo.country_iso_code"] = country
		return e
	}
	day := 24 * time.Hour
	cases := []struct {
		name  string
		extra string
		evs   []event.Event
		want  []string // event ids that alert
	}{
		{"first seen alerts, seen again does not", "", []event.Event{login(1, 0, "alice", "DE"), login(2, time.Hour, "alice", "DE")}, []string{"ev-0001"}},
		{"per user", "", []event.Event{login(1, 0, "alice", "DE"), login(2, time.Hour, "bob", "DE")}, []string{"ev-0001", "ev-0002"}},
		{"a new country for a known user", "", []event.Event{login(1, 0, "alice", "DE"), login(2, time.Hour, "alice", "KP")}, []string{"ev-0001", "ev-0002"}},
		{"seen within the history window", "", []event.Event{login(1, 0, "alice", "DE"), login(2, 6*day, "alice", "DE"), login(3, 12*day, "alice", "DE")}, []string{"ev-0001"}},
		{"history expiry makes it new again", "", []event.Event{login(1, 0, "alice", "DE"), login(2, 8*day, "alice", "DE")}, []string{"ev-0001", "ev-0002"}},
		{"learning period only learns", ", learn_for: 1d", []event.Event{login(1, 0, "alice", "DE"), login(2, time.Hour, "bob", "FR"), login(3, 2*day, "alice", "DE"), login(4, 2*day, "alice", "KP")}, []string{"ev-0004"}},
		{"event without the field is skipped", "", []event.Event{sshEvent(1, t0, "192.0.2.1", "alice", "success")}, nil},
		{"max_keys evicts the least recent term", ", max_keys: 1", []event.Event{login(1, 0, "alice", "DE"), login(2, time.Hour, "bob", "DE"), login(3, 2*time.Hour, "alice", "DE")}, []string{"ev-0001", "ev-0002", "ev-0003"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parseRule(t, fmt.Sprintf(newTermsRule, c.extra))
			got := runAll(r, EngineConfig{}, c.evs)
			var gotIDs []string
			for _, a := range got {
				gotIDs = append(gotIDs, a.Vigil.Alert.Events[0].ID())
				if a.Vigil.Alert.NewTerms == nil || a.Vigil.Alert.NewTerms.Values[0] == "" {
					t.Fatalf("alert lacks the term: %+v", a.Vigil.Alert.NewTerms)
				}
			}
			if strings.Join(gotIDs, ",") != strings.Join(c.want, ",") {
				t.Fatalf("alerts on %v, want %v", gotIDs, c.want)
			}
		})
	}
}

func TestSuppressKeepsOneAlertPerKeyAndCountsTheRest(t *testing.T) {
	const rule = `
id: t.root
name: Root login
kind: match
severity: high
condition: user.name == "root" && event.outcome == "success"
suppress: {by: [source.ip], for: 1h}
`
	r := parseRule(t, rule)
	evs := []event.Event{
		sshEvent(1, t0, "192.0.2.1", "root", "success"),
		sshEvent(2, t0.Add(10*time.Minute), "192.0.2.1", "root", "success"),
		sshEvent(3, t0.Add(20*time.Minute), "192.0.2.2", "root", "success"),
		sshEvent(4, t0.Add(59*time.Minute), "192.0.2.1", "root", "success"),
		sshEvent(5, t0.Add(61*time.Minute), "192.0.2.9", "alice", "success"), // no alert: moves the watermark past the first window
		sshEvent(6, t0.Add(3*time.Hour), "192.0.2.1", "root", "success"),
	}
	e := NewEngine([]*Compiled{r}, EngineConfig{})
	var got []Alert
	for _, ev := range evs {
		got = append(got, e.Process(ev)...)
	}
	got = append(got, e.Flush()...)
	type seen struct {
		event string
		count int
	}
	var summary []seen
	for _, a := range got {
		summary = append(summary, seen{a.Vigil.Alert.Events[0].ID(), a.Vigil.Alert.SuppressedCount})
	}
	want := []seen{{"ev-0001", 0}, {"ev-0003", 0}, {"ev-0001", 2}, {"ev-0006", 0}}
	if fmt.Sprint(summary) != fmt.Sprint(want) {
		t.Fatalf("alerts (event, suppressed count) %v, want %v", summary, want)
	}
	if got[0].Vigil.Alert.ID != got[2].Vigil.Alert.ID {
		t.Fatal("the count must update the first alert (same id)")
	}
	if s := e.Stats(); s.Suppressed != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestExceptionsBothForms(t *testing.T) {
	const rule = `
id: t.fail
name: Failure
kind: match
severity: low
condition: event.outcome == "failure"
exceptions:
  - {field: source.ip, values: [10.0.0.5, 172.16.0.0/12]}
  - {field: destination.port, values: [2222]}
  - {expr: 'user.name == "backup"'}
`
	const scalar = `
id: t.fail2
name: Failure
kind: match
severity: low
condition: event.outcome == "failure"
exceptions: 'user.name == "backup" || cidr(source.ip, "10.0.0.0/8")'
`
	ev := func(ip, user string, port any) event.Event {
		e := sshEvent(1, t0, ip, user, "failure")
		if port != nil {
			e["destination.port"] = port
		}
		return e
	}
	cases := []struct {
		name       string
		ev         event.Event
		list, expr bool // alert under each rule
	}{
		{"ordinary failure", ev("203.0.113.1", "root", nil), true, true},
		{"listed address", ev("10.0.0.5", "root", nil), false, false},
		{"address inside a listed network", ev("172.20.1.1", "root", nil), false, true},
		{"numeric field value", ev("203.0.113.1", "root", int64(2222)), false, true},
		{"expression", ev("203.0.113.1", "backup", nil), false, false},
	}
	list, expr := parseRule(t, rule), parseRule(t, scalar)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := len(runAll(list, EngineConfig{}, []event.Event{c.ev})) == 1; got != c.list {
				t.Errorf("list form: alert %v, want %v", got, c.list)
			}
			if got := len(runAll(expr, EngineConfig{}, []event.Event{c.ev})) == 1; got != c.expr {
				t.Errorf("expression form: alert %v, want %v", got, c.expr)
			}
		})
	}
}

func TestExceptedEventsDoNotCountTowardsAThreshold(t *testing.T) {
	r := parseRule(t, fmt.Sprintf(countRule, "gte", 3)+"exceptions: [{field: user.name, values: [backup]}]\n")
	evs := []event.Event{
		sshEvent(1, t0, "192.0.2.1", "backup", "failure"),
		sshEvent(2, t0.Add(time.Second), "192.0.2.1", "backup", "failure"),
		sshEvent(3, t0.Add(2*time.Second), "192.0.2.1", "root", "failure"),
	}
	e := NewEngine([]*Compiled{r}, EngineConfig{})
	if got := runAll(r, EngineConfig{}, evs); len(got) != 0 {
		t.Fatalf("%d alerts, want none", len(got))
	}
	for _, ev := range evs {
		e.Process(ev)
	}
	if e.Stats().Excepted != 2 {
		t.Fatalf("excepted %d, want 2", e.Stats().Excepted)
	}
}

func TestAppliedCountsTheEventsEachRuleWasEvaluatedOn(t *testing.T) {
	auth := parseRule(t, `id: auth
name: failed auth
severity: low
risk_score: 10
kind: match
where: event.dataset == "system.auth"
condition: event.outcome == "failure"
`)
	cloud := parseRule(t, `id: cloud
name: trail stopped
severity: low
risk_score: 10
kind: match
where: event.dataset == "aws.cloudtrail" && event.outcome == "success"
condition: source.ip == "198.51.100.1"
`)
	every := parseRule(t, `id: every
name: any root
severity: low
risk_score: 10
kind: match
condition: user.name == "root"
`)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []event.Event{
		loginAt(1, at, "203.0.113.7", "root", "failure"),
		loginAt(2, at, "203.0.113.7", "root", "failure"),
		loginAt(3, at, "203.0.113.7", "alice", "success"),
		{"event.dataset": "aws.cloudtrail", "event.outcome": "success", "@timestamp": "2026-01-01T00:00:01Z"},
		{"event.dataset": "aws.cloudtrail", "event.outcome": "failure", "@timestamp": "2026-01-01T00:00:02Z"},
	}
	applied := func(noIndex bool) map[string]int64 {
		e := NewEngine([]*Compiled{auth, cloud, every}, EngineConfig{NoIndex: noIndex})
		for _, ev := range evs {
			e.Process(ev)
		}
		return e.Applied()
	}
	// Without the index every event past the where counts, whatever the
	// condition says: the success for auth, the cloud event without a
	// source.ip for cloud, every event for the rule without a where.
	want := map[string]int64{"auth": 3, "cloud": 1, "every": 5}
	if got := applied(true); !maps.Equal(got, want) {
		t.Errorf("without the index: Applied() = %v, want %v", got, want)
	}
	// The index leaves out events the condition cannot match, never one
	// it matches.
	matching := map[string]int64{"auth": 2, "cloud": 0, "every": 2}
	got := applied(false)
	for id, n := range want {
		if got[id] > n || got[id] < matching[id] {
			t.Errorf("with the index: %s evaluated on %d events, want between the %d it matches and the %d past its where", id, got[id], matching[id], n)
		}
	}
}
