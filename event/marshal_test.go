package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-siem/vigil/internal/corpus"
)

// writeNested writes e with the tree writer alone, whatever its paths:
// FuzzUnmarshal holds the one-pass writer to it.
func writeNested(buf *bytes.Buffer, e Event) error {
	b, err := appendNested(nil, e)
	buf.Write(b)
	return err
}

// sameAsOldWriter fails t unless Marshal and AppendMarshal write e exactly
// as the old writer (oracle_test.go) does, or fail with the same error.
// Each event is written several times: its key set is seen for the first
// time, then gets a plan, then is written through the plan.
func sameAsOldWriter(t *testing.T, e Event) {
	t.Helper()
	want, wantErr := oldMarshal(e)
	for round := range 3 {
		got, err := Marshal(e)
		if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("round %d: error %v, the old writer's %v\nevent %#v", round, err, wantErr, e)
		}
		if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("round %d:\n got %q\nwant %q\nevent %#v", round, got, want, e)
		}
		prefix := []byte("prefix")
		app, err := AppendMarshal(prefix, e)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("round %d: AppendMarshal error %v, the old writer's %v", round, err, wantErr)
		}
		if wantApp := append([]byte("prefix"), want...); !bytes.Equal(app, wantApp) {
			t.Fatalf("round %d: AppendMarshal\n got %q\nwant %q", round, app, wantApp)
		}
	}
}

func TestMarshalMatchesOldWriter(t *testing.T) {
	many := Event{}
	for i := range 200 {
		many["f"+strconv.Itoa(i%7)+".g"+strconv.Itoa(i)] = int64(i)
	}
	deep := Event{"a.b.c.d.e.f.g.h.i.j.k.l": "deep", "a.b.c.d.e.f.g.h.i.j.x": true, "a.b.z": 1, "b": "x"}
	long := Event{strings.Repeat("k", 5000) + ".x": "v", strings.Repeat("k", 5000) + ".y": "w"}
	for name, e := range map[string]Event{
		"sample":           sampleEvent(),
		"empty":            {},
		"nil":              nil,
		"one":              {"message": "hello"},
		"value and parent": {"a": "x", "a.b": "y", "a.c.d": int64(1), "b": true, "a.b.e": 2.5},
		"values":           {"s": "a<b>&c\u2028\u2029\x00\x1f\b\f\n\r\t\"\\\x7f", "i": int64(-9), "n": 42, "t": true, "f": false, "nil": nil},
		"invalid utf-8":    {"k\xff.x": "v\xfe\xc3", "\xed\xa0\x80": "surrogate"},
		"floats": {"a": 1.5, "b": -0.0, "c": 1e21, "d": 1e-7, "e": 123456789.0, "f": 1e20, "g": 5e-324,
			"h": math.MaxFloat64, "i": 0.000001, "j": -1e-7, "k": 1e100},
		"NaN":              {"x.y": math.NaN(), "a": "b"},
		"Inf":              {"x": math.Inf(-1)},
		"Inf in array":     {"x.y": []any{1.0, math.Inf(1)}},
		"NaN nested":       {"e": Event{"in.f": math.NaN()}},
		"NaN in tree":      {"a": "x", "a.b": math.NaN()},
		"arrays":           {"a": []any{}, "b": []any(nil), "c": []any{"x", int64(1), 2, true, 2.5}, "d": []any{nil}, "e": []any{[]any{"x"}, map[string]any{"k": 1}}, "f": []string{"s"}},
		"objects":          {"m": map[string]any{"z": 1, "a": []any{"<"}}, "ev": Event{"x.y": "z", "x.a": int64(1)}, "empty": Event{}},
		"other types":      {"t": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "f32": float32(1.1), "u": uint8(7), "b": []byte("raw")},
		"unmarshalable":    {"c.d": make(chan int)},
		"odd keys":         {"": "empty", ".": "dot", "a.": "trailing", ".a": "leading", "a..b": "double", "a_b": 1, "a.b": 2, "ab": 3, "a<b.c": "html"},
		"prefix order":     {"a.b": 1, "a_b": 2, "a-b.c": 3, "a.b.c.d": 4, "a.c": 5, "aa.b": 6},
		"more than 32":     many,
		"deeper than 8":    deep,
		"long keys":        long,
		"same path twice?": {"x.y": 1, "x.z": "2", "x.y.": 3},
	} {
		t.Run(name, func(t *testing.T) { sameAsOldWriter(t, e) })
	}
}

// TestPlanRefusesAnotherKeySet checks the guard that makes a hash
// collision harmless: a plan writes nothing for an event whose keys are
// not its own, even with as many keys.
func TestPlanRefusesAnotherKeySet(t *testing.T) {
	for name, other := range map[string]Event{
		"another key":            {"a.b": 1, "a.d": 2},
		"bad value, another key": {"a.b": math.NaN(), "a.d": 2},
		"bad value, same keys":   {"a.b": math.NaN(), "a.c": 2},
		"fewer keys":             {"a.b": 1},
		"more keys":              {"a.b": 1, "a.c": 2, "z": 3},
		"value parent":           {"a": 1, "a.c": 2},
		"same key sets":          {"a.b": "x", "a.c": "y"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, own := range []Event{{"a.b": 1, "a.c": 2}, {"a": 0, "a.b": 0}} {
				p := newPlan(keySetHash(own), own)
				if p.tooLarge {
					t.Fatal("no plan for a small event")
				}
				same := len(own) == len(other)
				for k := range own {
					if _, ok := other[k]; !ok {
						same = false
					}
				}
				out, ok, err := p.append([]byte("x"), other)
				if ok != same {
					t.Fatalf("plan of %v used for %v: %v", own, other, ok)
				}
				if !ok && string(out) != "x" {
					t.Fatalf("a refused plan wrote %q", out)
				}
				if ok {
					want, wantErr := oldMarshal(other)
					if wantErr != nil {
						if err == nil || err.Error() != wantErr.Error() {
							t.Fatalf("error %v, want %v", err, wantErr)
						}
					} else if err != nil || string(out) != "x"+string(want) {
						t.Fatalf("got %q, %v; want x%s", out, err, want)
					}
				}
			}
		})
	}
}

// TestMarshalMatchesOldWriterOnCorpus decodes real JSON logs (Suricata,
// Zeek, Kubernetes audit) and writes each event as the old writer does.
func TestMarshalMatchesOldWriterOnCorpus(t *testing.T) {
	dir := corpus.Dir(t)
	var files []string
	for _, glob := range []string{"suricata-eve/*.json", "zeek-wrccdc2018/json/*.json", "k8s-audit-falco/trace_files/*.json"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no JSON logs in the corpus")
	}
	events := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.Split(data, []byte("\n"))
		for i, line := range lines[:min(len(lines), 500)] {
			e, err := Unmarshal(line)
			if err != nil {
				continue // not one JSON object per line, or broken on purpose
			}
			events++
			t.Run(filepath.Base(f)+":"+strconv.Itoa(i+1), func(t *testing.T) { sameAsOldWriter(t, e) })
		}
	}
	if events < 1000 {
		t.Fatalf("only %d events decoded from %d corpus files", events, len(files))
	}
}

// FuzzMarshalMatchesOldWriter builds events from fuzz input (NUL-separated
// keys, values of every type the writers treat differently) and holds the
// writer to the old one, byte for byte and error for error.
func FuzzMarshalMatchesOldWriter(f *testing.F) {
	var seed bytes.Buffer
	for k, v := range sampleEvent() {
		seed.WriteString(k + "\x00" + Stringify(v) + "\x00")
	}
	f.Add(seed.Bytes(), 1.5)
	f.Add([]byte("a\x00x\x00a.b\x00y\x00a.b.c\x00\xff<\u2028\x00"), math.NaN())
	f.Add([]byte("source.ip\x00203.0.113.7\x00source.port\x0022\x00source.geo.location.lat\x00\x00"), 1e-7)
	f.Add([]byte(`{"event":{"original":"1.2.3.4 - - \"GET / HTTP/1.1\" 200"}}`+"\x00x"), 1e21)
	f.Fuzz(func(t *testing.T, data []byte, x float64) {
		parts := bytes.Split(data, []byte{0})
		e := Event{}
		for i := 0; i+1 < len(parts); i += 2 {
			k, s := string(parts[i]), string(parts[i+1])
			var n int64
			if len(parts[i+1]) >= 8 {
				n = int64(binary.LittleEndian.Uint64(parts[i+1]))
			}
			switch len(k) % 8 {
			case 0:
				e[k] = s
			case 1:
				e[k] = n
			case 2:
				e[k] = x * float64(i+1)
			case 3:
				e[k] = []any{s, n, x, len(s)%2 == 0}
			case 4:
				e[k] = Event{s: x, "v." + s: k}
			case 5:
				e[k] = len(s) > 3
			case 6:
				e[k] = int(n)
			default:
				e[k] = []any{s, map[string]any{s: x}}
			}
		}
		sameAsOldWriter(t, e)
		if len(e) > 0 {
			// As many keys, one of them another: e's plan must not serve.
			other := e.Clone()
			k := slices.Min(slices.Collect(maps.Keys(e)))
			other[k+"~"] = other[k]
			delete(other, k)
			sameAsOldWriter(t, other)
		}
		if dec, err := Unmarshal(data); err == nil {
			sameAsOldWriter(t, dec)
		}
	})
}

// corpusEvents decodes up to n lines of each JSON log of the corpus:
// Suricata and Zeek logs of many record types, so many key sets.
func corpusEvents(tb testing.TB, n int) []Event {
	dir := corpus.Dir(tb)
	var events []Event
	for _, glob := range []string{"suricata-eve/*.json", "zeek-wrccdc2018/json/*.json"} {
		files, _ := filepath.Glob(filepath.Join(dir, glob))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			lines := bytes.Split(data, []byte("\n"))
			for _, line := range lines[:min(len(lines), n)] {
				if e, err := Unmarshal(line); err == nil {
					events = append(events, e)
				}
			}
		}
	}
	if len(events) == 0 {
		tb.Skip("no JSON logs in the corpus")
	}
	return events
}

// BenchmarkMarshalMixed writes real events of many formats in turn (the
// detect stage and scan see such a mix), with the writer and with the old
// one for comparison.
func BenchmarkMarshalMixed(b *testing.B) {
	events := corpusEvents(b, 200)
	for _, w := range []struct {
		name    string
		marshal func(Event) ([]byte, error)
	}{{"writer=plan", Marshal}, {"writer=old", oldMarshal}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := w.marshal(events[i%len(events)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkMarshalOneOff writes events whose key sets are each new to the
// writer: the cost of the plan cache when it never helps.
func BenchmarkMarshalOneOff(b *testing.B) {
	base := sampleEvent()
	events := make([]Event, 4096)
	for i := range events {
		events[i] = base.Clone()
		events[i]["labels.k"+strconv.Itoa(i)] = "v"
	}
	for _, w := range []struct {
		name    string
		marshal func(Event) ([]byte, error)
	}{{"writer=plan", Marshal}, {"writer=old", oldMarshal}} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := w.marshal(events[i%len(events)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// TestAppendStringMatchesEncodingJSON puts every byte value, and a few
// multi-byte characters, at every position of a string long enough for
// the word-at-a-time scan, and compares with encoding/json.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var specials []string
	for c := range 256 {
		specials = append(specials, string([]byte{byte(c)}))
	}
	specials = append(specials, "é", "\u2028", "\u2029", "€", "😀", "\xed\xa0\x80", "\xc3")
	for _, sp := range specials {
		for pos := range 20 {
			s := strings.Repeat("a", pos) + sp + strings.Repeat("b", 19-pos)
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendString(nil, s); !bytes.Equal(got, want) {
				t.Fatalf("%q: got %s, want %s", s, got, want)
			}
		}
	}
}

// TestMarshalConcurrentlyMatchesOldWriter writes events of several key
// sets, some of the same size, from several goroutines at once, so plans
// are built, replaced and used concurrently (run with -race).
func TestMarshalConcurrentlyMatchesOldWriter(t *testing.T) {
	var events []Event
	for i := range 12 {
		e := sampleEvent()
		e["labels.k"+strconv.Itoa(i%6)] = strconv.Itoa(i)
		if i%3 == 0 {
			e["labels.extra"] = 1.5
		}
		events = append(events, e, Event{"a": i, "a.b" + strconv.Itoa(i%2): "x"})
	}
	want := make([][]byte, len(events))
	for i, e := range events {
		want[i] = must(oldMarshal(e))
	}
	errs := make(chan error, 4)
	for g := range 4 {
		go func() {
			for n := range 2000 {
				i := (n*7 + g) % len(events)
				got, err := Marshal(events[i])
				if err != nil || !bytes.Equal(got, want[i]) {
					errs <- fmt.Errorf("event %d: got %s, %v; want %s", i, got, err, want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkAppendMarshal is BenchmarkMarshal into a reused buffer: what
// a caller saves by encoding a batch into one arena.
func BenchmarkAppendMarshal(b *testing.B) {
	e := sampleEvent()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMarshal(buf[:0], e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
