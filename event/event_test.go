package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

// referenceUnmarshal decodes through encoding/json into a map tree and
// flattens it (with the slow path's flatten, which the test of duplicate
// keys below covers): the fuzz target holds the single-pass decoder to it.
func referenceUnmarshal(data []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		// encoding/json takes null for an empty map; an event is an
		// object, and a null record must not pass for an empty event.
		return nil, errors.New("null is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	if n, ok := numberOutOfRange(obj); ok {
		// encoding/json gives +Inf for 1e700 with UseNumber; an event
		// holding it could not be written back as JSON.
		return nil, fmt.Errorf("number %s out of range", n)
	}
	e := Event{}
	flatten(e, "", obj)
	if pathsCollide("", obj, map[string]bool{}) {
		// Two members flatten to one path ({"":{"0":1},"0":2}): which one
		// wins depends on document order, which a map cannot tell.
		return nil, nil
	}
	return e, nil
}

// numberOutOfRange finds a number in v that float64 cannot hold.
func numberOutOfRange(v any) (json.Number, bool) {
	switch t := v.(type) {
	case json.Number:
		if _, err := t.Float64(); err != nil {
			return t, true
		}
	case []any:
		for _, x := range t {
			if n, ok := numberOutOfRange(x); ok {
				return n, true
			}
		}
	case map[string]any:
		for _, x := range t {
			if n, ok := numberOutOfRange(x); ok {
				return n, true
			}
		}
	}
	return "", false
}

// pathsCollide says whether two leaves of obj flatten to the same path.
func pathsCollide(prefix string, obj map[string]any, seen map[string]bool) bool {
	for k, v := range obj {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if m, ok := v.(map[string]any); ok {
			if pathsCollide(path, m, seen) {
				return true
			}
			continue
		}
		if seen[path] {
			return true
		}
		seen[path] = true
	}
	return false
}

func FuzzUnmarshalMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"source":{"ip":"1.2.3.4","port":22},"tags":["a",{"b":1}],"n":1.5e3,"big":123456789012345678901,"z":null}`,
		`{"s":"caf\u00e9 \"q\" \ud83d\ude00","t":true,"f":false,"empty":{},"arr":[]}`,
		"{\"bad\":\"\xff\xfe\"}",
		`{"a":{"b":{"c":-0}},"a.b.d":"x"}`,
		` {"a":1} `,
		`{"e":"\/\b\f\n\r\t\u0041\u00e9\u20ac\\","k":"system\"","l":"sshd","m":[["a",["b"]],[],"c"]}`,
		`{"x":"\u12","y":"\q","z":"a\"b"}`,
		`{"event":{"original":"1.2.3.4 - - \"GET / HTTP/1.1\" 200 \"-\" \"curl/8\"","dataset":"apache.access"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Unmarshal(data)
		want, refErr := referenceUnmarshal(data)
		if err == nil && refErr != nil {
			t.Fatalf("Unmarshal accepted what encoding/json rejects (%v): %q", refErr, data)
		}
		if err != nil && refErr == nil {
			t.Fatalf("Unmarshal rejected (%v) what encoding/json accepts: %q", err, data)
		}
		if err == nil && want != nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decoders disagree on %q:\n got %#v\nwant %#v", data, got, want)
		}
	})
}

// TestMarshalValuesMatchEncodingJSON checks the reflection-free value
// writers against encoding/json, value by value.
func TestMarshalValuesMatchEncodingJSON(t *testing.T) {
	for _, v := range []any{
		int64(-5), int64(0), int64(1 << 62), 7, true, false, 1.5, "a<b&c\u2028", "",
		[]any{}, []any{"x", int64(2), false, 3}, []any{nil}, []any{1.25, "y"}, []string{"s"},
		map[string]any{"k": int64(1)},
	} {
		got, err := Marshal(Event{"a.b": v})
		if err != nil {
			t.Fatalf("%#v: %v", v, err)
		}
		std, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"a":{"b":` + string(std) + `}}`; string(got) != want {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
}

// Event ids are stored in Kafka and Elasticsearch: they must never change
// between versions. The reference is the hash written out by hand.
func TestMakeIDIsTheTruncatedSHA256OfSourceOffsetAndLine(t *testing.T) {
	offsets := []struct {
		n    int64
		text string
	}{{0, "0"}, {7, "7"}, {42, "42"}, {56304249, "56304249"}, {-1, "-1"},
		{math.MaxInt64, "9223372036854775807"}, {math.MinInt64, "-9223372036854775808"}}
	for _, raw := range [][]byte{[]byte("line"), nil, bytes.Repeat([]byte("x"), 2000)} {
		for _, off := range offsets {
			sum := sha256.Sum256(append([]byte("/var/log/auth.log\x00"+off.text+"\x00"), raw...))
			want := hex.EncodeToString(sum[:16])
			if got := MakeID("/var/log/auth.log", off.n, raw); got != want {
				t.Errorf("MakeID at offset %s of a %d-byte line = %s, want %s", off.text, len(raw), got, want)
			}
		}
	}
}
