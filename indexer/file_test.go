package indexer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-siem/vigil/indexer"
	"github.com/vigil-siem/vigil/triage"
)

func newFileSink(t *testing.T, dir string) *indexer.FileSink {
	t.Helper()
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestFileSinkPutsEachKindInItsFile(t *testing.T) {
	att := sshAttempts(t)[:30]
	dir := filepath.Join(t.TempDir(), "out") // created by the sink
	s := newFileSink(t, dir)
	var docs []indexer.Doc
	for _, a := range att {
		docs = append(docs, alertDoc(t, a), verdictDoc(t, a, triage.Suspicious))
	}
	failed, err := s.Write(context.Background(), docs)
	if err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	// Durable on return: readable before Close.
	for _, tc := range []struct {
		file string
		kind string
	}{{indexer.AlertsFile, indexer.KindAlert}, {indexer.VerdictsFile, indexer.KindVerdict}} {
		got, err := indexer.ReadLatest(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var want []indexer.Doc
		for _, d := range docs {
			if d.Kind == tc.kind {
				want = append(want, d)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d documents, want %d", tc.file, len(got), len(want))
		}
		for i := range want {
			if !sameJSON(t, got[i], want[i].Body) {
				t.Errorf("%s[%d] = %s, want %s", tc.file, i, got[i], want[i].Body)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFileSinkCloseKeepsLatestLinePerID(t *testing.T) {
	att := sshAttempts(t)
	a, b := att[0], att[1]
	dir := t.TempDir()
	s := newFileSink(t, dir)
	ctx := context.Background()
	batches := [][]indexer.Doc{
		{verdictDoc(t, a, triage.Inconclusive), verdictDoc(t, b, triage.Benign)},
		{verdictDoc(t, a, triage.Malicious)}, // re-triage of a's incident
	}
	for _, batch := range batches {
		if failed, err := s.Write(ctx, batch); err != nil || len(failed) != 0 {
			t.Fatalf("Write: failed=%v err=%v", failed, err)
		}
	}
	path := filepath.Join(dir, indexer.VerdictsFile)
	if n := countLines(t, path); n != 3 {
		t.Fatalf("before Close: %d lines, want 3 (appends only)", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countLines(t, path); n != 2 {
		t.Fatalf("after Close: %d lines, want one per id (2)", n)
	}
	got, err := indexer.ReadLatest(path)
	if err != nil {
		t.Fatal(err)
	}
	// First-seen order, latest content.
	if v := verdictOf(t, got[0]); v != triage.Malicious {
		t.Errorf("incident a: verdict %q, want the re-triaged %q", v, triage.Malicious)
	}
	if v := verdictOf(t, got[1]); v != triage.Benign {
		t.Errorf("incident b: verdict %q, want %q", v, triage.Benign)
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.compact-*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}

	// Reopening appends to the compacted file.
	s = newFileSink(t, dir)
	if _, err := s.Write(ctx, []indexer.Doc{verdictDoc(t, b, triage.FalsePositive)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err = indexer.ReadLatest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || verdictOf(t, got[0]) != triage.Malicious || verdictOf(t, got[1]) != triage.FalsePositive {
		t.Errorf("after reopen: %d docs, want a=malicious, b=false_positive", len(got))
	}
}

func TestFileSinkReturnsUnstorableDocsAsFailed(t *testing.T) {
	a := sshAttempts(t)[0]
	good := verdictDoc(t, a, triage.Suspicious)
	tests := []struct {
		name   string
		doc    indexer.Doc
		reason string
	}{
		{"unknown kind", indexer.Doc{Kind: "incident", ID: good.ID, Body: good.Body}, `unknown document kind "incident"`},
		{"not JSON", indexer.Doc{Kind: indexer.KindVerdict, ID: "x", Body: []byte(`{"vigil":`)}, "not valid JSON"},
		{"not an object", indexer.Doc{Kind: indexer.KindAlert, ID: "x", Body: []byte(`["x"]`)}, "not a JSON object"},
		{"no id in body", indexer.Doc{Kind: indexer.KindVerdict, ID: "x", Body: []byte(`{"triage":{"verdict":"benign"}}`)}, "no vigil.incident.id"},
		{"id differs", indexer.Doc{Kind: indexer.KindVerdict, ID: "other", Body: good.Body}, "differs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newFileSink(t, dir)
			failed, err := s.Write(context.Background(), []indexer.Doc{tc.doc, good})
			if err != nil {
				t.Fatal(err)
			}
			if len(failed) != 1 || !strings.Contains(failed[0].Reason, tc.reason) {
				t.Fatalf("failed = %+v, want one with reason containing %q", failed, tc.reason)
			}
			if !bytes.Equal(failed[0].Doc.Body, tc.doc.Body) || failed[0].Doc.Kind != tc.doc.Kind {
				t.Errorf("failed doc is not the one written: %+v", failed[0].Doc)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := indexer.ReadLatest(filepath.Join(dir, indexer.VerdictsFile))
			if err != nil || len(got) != 1 || !sameJSON(t, got[0], good.Body) {
				t.Fatalf("the good document beside it was not stored: %d docs, err %v", len(got), err)
			}
		})
	}
}

func TestFileSinkPrettyBodyStaysOneLine(t *testing.T) {
	d := verdictDoc(t, sshAttempts(t)[0], triage.Benign)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, d.Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	d.Body = pretty.Bytes()
	dir := t.TempDir()
	s := newFileSink(t, dir)
	if failed, err := s.Write(context.Background(), []indexer.Doc{d}); err != nil || len(failed) != 0 {
		t.Fatalf("Write: failed=%v err=%v", failed, err)
	}
	if n := countLines(t, filepath.Join(dir, indexer.VerdictsFile)); n != 1 {
		t.Fatalf("%d lines for one document", n)
	}
	_ = s.Close()
}

func TestFileSinkCutsTornLastLine(t *testing.T) {
	att := sshAttempts(t)
	dir := t.TempDir()
	path := filepath.Join(dir, indexer.VerdictsFile)
	whole := verdictDoc(t, att[0], triage.Benign)
	torn := verdictDoc(t, att[1], triage.Benign)
	// A crash in the middle of a write left half a line.
	content := append(append(append([]byte{}, whole.Body...), '\n'), torn.Body[:len(torn.Body)/2]...)
	if err := os.WriteFile(path, content, 0o640); err != nil {
		t.Fatal(err)
	}
	s := newFileSink(t, dir)
	if _, err := s.Write(context.Background(), []indexer.Doc{torn}); err != nil { // the replay
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := indexer.ReadLatest(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !sameJSON(t, got[1], torn.Body) {
		t.Fatalf("got %d docs after repair and replay, want 2", len(got))
	}
}

func TestReadLatest(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string // ids in order, with the latest value of "v"
		wantErr string
	}{
		{
			name: "latest per id in first-seen order",
			content: `{"vigil":{"incident":{"id":"i1"}},"v":1}
{"vigil":{"incident":{"id":"i2"}},"v":1}
{"vigil":{"incident":{"id":"i1"}},"v":2}
`,
			want: []string{"i1=2", "i2=1"},
		},
		{
			name:    "alert ids and dotted keys, blank lines, no final newline",
			content: "{\"vigil\":{\"alert\":{\"id\":\"a1\"}},\"v\":1}\n\n{\"vigil.alert.id\":\"a1\",\"v\":3}\n{\"vigil.incident\":{\"id\":\"i9\"},\"v\":4}",
			want:    []string{"a1=3", "i9=4"},
		},
		{
			name:    "corrupt line",
			content: "{\"vigil\":{\"incident\":{\"id\":\"i1\"}},\"v\":1}\n\n{\"vigil\":{\"incid\n",
			wantErr: "verdicts.ndjson:3: not a JSON object",
		},
		{
			name:    "array line",
			content: "[1,2]\n",
			wantErr: "verdicts.ndjson:1: not a JSON object",
		},
		{
			name:    "line without id",
			content: "{\"vigil\":{\"incident\":{\"id\":\"i1\"}}}\n{\"vigil\":{\"incident\":{\"id\":\"\"}}}\n",
			wantErr: "verdicts.ndjson:2: document has no vigil.incident.id or vigil.alert.id",
		},
		{
			name:    "empty file",
			content: "",
			want:    nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "verdicts.ndjson")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			docs, err := indexer.ReadLatest(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				var v struct {
					V     int            `json:"v"`
					Vigil map[string]any `json:"vigil"`
				}
				if err := json.Unmarshal(d, &v); err != nil {
					t.Fatal(err)
				}
				got = append(got, idOfTestDoc(t, d)+"="+itoa(v.V))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := indexer.ReadLatest(filepath.Join(t.TempDir(), "missing.ndjson")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist", err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// idOfTestDoc extracts the id the same ways ReadLatest accepts, written
// independently here.
func idOfTestDoc(t *testing.T, d json.RawMessage) string {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(d, &m)
	for _, k := range []string{"vigil.alert.id", "vigil.incident.id"} {
		if s, ok := m[k].(string); ok {
			return s
		}
	}
	if inc, ok := m["vigil.incident"].(map[string]any); ok {
		return inc["id"].(string)
	}
	vigil, _ := m["vigil"].(map[string]any)
	for _, k := range []string{"incident", "alert"} {
		if o, ok := vigil[k].(map[string]any); ok {
			return o["id"].(string)
		}
	}
	return ""
}

func TestNewFileSinkNeedsDir(t *testing.T) {
	if _, err := indexer.NewFileSink(indexer.FileConfig{}); err == nil || !strings.Contains(err.Error(), "index.output_dir") {
		t.Fatalf("err = %v, want one naming index.output_dir", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := indexer.NewFileSink(indexer.FileConfig{Dir: file}); err == nil {
		t.Fatal("a regular file as directory: no error")
	}
}

func TestFileSinkHonoursCancelledContext(t *testing.T) {
	dir := t.TempDir()
	s := newFileSink(t, dir)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Write(ctx, []indexer.Doc{verdictDoc(t, sshAttempts(t)[0], triage.Benign)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := countLines(t, filepath.Join(dir, indexer.VerdictsFile)); n != 0 {
		t.Fatalf("%d lines written by a cancelled Write", n)
	}
}

// FuzzReadLatest feeds arbitrary file contents to ReadLatest, seeded with
// verdict and alert lines built from the real OpenSSH log.
func FuzzReadLatest(f *testing.F) {
	att := sshAttempts(f)
	for i := range 3 {
		v := verdictDoc(f, att[i], triage.Suspicious)
		a := alertDoc(f, att[i])
		f.Add(append(append(append(v.Body, '\n'), a.Body...), '\n'))
	}
	f.Add([]byte("{\"vigil.incident.id\":\"x\"}\n{\"vigil\":{\"incident\":{\"id\":1}}}\n"))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.ndjson")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		docs, err := indexer.ReadLatest(path)
		if err != nil {
			if !strings.Contains(err.Error(), path+":") {
				t.Fatalf("error does not name file and line: %v", err)
			}
			return
		}
		if len(docs) > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d documents from %d lines", len(docs), bytes.Count(data, []byte("\n"))+1)
		}
		for _, d := range docs {
			if !json.Valid(d) {
				t.Fatalf("invalid JSON returned: %q", d)
			}
		}
	})
}

func BenchmarkFileSink(b *testing.B) {
	att := sshAttempts(b)
	const batch = 500
	docs := make([]indexer.Doc, 0, batch)
	size := 0
	for i := range batch {
		d := verdictDoc(b, att[i%len(att)], triage.Suspicious)
		d.ID, d.Body = uniqueVerdict(b, d, i)
		docs = append(docs, d)
		size += len(d.Body)
	}
	s, err := indexer.NewFileSink(indexer.FileConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := s.Write(context.Background(), docs); err != nil {
			b.Fatal(err)
		}
		n += len(docs)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
	b.ReportMetric(float64(size)/batch, "bytes/doc")
	b.StopTimer()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
}

// uniqueVerdict gives a verdict document a distinct incident id.
func uniqueVerdict(tb testing.TB, d indexer.Doc, i int) (string, []byte) {
	tb.Helper()
	var v triage.Verdict
	if err := json.Unmarshal(d.Body, &v); err != nil {
		tb.Fatal(err)
	}
	v.Vigil.Incident.ID = d.ID[:24] + string(rune('a'+i%26)) + itoa(i)
	body, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return v.ID(), body
}
