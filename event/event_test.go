package event

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestMarshalNestsDottedPathsWithSortedKeys(t *testing.T) {
	e := New()
	e.Set("source.ip", "203.0.113.7")
	e.Set("source.port", int64(22))
	e.Set("event.category", []any{"authentication"})
	e.Set("@timestamp", "2026-01-02T03:04:05.000Z")
	e.Set("message", "a \"quoted\" <tag>")
	got, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-01-02T03:04:05.000Z","event":{"category":["authentication"]},"message":"a \"quoted\" \u003ctag\u003e","source":{"ip":"203.0.113.7","port":22}}`
	if string(got) != want {
		t.Fatalf("Marshal:\n got %s\nwant %s", got, want)
	}
	// The output must be valid JSON that encoding/json agrees with.
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
}

func TestRoundTripFlattensNestedAndDottedKeys(t *testing.T) {
	in := `{"@timestamp":"2026-01-02T03:04:05Z","id.orig_h":"10.0.0.1","source":{"ip":"1.2.3.4","geo":{"country_iso_code":"DE"}},"event":{"category":["authentication"],"count":3,"score":1.5},"empty":{}}`
	e, err := Unmarshal([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Event{
		"@timestamp":                  "2026-01-02T03:04:05Z",
		"id.orig_h":                   "10.0.0.1",
		"source.ip":                   "1.2.3.4",
		"source.geo.country_iso_code": "DE",
		"event.category":              []any{"authentication"},
		"event.count":                 int64(3),
		"event.score":                 1.5,
	}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("Unmarshal:\n got %#v\nwant %#v", e, want)
	}
	out, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Unmarshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("round trip changed the event:\n got %#v\nwant %#v", again, want)
	}
}

func TestValueAndParentAtSamePathKeepsBoth(t *testing.T) {
	e := Event{"a": "x", "a.b": "y"}
	out, err := Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Unmarshal(out)
	if err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("got %#v from %s", back, out)
	}
}

func TestUnmarshalRejectsNonObjects(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"a":1} {"b":2}`, `{"a":`, "\xff"} {
		if _, err := Unmarshal([]byte(in)); err == nil {
			t.Errorf("Unmarshal(%q) succeeded, want an error", in)
		}
	}
}

func TestMakeIDIsDeterministicAndPositional(t *testing.T) {
	a := MakeID("/var/log/auth.log", 10, []byte("line"))
	if a != MakeID("/var/log/auth.log", 10, []byte("line")) {
		t.Fatal("same input gave two ids")
	}
	for _, other := range []string{
		MakeID("/var/log/auth.log", 11, []byte("line")),
		MakeID("/var/log/secure", 10, []byte("line")),
		MakeID("/var/log/auth.log", 10, []byte("line2")),
	} {
		if other == a {
			t.Fatal("different positions or content gave the same id")
		}
	}
}

func TestTime(t *testing.T) {
	e := New()
	if _, ok := e.Time(); ok {
		t.Fatal("an event without @timestamp has no time")
	}
	ts := time.Date(2025, 12, 10, 6, 55, 46, 0, time.UTC)
	e.SetTime(ts)
	got, ok := e.Time()
	if !ok || !got.Equal(ts) {
		t.Fatalf("Time() = %v, %v; want %v", got, ok, ts)
	}
	e.Set("@timestamp", "not a time")
	if _, ok := e.Time(); ok {
		t.Fatal("a malformed @timestamp must not parse")
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add([]byte(`{"source":{"ip":"1.2.3.4"},"a.b":[1,2,{"c":3}]}`))
	f.Add([]byte(`{"a":"x","a.b":"y"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Unmarshal(data)
		if err != nil {
			return
		}
		out, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of a decoded event failed: %v", err)
		}
		var tree bytes.Buffer
		if err := writeNested(&tree, e); err != nil || tree.String() != string(out) {
			t.Fatalf("the streaming writer and the tree writer disagree:\n%s\n%s", out, tree.String())
		}
		if _, err := Unmarshal(out); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
	})
}
