package event

import (
	"testing"
	"time"
)

var timeSeeds = []string{
	"2025-12-10T06:55:46.000Z", "2025-12-10T06:55:46Z", "2024-02-29T23:59:59.999Z", "2023-02-29T00:00:00Z",
	"2025-13-01T00:00:00Z", "2025-12-10T24:00:00Z", "2025-12-10T06:60:00Z", "2025-12-10T06:55:60Z",
	"2025-12-10T06:55:46.5Z", "2025-12-10T06:55:46.123456789Z", "2025-12-10T06:55:46+01:00",
	"0000-01-01T00:00:00Z", "2025-12-10 06:55:46Z", "2025-12-1T06:55:46.000Z", "2025-04-31T00:00:00.000Z",
	"1900-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z", "+025-12-10T06:55:46Z", "2025-12-10T06:55:46.-01Z",
}

// TestTimeMatchesTimeParse: the fast path reads the times Vigil writes
// exactly as time.Parse does, and every other string the same way too.
func TestTimeMatchesTimeParse(t *testing.T) {
	for _, s := range timeSeeds {
		checkTime(t, s)
	}
}

func FuzzTimeMatchesTimeParse(f *testing.F) {
	for _, s := range timeSeeds {
		f.Add(s)
	}
	f.Fuzz(checkTime)
}

func checkTime(t *testing.T, s string) {
	got, ok := Event{FieldTimestamp: s}.Time()
	want, err := time.Parse(time.RFC3339Nano, s)
	// Two parses of one offset make two equal zones, not one: compare
	// the instant and the zone's name and offset.
	gotZone, gotOff := got.Zone()
	wantZone, wantOff := want.Zone()
	if ok != (err == nil) || !got.Equal(want) || gotZone != wantZone || gotOff != wantOff {
		t.Errorf("%q: got %v %v, time.Parse %v %v", s, got, ok, want, err)
	}
}

func TestCloneIsAnIndependentCopy(t *testing.T) {
	for _, e := range []Event{nil, {}, {"a": "x", "b.c": []any{int64(1)}}} {
		c := e.Clone()
		if c == nil || len(c) != len(e) {
			t.Fatalf("Clone(%v) = %v", e, c)
		}
		c["new"] = true
		if _, leaked := e["new"]; leaked {
			t.Errorf("a field set on the clone of %v shows in the original", e)
		}
	}
}
