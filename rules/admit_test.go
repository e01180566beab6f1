package rules

import (
	"testing"

	"github.com/vigil-siem/vigil/event"
)

func TestMayConcern(t *testing.T) {
	cs, errs := Parse("r.yaml", []byte(`id: r.auth
name: auth
kind: threshold
severity: low
where: event.dataset == "system.auth"
by: [source.ip]
threshold: {window: 1m, gte: 2}
---
id: r.any
name: any
kind: threshold
severity: low
condition: source.port > 1024
by: [source.ip]
threshold: {window: 1m, gte: 2}
`))
	if len(errs) > 0 || len(cs) != 2 {
		t.Fatalf("rules do not load: %v", errs)
	}
	for _, c := range []struct {
		name string
		ev   event.Event
		want [2]bool
	}{
		{"the required dataset", event.Event{"event.dataset": "system.auth"}, [2]bool{true, true}},
		{"another dataset", event.Event{"event.dataset": "apache.access"}, [2]bool{false, true}},
		{"no dataset", event.Event{"source.ip": "192.0.2.1"}, [2]bool{false, true}},
	} {
		for i, r := range cs {
			if got := r.MayConcern(c.ev); got != c.want[i] {
				t.Errorf("%s: %s.MayConcern = %v, want %v", c.name, r.Rule.ID, got, c.want[i])
			}
		}
	}
}
