package event

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/internal/corpus"
)

// sameAsOldDecoder fails t unless Unmarshal decodes data exactly as the
// old decoder (oracle_decode_test.go) does: the same event, value types
// included, or the same error.
func sameAsOldDecoder(t *testing.T, data []byte) {
	t.Helper()
	if diff := diffOldDecoder(data); diff != "" {
		t.Fatal(diff)
	}
}

// diffOldDecoder says how Unmarshal and the old decoder differ on data,
// "" when they agree.
func diffOldDecoder(data []byte) string {
	want, wantErr := oldUnmarshal(data)
	got, err := Unmarshal(data)
	if (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
		return fmt.Sprintf("error %v, the old decoder's %v\ninput %q", err, wantErr, data)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("decoders disagree on %q:\n got %#v\nwant %#v", data, got, want)
	}
	return ""
}

// decodeCases are documents the decoders must agree on: every kind of
// value, escapes, invalid input, duplicates, depth and odd numbers.
var decodeCases = []string{
	`{"source":{"ip":"1.2.3.4","port":22},"tags":["a",{"b":1}],"n":1.5e3,"big":123456789012345678901,"z":null}`,
	`{"s":"caf\u00e9 \"q\" \ud83d\ude00","t":true,"f":false,"empty":{},"arr":[]}`,
	"{\"bad\":\"\xff\xfe\"}",
	"{\"ok\":\"caf\xc3\xa9 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 long enough\"}",
	`{"a":{"b":{"c":-0}},"a.b.d":"x"}`,
	` {"a":1} `,
	`{"e":"\/\b\f\n\r\t\u0041\u00e9\u20ac\\","k":"system\"","l":"sshd","m":[["a",["b"]],[],"c"]}`,
	`{"x":"\u12","y":"\q","z":"a\"b"}`,
	`{"event":{"original":"1.2.3.4 - - \"GET / HTTP/1.1\" 200 \"-\" \"curl/8\"","dataset":"apache.access"}}`,
	`{"a":1,"a":2}`,
	`{"a":{"b":1,"b":{"c":2}},"x":"y"}`,
	`{"a":{"b":1},"a":{"c":2}}`,
	`{"a.b":1,"a":{"b":2}}`,
	`{"n":[1,-1,0.5,1e400]}`,
	`{"n":1e400}`,
	`{"n":-9223372036854775808,"m":9223372036854775807,"o":9223372036854775808,"p":-9223372036854775809}`,
	`{"n":123456789012345678,"m":1234567890123456789,"f":0.1,"g":-2.5E-3,"h":1E+2}`,
	`{"n":01}`, `{"n":-}`, `{"n":1.}`, `{"n":1e}`, `{"n":.5}`, `{"n":+1}`,
	`{"t":tru}`, `{"t":truex}`, `{"t":nul}`, `{"t":fals}`,
	`{"a":"unterminated`, `{"a":"ctl` + "\x01" + `"}`, `{"a":"tab` + "\t" + `"}`,
	`{"a":1`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `{"a":[1,2}`, `{"a":[1 2]}`, `[1]`, `"s"`, ``, `   `, `{}`, `{} x`, `{}{}`,
	`{"":{"":""}}`, `{"\u0061":1}`, `{"a\u002eb":1}`, `{"k\"ey":{"x":1}}`,
	`{"deep":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200) + `}`,
	`{"deeparr":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `}`,
	`{"u":"\uD800","v":"\uDC00\uD800","w":"\ud83d\ude00x","x":"\u0000","y":"\u00ff\u0100"}`,
	`{"arr":[{"a":{"b":1}},{"c":[1,2,{"d":null}]},"s",true,null,1.5,-7]}`,
	`{"arr":[{"a":1,"a":2}]}`,
	`{"arr":[{"a":}]}`,
	`{"a":[` + strings.Repeat(`"x",`, 40) + `"y"],"b":["p","q"],"c":[["r"]]}`,
	`{"@timestamp":"2025-12-10T06:55:46.000Z","event":{"category":["authentication"],"type":["start"],"outcome":"failure"},"related":{"ip":["183.62.140.253"],"user":["root"]}}`,
	`{"a":"12345678","b":"1234567\"","c":"123456789abcdef\\","d":"` + strings.Repeat("z", 100) + `"}`,
	"{\"a\":\"1234567\xc3\xa9\",\"b\":\"\xc3\xa912345678\"}",
	`{"p":22,"q":256,"r":-1,"s":65535,"t":4294967296,"u":[300,400,500],"v":1000,"w":-256,"x":255,"y":99999,"z":123456}`,
	`{"n":1234,"s":"after an integer","m":"` + strings.Repeat("m", 40) + `"}`,
}

// textSizeCases are events whose strings need text buffers around each
// size the first chunks come in, and beyond, with integers among them.
func textSizeCases() []string {
	var out []string
	for _, n := range []int{1, 100, 240, 300, 330, 420, 460, 560, 600, 700, 720, 820, 850, 950, 1000, 1080, 1100, 1590, 1700, 4000} {
		out = append(out, `{"@timestamp":"2025-12-10T06:55:46.000Z","message":"`+strings.Repeat("a", n)+
			`","source":{"port":4242,"ip":"10.0.0.1"},"tail":"`+strings.Repeat("b\\n", n/3)+`","arr":[1000,"x"]}`)
	}
	return out
}

// TestUnmarshalTextSizes decodes events of every text buffer size like the
// old decoder, and checks their strings and integers stay intact when the
// input buffer is overwritten and the garbage collector has run.
func TestUnmarshalTextSizes(t *testing.T) {
	for _, c := range textSizeCases() {
		sameAsOldDecoder(t, []byte(c))
		buf := []byte(c)
		got, err := Unmarshal(buf)
		if err != nil {
			t.Fatal(err)
		}
		for i := range buf {
			buf[i] = 'X'
		}
		runtime.GC()
		want, err := oldUnmarshal([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("event changed after its input was overwritten:\n got %#v\nwant %#v", got, want)
		}
	}
}

func TestUnmarshalMatchesOldDecoder(t *testing.T) {
	for _, c := range decodeCases {
		sameAsOldDecoder(t, []byte(c))
		// Every prefix: truncated input fails the same way.
		for i := range len(c) {
			sameAsOldDecoder(t, []byte(c[:i]))
		}
	}
}

// TestUnmarshalMatchesOldDecoderOnCorpus decodes real JSON logs (Suricata,
// Zeek, Kubernetes audit) with both decoders.
func TestUnmarshalMatchesOldDecoderOnCorpus(t *testing.T) {
	dir := corpus.Dir(t)
	var files []string
	for _, glob := range []string{"suricata-eve/*.json", "suricata-eve/*.log", "zeek-wrccdc2018/json/*.json", "k8s-audit-falco/trace_files/*.json"} {
		m, _ := filepath.Glob(filepath.Join(dir, glob))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("no JSON logs in the corpus")
	}
	lines := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			sameAsOldDecoder(t, line)
			lines++
		}
	}
	if lines < 1000 {
		t.Fatalf("only %d lines compared", lines)
	}
}

// TestUnmarshalArraysAreIndependent checks that arrays sharing a backing
// chunk do not see each other's appends.
func TestUnmarshalArraysAreIndependent(t *testing.T) {
	e, err := Unmarshal([]byte(`{"a":["x","y"],"b":["z"]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := e["a"].([]any)
	a = append(a, "appended")
	a[0] = "changed"
	if b := e["b"].([]any); len(b) != 1 || b[0] != "z" {
		t.Fatalf("b = %#v after appending to a", b)
	}
	if orig := e["a"].([]any); orig[0] != "x" || len(orig) != 2 {
		t.Fatalf("a = %#v after appending to a copy of it", orig)
	}
}

func FuzzUnmarshalMatchesOldDecoder(f *testing.F) {
	for _, c := range append(decodeCases, textSizeCases()...) {
		f.Add([]byte(c))
	}
	if dir := corpus.Root(); dir != "" {
		for _, glob := range []string{"suricata-eve/*.json", "zeek-wrccdc2018/json/*.json"} {
			files, _ := filepath.Glob(filepath.Join(dir, glob))
			for _, file := range files[:min(len(files), 6)] {
				data, err := os.ReadFile(file)
				if err != nil {
					f.Fatal(err)
				}
				for _, line := range bytes.SplitN(data, []byte("\n"), 4)[:min(3, bytes.Count(data, []byte("\n")))] {
					f.Add(line)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsOldDecoder(t, data)
	})
}

// TestUnmarshalConcurrently decodes from several goroutines at once (the
// decoders share pooled scratch memory) and checks every result.
func TestUnmarshalConcurrently(t *testing.T) {
	var docs [][]byte
	for _, c := range decodeCases {
		docs = append(docs, []byte(c))
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				if diff := diffOldDecoder(docs[(g+i)%len(docs)]); diff != "" {
					t.Error(diff)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

// BenchmarkUnmarshalOldDecoder is BenchmarkUnmarshal with the decoder this
// one replaced, for comparison.
func BenchmarkUnmarshalOldDecoder(b *testing.B) {
	data, err := Marshal(sampleEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := oldUnmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestShortStringMatchesByteLoop checks the eight-byte string end test
// against a byte loop on words of every interesting byte at every place.
func TestShortStringMatchesByteLoop(t *testing.T) {
	bytesOf := []byte{'a', '"', '\\', 0x1f, 0x20, 0x7f, 0x80, 0xff, 0x00, 0x22 ^ 0x01}
	var w [8]byte
	var check func(i int)
	check = func(i int) {
		if i == 8 {
			wantN, wantOK := 0, false
			for j, c := range w {
				if c == '"' {
					wantN, wantOK = j, true
					break
				}
				if c == '\\' || c < 0x20 || c >= 0x80 {
					break
				}
			}
			n, ok := shortString(binary.LittleEndian.Uint64(w[:]))
			if ok != wantOK || ok && n != wantN {
				t.Fatalf("shortString(%q) = %d, %v; want %d, %v", w[:], n, ok, wantN, wantOK)
			}
			return
		}
		for _, c := range bytesOf {
			w[i] = c
			check(i + 1)
		}
	}
	// Every byte kind in the first four places, plain or quote after.
	for _, tail := range []byte{'a', '"'} {
		for j := 4; j < 8; j++ {
			w[j] = tail
		}
		var four func(i int)
		four = func(i int) {
			if i == 4 {
				check(8)
				return
			}
			for _, c := range bytesOf {
				w[i] = c
				four(i + 1)
			}
		}
		four(0)
	}
	// And every kind in the last places after plain bytes.
	for j := range 4 {
		w[j] = 'x'
	}
	check(4)
}

// TestKnownTableFindsExactlyTheInternedStrings checks the decoder's table
// of known strings against the map it is built from.
func TestKnownTableFindsExactlyTheInternedStrings(t *testing.T) {
	for s := range interned {
		k := known.find([]byte(s))
		if len(s) <= maxKnownLen && (k == nil || k.s != s || k.v != any(s)) {
			t.Fatalf("known.find(%q) = %v", s, k)
		}
	}
	for _, s := range []string{"", "x", "sourc", "source.ipx", "Source.ip", "2025-12-10T06:55:46.000Z", "183.62.140.253",
		"event.actio", "event.actionn", strings.Repeat("a", 49), "\u00e9vent"} {
		if _, ok := interned[s]; ok {
			continue
		}
		if k := known.find([]byte(s)); k != nil {
			t.Errorf("known.find(%q) = %q, want nothing", s, k.s)
		}
	}
}

// TestScratchReleaseHoldsNoInput checks that pooled scratch memory keeps
// no reference to a decoded document, after success or failure.
func TestScratchReleaseHoldsNoInput(t *testing.T) {
	for _, doc := range []string{`{"a":{"b":["x",{"c":1}],"k":"v"},"d":[1,["y"]]}`, `{"a":{"b":["x","y",`, `{"a":{"b":1,"c":[1,{"x":}]}}`} {
		sc := scratchPool.New().(*scratch)
		d := decoder{data: []byte(doc), pos: 1}
		_ = d.object(make(Event), 0, sc)
		if sc.keysUsed == 0 {
			t.Fatalf("%s: no keys recorded", doc)
		}
		sc.release()
		for i, k := range sc.keys[:cap(sc.keys)] {
			if k != nil {
				t.Fatalf("%s: key %d still held after release", doc, i)
			}
		}
		for i, v := range sc.elems[:cap(sc.elems)] {
			if v != nil {
				t.Fatalf("%s: element %d still held after release", doc, i)
			}
		}
	}
}

// TestSingletons checks the one-allocation arrays hold their values and
// that appending to one leaves the other alone.
func TestSingletons(t *testing.T) {
	cat, typ := Singletons("authentication", "start")
	c, ty := cat.([]any), typ.([]any)
	if !reflect.DeepEqual(c, []any{"authentication"}) || !reflect.DeepEqual(ty, []any{"start"}) {
		t.Fatalf("Singletons = %#v, %#v", c, ty)
	}
	c = append(c, "x")
	c[0] = "changed"
	if !reflect.DeepEqual(typ, []any{"start"}) || !reflect.DeepEqual(cat, []any{"authentication"}) {
		t.Fatalf("after appending to one: %#v, %#v", cat, typ)
	}
	one := Singleton("10.0.0.1")
	runtime.GC()
	if !reflect.DeepEqual(one, []any{"10.0.0.1"}) {
		t.Fatalf("Singleton = %#v", one)
	}
	if n := testing.AllocsPerRun(100, func() { cat, typ = Singletons("a", "b") }); n != 1 {
		t.Fatalf("Singletons allocates %v times, want 1", n)
	}
}
