package rules

import (
	"testing"

	"github.com/expr-lang/expr/vm"

	"github.com/vigil-siem/vigil/event"
)

func TestConditionsAddressFlatECSFields(t *testing.T) {
	ev := event.Event{
		"source.ip":                   "203.0.113.7",
		"source.port":                 int64(52311),
		"source.geo.country_iso_code": "CN",
		"event.category":              []any{"authentication"},
		"event.outcome":               "failure",
		"user.name":                   "Root",
		"message":                     "Failed password for root",
	}
	cases := []struct {
		expr string
		want bool
	}{
		{`source.ip == "203.0.113.7"`, true},
		{`source.geo.country_iso_code != "DE"`, true},
		{`"authentication" in event.category`, true},
		{`source.port > 1024 && event.outcome == "failure"`, true},
		{`lower(user.name) == "root"`, true},
		{`message contains "Failed"`, true},
		{`message matches "^Failed (password|none)"`, true},
		{`cidr(source.ip, "203.0.113.0/24")`, true},
		{`cidr(source.ip, "10.0.0.0/8")`, false},
		{`destination.ip == nil`, true},   // absent field is nil
		{`process.name == "sshd"`, false}, // absent field is no match, not an error
		{`let u = user.name; lower(u) == "root"`, true},
		{`len(event.category) == 1`, true},
	}
	machine := &vm.VM{}
	for _, c := range cases {
		cond, err := compileCondition(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got, err := cond.eval(ev, machine)
		if err != nil {
			t.Errorf("%s: runtime error %v", c.expr, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestBadConditionsFailAtCompile(t *testing.T) {
	for _, src := range []string{`source.ip ==`, `nosuchfunc(user.name)`, `"a" +`, `source.ip == "x" &&& 1`} {
		if _, err := compileCondition(src); err == nil {
			t.Errorf("%q compiled, want an error", src)
		}
	}
}
