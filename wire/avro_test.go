package wire

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/vigil-siem/vigil/event"
)

// tricky are events whose values exercise every branch of the schema and
// every Go type a parser or enricher may store.
func tricky() map[string]event.Event {
	ts := time.Date(2025, 12, 10, 6, 55, 46, 123e6, time.UTC)
	return map[string]event.Event{
		"empty": {},
		"scalars": {
			"@timestamp": "2025-12-10T06:55:46.000Z", "source.ip": "203.0.113.45", "source.port": int64(5022),
			"event.risk_score": 47.5, "event.duration": int64(-9223372036854775808), "vigil.repeat_count": 3,
			"user.admin": true, "user.disabled": false, "process.pid": int32(24200), "null.field": nil,
		},
		"strings": {
			"message": "ünïcödé \"quoted\" <tag> & \\ \n\t", "event.original": string([]byte{0xff, 0xfe, 'a'}),
			"empty.string": "", "emoji": "🔐",
		},
		"floats": {
			"a": 1.0, "b": math.Copysign(0, -1), "c": 1e21, "d": 5e-324, "e": math.MaxFloat64, "f": float32(0.1), "g": 123456789.123,
		},
		"ints": {
			"u8": uint8(255), "u16": uint16(65535), "u32": uint32(4294967295), "u64": uint64(42), "i8": int8(-128),
			"i16": int16(-32768),
		},
		"lists": {
			"related.ip": []any{"192.0.2.1", "192.0.2.2"}, "related.user": []string{"root", "admin"},
			"empty.list": []any{}, "nil.list": []any(nil), "nil.strings": []string(nil), "empty.strings": []string{},
			"mixed": []any{"a", int64(1), 2.5, true, nil, []any{"nested"}, map[string]any{"k": "v"}},
		},
		"objects": {
			"threat.enrichments": []any{
				map[string]any{"indicator": map[string]any{"ip": "198.51.100.7", "type": "ipv4-addr"},
					"matched": map[string]any{"atomic": "198.51.100.7", "field": "source.ip", "type": "indicator_match_rule"}},
				map[string]any{"indicator": map[string]any{"confidence": int64(80), "tags": []any{"c2"}}, "empty": map[string]any{}},
			},
			"top.object":   map[string]any{"a": map[string]any{"b": int64(1)}, "c": nil, "nil.map": map[string]any(nil)},
			"nil.object":   map[string]any(nil),
			"strings.map":  map[string]string{"x": "y"},
			"nested.event": event.Event{"host.name": "web-01", "host.ip": []any{"192.0.2.9"}},
		},
		"other types": {
			"time": ts, "number": json.Number("12"), "float.number": json.Number("1.5"), "struct": struct {
				A string `json:"a"`
				B int    `json:"b"`
			}{"x", 2},
		},
		"parent and child": {"a": "value", "a.b": "child", "a.b.c": int64(3)},
	}
}

// TestAvroRoundTripIsLossless: an event decoded from Avro marshals to
// the same JSON as the original, for every value type.
func TestAvroRoundTripIsLossless(t *testing.T) {
	for name, ev := range tricky() {
		t.Run(name, func(t *testing.T) {
			want, err := event.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			b, err := appendEvent(nil, ev)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got, err := readEvent(b, nil)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			gotJSON, err := event.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(gotJSON, want) {
				t.Errorf("JSON differs after Avro\n got %s\nwant %s", gotJSON, want)
			}
			again, err := appendEvent(nil, got)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("re-encoding the decoded event gives other bytes (err %v)", err)
			}
		})
	}
}

// TestAvroIsReadByHamba: hamba/avro (the library the Confluent avrov2
// serde uses) reads our bytes with Schema, and we read what it writes,
// so the codec here speaks Avro and not a look-alike.
func TestAvroIsReadByHamba(t *testing.T) {
	schema, err := avro.ParseWithCache(Schema, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range tricky() {
		t.Run(name, func(t *testing.T) {
			ours, err := appendEvent(nil, ev)
			if err != nil {
				t.Fatal(err)
			}
			var generic any
			if err := avro.Unmarshal(schema, ours, &generic); err != nil {
				t.Fatalf("hamba cannot read our bytes: %v", err)
			}
			fromHamba := event.Event{}
			for k, v := range generic.(map[string]any)["fields"].(map[string]any) {
				fromHamba[k] = unwrapHamba(t, v)
			}
			want, _ := readEvent(ours, nil)
			if !reflect.DeepEqual(fromHamba, want) {
				t.Errorf("hamba read\n%#v\nwe read\n%#v", fromHamba, want)
			}

			fields := map[string]any{}
			for k, v := range want {
				fields[k] = wrapHamba(v)
			}
			theirs, err := avro.Marshal(schema, map[string]any{"fields": fields})
			if err != nil {
				t.Fatalf("hamba cannot write the event: %v", err)
			}
			got, err := readEvent(theirs, nil)
			if err != nil {
				t.Fatalf("we cannot read hamba's bytes: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("from hamba's bytes we read\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

// unwrapHamba turns hamba's generic form of a Value ({"v": {"long": 1}})
// into ours (int64(1)).
func unwrapHamba(t *testing.T, v any) any {
	u := v.(map[string]any)["v"]
	if u == nil {
		return nil
	}
	m := u.(map[string]any)
	if len(m) != 1 {
		t.Fatalf("union with %d branches: %v", len(m), m)
	}
	for branch, x := range m {
		switch branch {
		case "array":
			out := []any{}
			for _, e := range x.([]any) {
				out = append(out, unwrapHamba(t, e))
			}
			return out
		case "map":
			out := map[string]any{}
			for k, e := range x.(map[string]any) {
				out[k] = unwrapHamba(t, e)
			}
			return out
		case "boolean", "long", "double", "string":
			return x
		}
		t.Fatalf("unknown branch %s", branch)
	}
	return nil
}

// wrapHamba is the inverse of unwrapHamba, for values readEvent returns.
func wrapHamba(v any) any {
	var u any
	switch x := v.(type) {
	case nil:
	case bool:
		u = map[string]any{"boolean": x}
	case int64:
		u = map[string]any{"long": x}
	case float64:
		u = map[string]any{"double": x}
	case string:
		u = map[string]any{"string": x}
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			items[i] = wrapHamba(e)
		}
		u = map[string]any{"array": items}
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = wrapHamba(e)
		}
		u = map[string]any{"map": m}
	}
	return map[string]any{"v": u}
}

// TestNumbersAsJSONReadsThem: a consumer gets the same Go number from an
// Avro record as from the JSON record (event.Unmarshal): integral floats
// JSON writes as integers are longs, larger ones and -0 stay doubles, an
// integer above the range of long is a double. (-0 is the exception:
// JSON writes it "-0" and event.Unmarshal reads an int64 0; Avro keeps
// the double, so the JSON written after decoding is still "-0".)
func TestNumbersAsJSONReadsThem(t *testing.T) {
	for _, v := range []any{
		2230.0, -7.0, float64(1 << 53), float64(1 << 60), 1e20, 9.3e18, -9.223372036854775808e18, 1e21,
		0.5, uint64(math.MaxUint64), uint64(math.MaxInt64), int64(math.MinInt64),
	} {
		ev := event.Event{"n": v}
		b, err := appendEvent(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readEvent(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := event.Marshal(ev)
		viaJSON, _ := event.Unmarshal(j)
		if !reflect.DeepEqual(got, viaJSON) {
			t.Errorf("%T %v: Avro gives %#v, JSON gives %#v", v, v, got["n"], viaJSON["n"])
		}
	}
}

// TestEncodeRejectsWhatJSONCannotCarry: values event.Marshal rejects are
// rejected by the Avro encoder too, instead of being written and failing
// downstream.
func TestEncodeRejectsWhatJSONCannotCarry(t *testing.T) {
	for name, v := range map[string]any{
		"NaN": math.NaN(), "Inf": math.Inf(1), "nested NaN": []any{math.Inf(-1)},
		"channel": make(chan int), "deep": deepList(maxDepth + 2),
	} {
		if _, err := appendEvent(nil, event.Event{"x": v}); err == nil {
			t.Errorf("%s: encoded without error", name)
		}
	}
}

func deepList(n int) any {
	var v any = "leaf"
	for range n {
		v = []any{v}
	}
	return v
}

// TestBlocksWithByteSizes: Avro writers may frame a block with a negative
// count followed by its size in bytes, and split a map or array into
// several blocks; both are read.
func TestBlocksWithByteSizes(t *testing.T) {
	// map: block of -1 item (5 bytes) "k" → string "v"; block of 1 item
	// "a" → array in two blocks [long 1] [-1 item, 2 bytes: long 2]; end.
	b := []byte{1, 10, 2, 'k', 8, 2, 'v', 2, 2, 'a', 10, 2, 4, 2, 1, 4, 4, 4, 0, 0}
	got, err := readEvent(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := event.Event{"k": "v", "a": []any{int64(1), int64(2)}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}
