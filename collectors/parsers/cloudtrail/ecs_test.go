package cloudtrail

import (
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// TestEventsAreValidECS checks every corpus event against ECS. aws.* is
// the namespace of Elastic's AWS integration, not ECS core, and is
// allowed on purpose.
func TestEventsAreValidECS(t *testing.T) {
	var events []event.Event
	for _, path := range stratusFiles(t) {
		events = append(events, parseDoc(t, path)...)
	}
	p := New(Config{})
	for _, l := range otrfLines(t) {
		events = append(events, p.Parse(parsers.Source{Name: "otrf"}, l))
	}
	for _, l := range []string{assumedRole, serviceCall, denied, "x"} {
		events = append(events, p.Parse(parsers.Source{Name: "t"}, []byte(l)))
	}
	ecscheck.Check(t, events, "aws.")
}
