package triage

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// The fixtures below build events the way the sshd and sudo parsers emit
// them (ECS, flat) from real-looking auth.log lines, and alerts the way
// the rule engine raises them.

var t0 = time.Date(2024, 12, 10, 10, 54, 29, 0, time.UTC)

// authLog numbers the lines of one fake /var/log/auth.log so every event
// gets the id the collector would give it.
type authLog struct {
	host   string
	offset int64
}

func (l *authLog) line(at time.Time, raw string) event.Event {
	e := event.New()
	e.SetTime(at)
	e.Set(event.FieldID, event.MakeID("/var/log/auth.log", l.offset, []byte(raw)))
	l.offset += int64(len(raw)) + 1
	e.Set(event.FieldOriginal, raw)
	e.Set("event.kind", "event")
	e.Set("host.name", l.host)
	return e
}

// sshd returns an sshd login event: outcome "failure" or "success".
func (l *authLog) sshd(at time.Time, outcome, user, ip string) event.Event {
	var msg string
	if outcome == "success" {
		msg = fmt.Sprintf("Accepted password for %s from %s port 49116 ssh2", user, ip)
	} else {
		msg = fmt.Sprintf("Failed password for %s from %s port 38926 ssh2", user, ip)
	}
	raw := at.Format(time.Stamp) + " " + l.host + " sshd[24680]: " + msg
	e := l.line(at, raw)
	e.Set("event.category", []any{"authentication"})
	e.Set("event.type", []any{"start"})
	e.Set("event.action", "ssh_login")
	e.Set("event.outcome", outcome)
	e.Set("event.dataset", "sshd")
	e.Set("process.name", "sshd")
	e.Set("process.pid", float64(24680))
	e.Set("user.name", user)
	e.Set("source.ip", ip)
	e.Set("source.port", float64(49116))
	e.Set("message", msg)
	return e
}

// sudo returns a sudo event; allowed=false is "user NOT in sudoers".
func (l *authLog) sudo(at time.Time, user, command string, allowed bool) event.Event {
	msg := fmt.Sprintf("%s : TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=%s", user, user, command)
	outcome := "success"
	if !allowed {
		msg = fmt.Sprintf("%s : user NOT in sudoers ; TTY=pts/0 ; PWD=/home/%s ; USER=root ; COMMAND=%s", user, user, command)
		outcome = "failure"
	}
	raw := at.Format(time.Stamp) + " " + l.host + " sudo: " + msg
	e := l.line(at, raw)
	e.Set("event.category", []any{"process"})
	e.Set("event.type", []any{"start"})
	e.Set("event.action", "sudo_command")
	e.Set("event.outcome", outcome)
	e.Set("event.dataset", "sudo")
	e.Set("process.name", "sudo")
	e.Set("process.command_line", command)
	e.Set("user.name", user)
	e.Set("user.effective.name", "root")
	e.Set("message", msg)
	return e
}

type ruleDef struct {
	id, name, kind, severity string
	risk                     int
	techniques               []string
}

var (
	ruleBruteForce = ruleDef{"vigil.ssh.brute_force", "SSH brute force", "match", "medium", 47, []string{"T1110.001"}}
	ruleBFSuccess  = ruleDef{"vigil.ssh.brute_force_success", "SSH brute force followed by a successful login", "sequence", "critical", 99, []string{"T1110.001", "T1078"}}
	ruleSudoAfter  = ruleDef{"test.ssh.login_then_sudo", "SSH login then sudo", "sequence", "high", 73, []string{"T1548.003"}}
	ruleLogin      = ruleDef{"test.ssh.login", "SSH login", "match", "low", 21, []string{"T1021.004"}}
	ruleRootLogin  = ruleDef{"vigil.ssh.root_login", "SSH root login", "match", "high", 73, []string{"T1078.003"}}
	ruleNotSudoer  = ruleDef{"vigil.sudo.not_in_sudoers", "User not in sudoers", "match", "medium", 47, []string{"T1548.003"}}
)

// alert builds the alert a rule raises on events, about entity field.
func (r ruleDef) alert(field string, evs ...event.Event) rules.Alert {
	first, _ := evs[0].Time()
	last, _ := evs[len(evs)-1].Time()
	value := evs[0].String(field)
	var threat []rules.Threat
	for _, id := range r.techniques {
		tq := rules.Technique{ID: id}
		if base, sub, ok := cutDot(id); ok {
			tq = rules.Technique{ID: base, Subtechnique: []rules.ThreatRef{{ID: base + "." + sub}}}
		}
		threat = append(threat, rules.Threat{Framework: "MITRE ATT&CK", Tactic: rules.ThreatRef{ID: "TA0006"}, Technique: []rules.Technique{tq}})
	}
	fields := event.New()
	fields.Set(field, value)
	return rules.Alert{
		Timestamp: last,
		Event:     rules.AlertEvent{Kind: "alert", Start: first, End: last, RiskScore: r.risk},
		Rule:      rules.AlertRule{ID: r.id, Name: r.name},
		Threat:    threat,
		Fields:    fields,
		Vigil: rules.AlertVigil{Alert: rules.AlertDetail{
			ID:         rules.AlertID(r.id, evs),
			Kind:       r.kind,
			Severity:   r.severity,
			RiskScore:  r.risk,
			GroupKeys:  []rules.Entity{{Field: field, Value: value}},
			Entity:     rules.Entity{Field: field, Value: value},
			FirstSeen:  first,
			LastSeen:   last,
			EventCount: len(evs),
			Events:     evs,
		}},
	}
}

func cutDot(id string) (string, string, bool) {
	for i := range id {
		if id[i] == '.' {
			return id[:i], id[i+1:], true
		}
	}
	return id, "", false
}

// bruteForceStorm returns n brute-force alerts from ip, each over 10
// failed logins 6 s apart, one alert every 15 s from start.
func bruteForceStorm(log *authLog, ip string, start time.Time, n int) []rules.Alert {
	users := []string{"root", "admin", "oracle", "test", "ubuntu"}
	out := make([]rules.Alert, 0, n)
	for i := range n {
		evs := make([]event.Event, 10)
		for j := range evs {
			evs[j] = log.sshd(start.Add(time.Duration(i)*15*time.Second+time.Duration(j)*6*time.Second), "failure", users[(i+j)%len(users)], ip)
		}
		out = append(out, ruleBruteForce.alert("source.ip", evs...))
	}
	return out
}

func TestGrouperStormIsOneBoundedIncident(t *testing.T) {
	log := &authLog{host: "LabSZ"}
	const ip = "183.62.140.253"
	storm := bruteForceStorm(log, ip, t0, 5000)

	// Halfway through, the attacker gets in: a critical sequence alert
	// from another rule, then a second one.
	mid := storm[2500].Vigil.Alert.LastSeen
	success := log.sshd(mid.Add(time.Second), "success", "deploy", ip)
	evs := append(slices.Clone(storm[2500].Vigil.Alert.Events), success)
	bfs := ruleBFSuccess.alert("source.ip", evs...)
	success2 := log.sshd(mid.Add(2*time.Second), "success", "deploy", ip)
	bfs2 := ruleBFSuccess.alert("source.ip", append(slices.Clone(storm[2501].Vigil.Alert.Events), success2)...)

	alerts := slices.Concat(storm[:2501], []rules.Alert{bfs, bfs2}, storm[2501:])
	g := NewGrouper(GrouperConfig{})
	var last *Incident
	var materialAt []int
	ids := map[string]bool{}
	for i, a := range alerts {
		inc, material := g.Add(a)
		if material {
			materialAt = append(materialAt, i)
		}
		ids[inc.ID] = true
		last = inc
	}
	if len(ids) != 1 || g.Len() != 1 {
		t.Fatalf("storm for one IP made %d incident ids, %d open; want 1", len(ids), g.Len())
	}
	if want := []int{0, 2501}; !slices.Equal(materialAt, want) {
		t.Errorf("material at alerts %v, want %v (first alert, first critical sequence)", materialAt, want)
	}
	if last.AlertCount != 5002 {
		t.Errorf("AlertCount = %d, want 5002", last.AlertCount)
	}
	if len(last.Alerts) > DefaultMaxAlertsKept || len(last.AlertIDs) != DefaultMaxAlertIDs {
		t.Errorf("kept %d alerts and %d ids, want ≤ %d and %d", len(last.Alerts), len(last.AlertIDs), DefaultMaxAlertsKept, DefaultMaxAlertIDs)
	}
	if last.Alerts[0].Vigil.Alert.ID != storm[0].Vigil.Alert.ID {
		t.Errorf("first alert not kept")
	}
	if got := last.Alerts[len(last.Alerts)-1].Vigil.Alert.ID; got != storm[4999].Vigil.Alert.ID {
		t.Errorf("most recent alert not kept")
	}
	pos := map[string]int{}
	for i, a := range alerts {
		pos[a.Vigil.Alert.ID] = i
	}
	keptAt := make([]int, len(last.Alerts))
	for i, a := range last.Alerts {
		keptAt[i] = pos[a.Vigil.Alert.ID]
	}
	if !slices.IsSorted(keptAt) || len(slices.Compact(slices.Clone(keptAt))) != len(keptAt) {
		t.Errorf("kept alerts are not distinct and in arrival order: %v", keptAt)
	}
	if !slices.ContainsFunc(last.Alerts, func(a rules.Alert) bool { return a.Vigil.Alert.ID == bfs.Vigil.Alert.ID }) {
		t.Errorf("the decisive critical alert from the middle of the storm was not kept")
	}
	if last.Severity != "critical" || last.RiskScore != 99 {
		t.Errorf("severity %q risk %d, want critical 99", last.Severity, last.RiskScore)
	}
	wantRules := []RuleSummary{
		{ID: ruleBFSuccess.id, Name: ruleBFSuccess.name, Severity: "critical", Count: 2, Kind: "sequence"},
		{ID: ruleBruteForce.id, Name: ruleBruteForce.name, Severity: "medium", Count: 5000, Kind: "match"},
	}
	if !slices.Equal(last.Rules, wantRules) {
		t.Errorf("Rules = %+v, want %+v", last.Rules, wantRules)
	}
	if !last.FirstSeen.Equal(t0) || !last.LastSeen.Equal(storm[4999].Vigil.Alert.LastSeen) {
		t.Errorf("span %v–%v, want %v–%v", last.FirstSeen, last.LastSeen, t0, storm[4999].Vigil.Alert.LastSeen)
	}
	if want := []string{"admin", "deploy", "oracle", "root", "test", "ubuntu"}; !slices.Equal(last.Users, want) {
		t.Errorf("Users = %v, want %v", last.Users, want)
	}
	if !slices.Equal(last.Hosts, []string{"LabSZ"}) || !slices.Equal(last.IPs, []string{ip}) {
		t.Errorf("Hosts %v IPs %v", last.Hosts, last.IPs)
	}
}

func TestGrouperWindow(t *testing.T) {
	const ip = "187.141.143.180"
	tests := []struct {
		name     string
		gap      time.Duration // between the first alert's last event and the second alert's first
		samePrev bool
	}{
		{"within window", 29 * time.Minute, true},
		{"exactly window", 30 * time.Minute, true},
		{"gap longer than window", 31 * time.Minute, false},
		{"hours later", 5 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log := &authLog{host: "LabSZ"}
			a1 := bruteForceStorm(log, ip, t0, 1)[0]
			a2 := bruteForceStorm(log, ip, a1.Vigil.Alert.LastSeen.Add(tc.gap), 1)[0]
			g := NewGrouper(GrouperConfig{Window: 30 * time.Minute})
			inc1, m1 := g.Add(a1)
			inc2, m2 := g.Add(a2)
			if !m1 {
				t.Errorf("first alert not material")
			}
			if same := inc1.ID == inc2.ID; same != tc.samePrev {
				t.Fatalf("same incident = %v, want %v", same, tc.samePrev)
			}
			if tc.samePrev {
				if m2 || inc2.AlertCount != 2 {
					t.Errorf("joined alert: material %v count %d, want false 2", m2, inc2.AlertCount)
				}
				return
			}
			if !m2 || inc2.AlertCount != 1 || g.Len() != 2 {
				t.Errorf("new incident: material %v count %d open %d, want true 1 2", m2, inc2.AlertCount, g.Len())
			}
		})
	}
}

func TestGrouperReplay(t *testing.T) {
	log := &authLog{host: "web-1"}
	var alerts []rules.Alert
	alerts = append(alerts, bruteForceStorm(log, "5.188.10.180", t0, 30)...)
	alerts = append(alerts, bruteForceStorm(log, "112.95.230.3", t0, 30)...)
	// the same IP again after a long quiet spell: a second incident
	alerts = append(alerts, bruteForceStorm(log, "5.188.10.180", t0.Add(3*time.Hour), 5)...)

	run := func(g *Grouper, as []rules.Alert) (ids []string, material int) {
		for _, a := range as {
			inc, m := g.Add(a)
			if inc == nil {
				t.Fatalf("Add returned no incident for alert %s", a.Vigil.Alert.ID)
			}
			ids = append(ids, inc.ID)
			if m {
				material++
			}
		}
		return ids, material
	}
	g := NewGrouper(GrouperConfig{})
	ids, material := run(g, alerts)
	if material != 3 || g.Len() != 3 {
		t.Fatalf("first pass: %d material, %d incidents, want 3 and 3", material, g.Len())
	}

	// Kafka redelivers everything after a crash: same grouper, nothing changes.
	replayIDs, replayMaterial := run(g, alerts)
	if replayMaterial != 0 || !slices.Equal(ids, replayIDs) {
		t.Errorf("replay into the same grouper: %d material changes, same ids %v", replayMaterial, slices.Equal(ids, replayIDs))
	}
	if inc, _ := g.Add(alerts[0]); inc.AlertCount != 30 {
		t.Errorf("replay changed counts: %d, want 30", inc.AlertCount)
	}

	// A restarted triage rebuilds the same incident ids from the same alerts.
	freshIDs, freshMaterial := run(NewGrouper(GrouperConfig{}), alerts)
	if !slices.Equal(ids, freshIDs) || freshMaterial != material {
		t.Errorf("fresh grouper: ids equal %v, material %d, want true %d", slices.Equal(ids, freshIDs), freshMaterial, material)
	}
}

func TestGrouperExpire(t *testing.T) {
	log := &authLog{host: "LabSZ"}
	a := bruteForceStorm(log, "103.99.0.122", t0, 3)
	b := bruteForceStorm(log, "185.190.58.151", t0.Add(20*time.Minute), 1)
	g := NewGrouper(GrouperConfig{Window: 30 * time.Minute})
	var firstID string
	for i, x := range append(slices.Clone(a), b...) {
		inc, _ := g.Add(x)
		if i == 0 {
			firstID = inc.ID
		}
	}
	lastA := a[2].Vigil.Alert.LastSeen
	lastB := b[0].Vigil.Alert.LastSeen
	tests := []struct {
		now       time.Time
		dropped   int
		remaining int
	}{
		{lastA.Add(29 * time.Minute), 0, 2},
		{lastA.Add(31 * time.Minute), 1, 1},
		{lastB.Add(30 * time.Minute), 0, 1},
		{lastB.Add(30*time.Minute + time.Millisecond), 1, 0},
	}
	for _, tc := range tests {
		if n := g.Expire(tc.now); n != tc.dropped || g.Len() != tc.remaining {
			t.Errorf("Expire(%v) dropped %d (open %d), want %d (open %d)", tc.now, n, g.Len(), tc.dropped, tc.remaining)
		}
	}
	// New activity from the expired entity opens a new incident; a replay
	// of the old alerts does not resurrect the old one.
	if inc, m := g.Add(a[0]); inc != nil || m {
		t.Errorf("replayed alert of an expired incident: %v %v, want nil false", inc, m)
	}
	next := bruteForceStorm(log, "103.99.0.122", lastB.Add(time.Hour), 1)[0]
	if inc, m := g.Add(next); !m || inc.ID == firstID {
		t.Errorf("new activity after expiry: material %v, id reused %v", m, inc.ID == firstID)
	}
}

func TestGrouperEvictsLeastRecentlyUpdated(t *testing.T) {
	log := &authLog{host: "LabSZ"}
	g := NewGrouper(GrouperConfig{MaxIncidents: 3})
	ipOf := func(i int) string { return "198.51.100." + strconv.Itoa(i) }
	for i := 1; i <= 3; i++ {
		g.Add(bruteForceStorm(log, ipOf(i), t0, 1)[0])
	}
	g.Add(bruteForceStorm(log, ipOf(1), t0.Add(time.Minute), 1)[0]) // touch 1
	g.Add(bruteForceStorm(log, ipOf(4), t0, 1)[0])                  // evicts 2
	g.Add(bruteForceStorm(log, ipOf(5), t0, 1)[0])                  // evicts 3
	if g.Len() != 3 {
		t.Fatalf("open incidents = %d, want 3", g.Len())
	}
	inc, m := g.Add(bruteForceStorm(log, ipOf(1), t0.Add(2*time.Minute), 1)[0])
	if m || inc.AlertCount != 3 {
		t.Errorf("recently updated incident was evicted: material %v count %d", m, inc.AlertCount)
	}
	inc, m = g.Add(bruteForceStorm(log, ipOf(2), t0.Add(2*time.Minute), 1)[0])
	if !m || inc.AlertCount != 1 {
		t.Errorf("least recently updated incident was kept: material %v count %d", m, inc.AlertCount)
	}
}

func TestGrouperRelatedAndRules(t *testing.T) {
	log := &authLog{host: "bastion"}
	const ip = "10.20.0.5"
	g := NewGrouper(GrouperConfig{MaxRelated: 3})
	var inc *Incident
	var materials []bool
	for i, u := range []string{"carol", "alice", "bob", "alice", "dave", "erin"} {
		e := log.sshd(t0.Add(time.Duration(i)*time.Minute), "success", u, ip)
		var m bool
		inc, m = g.Add(ruleLogin.alert("source.ip", e))
		materials = append(materials, m)
	}
	e := log.sshd(t0.Add(10*time.Minute), "success", "root", ip)
	inc, m := g.Add(ruleRootLogin.alert("source.ip", e))
	materials = append(materials, m)

	if want := []bool{true, false, false, false, false, false, true}; !slices.Equal(materials, want) {
		t.Errorf("material = %v, want %v", materials, want)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(inc.Users, want) {
		t.Errorf("Users = %v, want the first 3 distinct sorted %v", inc.Users, want)
	}
	if inc.Severity != "high" || len(inc.Rules) != 2 || inc.Rules[0].ID != ruleRootLogin.id || inc.Rules[1].Count != 6 {
		t.Errorf("severity %q rules %+v", inc.Severity, inc.Rules)
	}
}

// Snapshots go to other goroutines (the triage workers) while the grouper
// keeps adding: they must not race with it, must not change after the
// fact, and what a caller appends or edits in Rules must not leak back.
func TestGrouperSnapshotIsStable(t *testing.T) {
	log := &authLog{host: "LabSZ"}
	storm := bruteForceStorm(log, "183.62.140.253", t0, 300)
	for i := range storm { // 40 more users (45 in all), so Users keeps growing
		storm[i].Vigil.Alert.Events[0].Set("user.name", "u"+strconv.Itoa(i%40))
	}
	g := NewGrouper(GrouperConfig{})

	type frozen struct {
		snap   *Incident
		alerts []string
		ids    []string
		users  []string
	}
	freeze := func(inc *Incident) frozen {
		f := frozen{snap: inc, ids: slices.Clone(inc.AlertIDs), users: slices.Clone(inc.Users)}
		for _, a := range inc.Alerts {
			f.alerts = append(f.alerts, a.Vigil.Alert.ID)
		}
		return f
	}
	results := make(chan frozen, len(storm))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for f := range results {
			snap := f.snap
			snap.AlertIDs = append(snap.AlertIDs, "scribbled")
			snap.Users = append(snap.Users, "scribbled")
			snap.Alerts = append(snap.Alerts, rules.Alert{})
			snap.Rules[0].Count = -1
		}
	}()
	var early []frozen
	for i, a := range storm {
		inc, _ := g.Add(a)
		f := freeze(inc)
		if i%50 == 0 {
			early = append(early, freeze(inc))
		}
		results <- f
	}
	close(results)
	wg.Wait()
	for _, f := range early {
		now := freeze(f.snap)
		now.ids = now.ids[:len(f.ids)]
		now.users = now.users[:len(f.users)]
		now.alerts = now.alerts[:len(f.alerts)]
		if !slices.Equal(f.ids, now.ids) || !slices.Equal(f.users, now.users) || !slices.Equal(f.alerts, now.alerts) {
			t.Fatalf("a snapshot of %d alerts changed after later Adds", f.snap.AlertCount)
		}
	}
	final, _ := g.Add(storm[0]) // duplicate: returns the current state
	if len(final.AlertIDs) != 300 || slices.Contains(final.AlertIDs, "scribbled") || slices.Contains(final.Users, "scribbled") ||
		final.Rules[0].Count != 300 || len(final.Users) != 45 || len(final.Alerts) > DefaultMaxAlertsKept {
		t.Errorf("callers' changes leaked into the grouper: %d ids, count %d, users %v, %d alerts",
			len(final.AlertIDs), final.Rules[0].Count, final.Users, len(final.Alerts))
	}
}

func BenchmarkGrouperAdd(b *testing.B) {
	log := &authLog{host: "LabSZ"}
	var pool []rules.Alert
	for i := range 50 {
		pool = append(pool, bruteForceStorm(log, "203.0.113."+strconv.Itoa(i), t0, 200)...)
	}
	var g *Grouper
	n := 0
	for i := 0; b.Loop(); i++ {
		if i%len(pool) == 0 {
			g = NewGrouper(GrouperConfig{})
		}
		g.Add(pool[i%len(pool)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}
