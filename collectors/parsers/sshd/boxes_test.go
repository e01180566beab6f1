package sshd

import (
	"reflect"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/collectors/parsers"
	"github.com/vigil-siem/vigil/event"
)

// TestEventsOwnTheirValues: Parse shares one allocation between the id
// and the line's text, and boxes the values of an event in shared
// chunks. The events must still be what a plain copy would give: the
// caller may reuse its line buffer, and appending to one array of an
// event (a later stage adding to related.ip) changes no other field, of
// that event or of the next one.
func TestEventsOwnTheirValues(t *testing.T) {
	lines := seedLines(t)
	p := New(Config{Reference: time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)})
	buf := make([]byte, 0, 4096)
	var events, snapshots []event.Event
	for i, l := range lines {
		buf = append(buf[:0], l...)
		src := parsers.Source{Name: "auth.log", Offset: int64(i)}
		e := p.Parse(src, buf)
		if e.ID() != event.MakeID(src.Name, src.Offset, l) || e.String(event.FieldOriginal) != trimEOL(string(l)) {
			t.Fatalf("line %d: id %q, event.original %q; want MakeID's id and the line", i, e.ID(), e.String(event.FieldOriginal))
		}
		for j := range buf {
			buf[j] = '#'
		}
		events = append(events, e)
		snapshots = append(snapshots, deepCopy(e))
	}
	for i, e := range events {
		for k, v := range e {
			if list, ok := v.([]any); ok {
				e[k] = append(list, "appended by a later stage")
			}
		}
		for k, v := range e {
			if list, ok := v.([]any); ok {
				v = list[:len(list)-1]
			}
			if !reflect.DeepEqual(v, snapshots[i][k]) {
				t.Fatalf("line %d (%s): %s = %#v after appending to the arrays, was %#v", i, lines[i], k, v, snapshots[i][k])
			}
		}
		if i > 0 && !reflect.DeepEqual(events[i-1], withAppended(snapshots[i-1])) {
			t.Fatalf("line %d: appending to its arrays changed the event before it", i)
		}
	}
}

func deepCopy(e event.Event) event.Event {
	c := event.Event{}
	for k, v := range e {
		if list, ok := v.([]any); ok {
			v = append([]any(nil), list...)
		}
		c[k] = v
	}
	return c
}

func withAppended(e event.Event) event.Event {
	c := deepCopy(e)
	for k, v := range c {
		if list, ok := v.([]any); ok {
			c[k] = append(list, "appended by a later stage")
		}
	}
	return c
}
