package rules

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/event"
)

// TestAlertJSONWritesEventsAsEncodingJSONWould: the events spliced into
// an alert's JSON are byte for byte what encoding/json writes for them,
// HTML escapes, odd values and a nil event included.
func TestAlertJSONWritesEventsAsEncodingJSONWould(t *testing.T) {
	rs, errs := LoadFS(Pack(), ".")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	e := NewEngine(rs, EngineConfig{Now: func() time.Time { return t0 }})
	var brute Alert
	for _, ev := range failures(10, t0, time.Second, "203.0.113.45") {
		for _, a := range e.Process(ev) {
			brute = a
		}
	}
	if len(brute.Vigil.Alert.Events) == 0 {
		t.Fatal("no brute-force alert to encode")
	}
	odd := brute
	odd.Vigil.Alert.Events = []event.Event{
		{"message": `<script>alert("x") & 'y'</script>` + "\u2028\u2029\x01", "a.b": []any{int64(1), 2.5, nil, true}},
		nil,
		{"events": "null", "vigil.alert.events": `"events":null`},
	}
	none := brute
	none.Vigil.Alert.Events = nil
	for name, a := range map[string]Alert{"brute force": brute, "odd events": odd, "no events": none} {
		got, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := json.Marshal(alertJSON(a))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// got also holds the Fields members after the struct's.
		want = want[:len(want)-1]
		if !bytes.HasPrefix(got, want) {
			t.Errorf("%s:\n got %s\nwant %s...", name, got, want)
		}
	}
}
