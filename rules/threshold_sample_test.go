package rules

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// TestThresholdWindowKeepsOnlyTheSampleEvents: a long window that does
// not fire (one user failing again and again under a distinct-users rule)
// holds the events of its newest sampleSize entries only, late events
// included, and the alert it finally raises carries exactly those: the
// newest sampleSize events in event time.
func TestThresholdWindowKeepsOnlyTheSampleEvents(t *testing.T) {
	c := parseRule(t, fmt.Sprintf(sprayRule, "gte", 5))
	e := NewEngine([]*Compiled{c}, EngineConfig{})
	ip := "203.0.113.77"
	var fed []event.Event
	feed := func(ev event.Event) []Alert {
		fed = append(fed, ev)
		return e.Process(ev)
	}
	for i := range 500 {
		at := t0.Add(time.Duration(i) * time.Second)
		if i%50 == 49 {
			at = at.Add(-30 * time.Second) // late, within the window
		}
		if got := feed(loginAt(i, at, ip, "root", "failure")); len(got) > 0 {
			t.Fatalf("alert after %d failures of one user", i+1)
		}
	}
	k, ok := e.thr[c].keys.peek(ip)
	if !ok || k.size() != 500 {
		t.Fatalf("the window holds %d entries, want 500", k.size())
	}
	held := 0
	for i := range k.size() {
		if k.at(i).ev != nil {
			held++
			if i < k.size()-sampleSize {
				t.Errorf("entry %d of %d (older than the sample) keeps its event", i, k.size())
			}
		}
	}
	if held != sampleSize {
		t.Errorf("%d events held, want %d", held, sampleSize)
	}

	var alerts []Alert
	for i, user := range []string{"u1", "u2", "u3", "u4"} {
		alerts = append(alerts, feed(loginAt(500+i, t0.Add(time.Duration(500+i)*time.Second), ip, user, "failure"))...)
	}
	if len(alerts) != 1 {
		t.Fatalf("%d alerts, want 1 at the fifth user", len(alerts))
	}
	// The newest sampleSize events in event time; at equal times, in the
	// order they came.
	slices.SortStableFunc(fed, func(a, b event.Event) int {
		ta, _ := a.Time()
		tb, _ := b.Time()
		return ta.Compare(tb)
	})
	var want, got []string
	for _, ev := range fed[len(fed)-sampleSize:] {
		want = append(want, ev.String("vigil.event_id"))
	}
	for _, ev := range alerts[0].Vigil.Alert.Events {
		got = append(got, ev.String("vigil.event_id"))
	}
	if !slices.Equal(got, want) {
		t.Errorf("the alert's events:\n got %v\nwant %v", got, want)
	}
}
