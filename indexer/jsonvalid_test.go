package indexer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-siem/vigil/internal/corpus"
)

// realJSONLines returns lines of Suricata EVE files from the corpus: one
// clean, one with broken lines (binary garbage, cut records), so the
// seeds hold both valid and invalid JSON. Nil without the corpus.
func realJSONLines(tb testing.TB) [][]byte {
	tb.Helper()
	root := corpus.Root()
	if root == "" {
		return nil
	}
	var out [][]byte
	for _, name := range []string{"surevego_eve.json", "surevego_eve_broken.json"} {
		data, err := os.ReadFile(filepath.Join(root, "suricata-eve", name))
		if err != nil {
			continue
		}
		for i, l := range bytes.Split(data, []byte("\n")) {
			if i < 40 || i%10 == 0 {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		``, ` `, `{}`, `[]`, ` {"a" : [1, -2.5e+3, true, false, null, "x"]} `, `"\u00e9\n\"\\\/\b\f\r\t"`,
		`{"a":1,}`, `[1,]`, `{"a"}`, `{"a":}`, `{1:2}`, `[1 2]`, `{"a":1}}`, `{"a":1`, `[`, `]`,
		`01`, `-`, `-0`, `1.`, `.5`, `1e`, `1e+`, `1E-7`, `tru`, `nul`, `falsey`, `"abc`, `"a\x"`,
		`"\u12g4"`, "\"tab\there\"", "\"\xff\xfe invalid utf-8 is accepted\"", `{"a":{"b":{"c":[[[{}]]]}}}`,
		`"0123456789abcdef0123456789abcdef"`, `"0123456789abcdef\"0123456789abcdef"`, `{"k":"v"} {"k":"v"}`,
		"{\"a\":\n1}", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	}
	inputs := make([][]byte, 0, len(cases))
	for _, c := range cases {
		inputs = append(inputs, []byte(c))
	}
	inputs = append(inputs, realJSONLines(t)...)
	valid := 0
	for _, in := range inputs {
		want := json.Valid(in)
		if got := validJSON(in); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid says %v", in, got, want)
		}
		if want {
			valid++
		}
	}
	if valid == 0 || valid == len(inputs) {
		t.Fatalf("%d of %d inputs valid: the table must hold both kinds", valid, len(inputs))
	}
}

// FuzzValidJSON holds validJSON to encoding/json.Valid on any input.
func FuzzValidJSON(f *testing.F) {
	for _, l := range realJSONLines(f) {
		f.Add(l)
	}
	f.Add([]byte(`{"vigil":{"incident":{"id":"x"}},"triage":{"confidence":0.72,"notes":"## What\n\"q\" \u00e9"}}`))
	f.Add([]byte(`[1,-0.5e10,true,null,{"a":[]}]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := validJSON(in), json.Valid(in); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid says %v", in, got, want)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	lines := realJSONLines(b)
	if len(lines) == 0 {
		b.Skip("corpus absent")
	}
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, l := range lines {
			validJSON(l)
		}
	}
}
