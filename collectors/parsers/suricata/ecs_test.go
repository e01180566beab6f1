package suricata

import (
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// TestEventsAreValidECS checks every corpus event against ECS.
// suricata.eve.* is the namespace of Elastic's Suricata integration, not
// ECS core, and is allowed on purpose.
func TestEventsAreValidECS(t *testing.T) {
	var events []event.Event
	for _, name := range corpusNames {
		events = append(events, parseFile(t, name)...)
	}
	p := New(Config{})
	for _, l := range []string{tlsLine, flowLine, dropLine} {
		events = append(events, p.Parse(parsers.Source{Name: "t"}, []byte(l)))
	}
	ecscheck.Check(t, events, "suricata.eve.")
}
