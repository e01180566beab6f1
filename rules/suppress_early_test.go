package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// A threshold that keeps passing under suppress: the repeats are counted
// on the first alert (which the engine no longer builds for each repeat),
// and a key missing from the last event still reaches suppress.
func TestThresholdRepeatsUnderSuppress(t *testing.T) {
	const rule = `
id: t.failures
name: Failures
kind: threshold
severity: low
condition: event.outcome == "failure"
by: [source.ip]
threshold: {window: 10m, gte: 3}
suppress: {by: [source.ip, user.name], for: 1h}
`
	r := parseRule(t, rule)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	var a, b []event.Event
	for i := range 9 { // fires at the 3rd, 6th and 9th failure
		a = append(a, sshEvent(i+1, at(i), "192.0.2.1", "root", "failure"))
	}
	for i := range 6 { // no user.name: suppress reads the alert's fields
		ev := sshEvent(20+i, at(i), "192.0.2.2", "", "failure")
		delete(ev, "user.name")
		b = append(b, ev)
	}
	cases := []struct {
		name       string
		evs        []event.Event
		want       string // alerts as (last event, suppressed count)
		suppressed int64
	}{
		{"every value on the last event", a, "[{ev-0003 0} {ev-0003 2}]", 2},
		{"a key value missing", b, "[{ev-0022 0} {ev-0022 1}]", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEngine([]*Compiled{r}, EngineConfig{})
			var got []Alert
			for _, ev := range c.evs {
				got = append(got, e.Process(ev)...)
			}
			got = append(got, e.Flush()...)
			type seen struct {
				last  string
				count int
			}
			var summary []seen
			for _, x := range got {
				evs := x.Vigil.Alert.Events
				summary = append(summary, seen{evs[len(evs)-1].ID(), x.Vigil.Alert.SuppressedCount})
			}
			if fmt.Sprint(summary) != c.want {
				t.Fatalf("alerts %v, want %s", summary, c.want)
			}
			if got[0].Vigil.Alert.ID != got[1].Vigil.Alert.ID {
				t.Fatal("the count must update the first alert (same id)")
			}
			if s := e.Stats(); s.Suppressed != c.suppressed {
				t.Fatalf("suppressed %d, want %d", s.Suppressed, c.suppressed)
			}
		})
	}
}
