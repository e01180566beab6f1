package zeek

import (
	"testing"

	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// TestEventsAreValidECS checks every corpus event against ECS. zeek.* is
// the namespace of Elastic's Zeek integration, not ECS core, and is
// allowed on purpose.
func TestEventsAreValidECS(t *testing.T) {
	var events []event.Event
	for _, pair := range logs {
		for _, rel := range []string{"tsv/" + pair[0], "json/" + pair[1]} {
			ev, _ := parseFile(t, rel)
			events = append(events, ev...)
		}
	}
	ecscheck.Check(t, events, "zeek.")
}
