package windows

import (
	"net/netip"
	"testing"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
	"github.com/vigil-siem/vigil/internal/ecscheck"
)

// TestEventsAreValidECS checks every event of the corpus against ECS.
// winlog.* is Elastic's Beats namespace for Windows specifics, not ECS
// core, and is allowed on purpose.
func TestEventsAreValidECS(t *testing.T) {
	flat, nested := corpusFiles(t)
	p := New(Config{})
	var events []event.Event
	for _, path := range flat {
		for _, l := range lines(t, path) {
			events = append(events, p.Parse(parsers.Source{Name: path}, l))
		}
	}
	for _, path := range nested {
		events = append(events, parseDoc(t, path)...)
	}
	for _, l := range []string{nestedRegistry, flatLogonFailed, nestedDataList, "garbage"} {
		events = append(events, p.Parse(parsers.Source{Name: "t"}, []byte(l)))
	}
	ecscheck.Check(t, events, "winlog.")
	for _, e := range events {
		for _, k := range [...]string{"source.ip", "destination.ip"} {
			if s, ok := e[k].(string); ok {
				if _, err := netip.ParseAddr(s); err != nil {
					t.Errorf("%s %q is not an IP address", k, s)
				}
			}
		}
	}
}
