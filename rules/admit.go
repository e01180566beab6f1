package rules

import "github.com/vigil-siem/vigil/event"

// MayConcern says whether an event can take part in the rule at all: it
// is false only when the event fails the requirement the rule is indexed
// by (see the rule index), a necessary condition of its where and
// condition. It reads one field: callers routing events to the engines
// that run a rule (the detect stage's re-key topic) skip the events that
// cannot concern it.
func (c *Compiled) MayConcern(ev event.Event) bool {
	return c.require == nil || c.require.mayHold(ev)
}
